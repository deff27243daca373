"""The back office's domain: operators, their sessions, the audit log and the operator views.

Entry point ``admin/`` (the web application) and ``cli/operator.py`` call these services;
the services reach MySQL only through the ports of ``core.backoffice.ports``.
"""
