"""The back office (管理后台): a server-rendered web application for operators.

``admin.app.create_app(container)`` builds it; ``redeemflow admin`` serves it. Handlers
parse the request, call ``core.backoffice`` services and render Jinja2 templates; they hold
no SQL and no business rules. See docs/admin.md.
"""
