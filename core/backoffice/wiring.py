"""The back office: its services, built over the ports by ``Container.backoffice``."""

from __future__ import annotations

from dataclasses import dataclass

from core.backoffice.audit import Audit
from core.backoffice.counts import CountsCache
from core.backoffice.jobs import GenerationJobs
from core.backoffice.operators import Operators
from core.backoffice.ports import BackOfficeServices, OperatorStore
from core.backoffice.sessions import Sessions


@dataclass
class BackOffice:
    """Operators, sessions, the audit log, background generation, and the services its
    pages call."""

    operator_store: OperatorStore
    operators: Operators
    sessions: Sessions
    audit: Audit
    jobs: GenerationJobs
    counts: CountsCache
    services: BackOfficeServices

    def close(self) -> None:
        """Let running generation jobs finish their chunk and stop."""
        self.jobs.close()
