"""The back office's services over the MySQL adapters (built by ``Container.backoffice``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.adapters.mysql.audit_store import MySQLAuditStore
from core.adapters.mysql.operator_store import MySQLOperatorStore
from core.adapters.mysql.session_store import MySQLSessionStore
from core.backoffice.audit import Audit
from core.backoffice.counts import CountsCache
from core.backoffice.jobs import GenerationJobs
from core.backoffice.operators import Operators
from core.backoffice.ports import OperatorStore
from core.backoffice.sessions import Sessions

if TYPE_CHECKING:
    from core.bootstrap import Container


@dataclass
class BackOffice:
    """Operators, sessions, the audit log and background generation, sharing one container."""

    operator_store: OperatorStore
    operators: Operators
    sessions: Sessions
    audit: Audit
    jobs: GenerationJobs
    counts: CountsCache

    def close(self) -> None:
        """Let running generation jobs finish their chunk and stop."""
        self.jobs.close()


def build_backoffice(container: Container) -> BackOffice:
    """Wire the back office's services to MySQL."""
    operator_store = MySQLOperatorStore(container.engine)
    session_store = MySQLSessionStore(container.engine)
    audit = Audit(MySQLAuditStore(container.engine))
    counts = CountsCache(container.settings.admin_counts_cache_seconds)
    return BackOffice(
        operator_store=operator_store,
        operators=Operators(operator_store, session_store, audit, container.settings),
        sessions=Sessions(session_store, operator_store, container.settings),
        audit=audit,
        jobs=GenerationJobs(container, audit, counts),
        counts=counts,
    )
