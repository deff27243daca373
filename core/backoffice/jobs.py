"""Background code generation for the back office, with progress a page can poll.

A job runs ``core.generation.generate_codes`` in a worker thread of this process (the
operator's request returns at once); each committed chunk moves ``done``. The generation
account is the signed-in operator. Jobs live in memory: after a restart the batch itself
is still in ``code_batches`` (RUNNING ones are resumed with ``redeemflow codes generate
--resume``), only the progress bar is gone.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import orjson
from pydantic import ValidationError

from core.backoffice.audit import Audit, utc_now
from core.backoffice.campaigns import campaign_for, require
from core.backoffice.counts import CountsCache
from core.backoffice.errors import InvalidInput
from core.backoffice.model import Permission, Principal
from core.backoffice.ports import BackOfficeServices
from core.errors import DomainRuleViolation, NotFound, RedeemflowError
from schemas.campaign import MAX_CODES_PER_REQUEST
from schemas.code_rule import CodeGenerateRule

_KEEP = 200


@dataclass
class GenerationJob:
    """One background generation and how far it got."""

    job_id: str
    tenant_id: str
    campaign_id: str
    operator_email: str
    requested: int
    done: int = 0
    status: str = "running"  # running, done, failed
    message: str = ""
    batch_id: str | None = None
    started_at: datetime | None = None

    @property
    def percent(self) -> int:
        """Progress in whole percent (100 only once the job is done)."""
        if self.status == "done":
            return 100
        return min(99, self.done * 100 // max(1, self.requested))

    def as_dict(self) -> dict[str, object]:
        """What the progress bar polls."""
        return {"job_id": self.job_id, "campaign_id": self.campaign_id, "done": self.done,
                "requested": self.requested, "status": self.status, "percent": self.percent,
                "message": self.message}


def chunk_for(count: int) -> int:
    """Codes per committed chunk: about 20 progress steps, 1,000 to 50,000 codes each."""
    return max(1_000, min(50_000, count // 20))


def parse_count(text: str, most: int) -> int:
    """The count field of a form: a whole number from 1 to ``most``."""
    try:
        count = int(text.strip())
    except ValueError as exc:
        raise InvalidInput("the count must be a whole number", field="count") from exc
    if not 1 <= count <= most:
        raise InvalidInput(f"the count must be 1 to {most:,}", field="count")
    return count


def parse_rule(raw: str) -> CodeGenerateRule | None:
    """The optional code rule JSON of the generate form (empty: the campaign's rule)."""
    if not raw.strip():
        return None
    if len(raw) > 4096:
        raise InvalidInput("the code rule may have at most 4,096 characters", field="rule")
    try:
        return CodeGenerateRule.model_validate(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the code rule is not valid JSON: {exc}", field="rule") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidInput(f"{where}: {first.get('msg')}" if where else str(first.get("msg")),
                           field="rule") from exc


class GenerationJobs:
    """Runs generation jobs on a small thread pool and remembers the latest ones."""

    def __init__(self, services: BackOfficeServices, audit: Audit, counts: CountsCache,
                 workers: int = 2) -> None:
        self._services = services
        self._audit = audit
        self._counts = counts
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="generate")
        self._jobs: OrderedDict[str, GenerationJob] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, principal: Principal, campaign_id: str, count_text: str,
              rule_text: str = "") -> GenerationJob:
        """Check the form, then start generating in the background."""
        require(principal, Permission.WORK)
        campaign = campaign_for(self._services, principal, campaign_id)
        count = parse_count(count_text, MAX_CODES_PER_REQUEST)
        rule = parse_rule(rule_text)
        job = GenerationJob(f"g{secrets.token_hex(8)}", campaign.tenant_id, campaign.campaign_id,
                            principal.email, count, started_at=utc_now())
        with self._lock:
            self._jobs[job.job_id] = job
            while len(self._jobs) > _KEEP:
                self._jobs.popitem(last=False)
        self._audit.record(principal, "generate", target=campaign.campaign_id,
                           detail=f"{count} codes; job {job.job_id}", tenant_id=campaign.tenant_id)
        self._pool.submit(self._run, job, principal.operator_id, rule)
        return job

    def _run(self, job: GenerationJob, account_id: str, rule: CodeGenerateRule | None) -> None:
        def progress(done: int, total: int) -> None:
            job.done = done

        try:
            result = self._services.generation.generate_codes(
                job.tenant_id, job.campaign_id, job.requested, rule=rule, account_id=account_id,
                progress=progress, chunk_size=chunk_for(job.requested))
        except DomainRuleViolation as exc:
            job.status, job.message = "failed", str(exc)[:300]
            return
        except RedeemflowError as exc:  # its text may quote SQL parameters (codes): not shown
            job.status = "failed"
            job.message = (f"{exc.__class__.__name__}: the batch stopped; committed chunks stay"
                           " and `redeemflow codes generate --resume BATCH` finishes it")
            return
        except Exception as exc:  # a background thread must report, not vanish
            job.status, job.message = "failed", f"unexpected error: {exc.__class__.__name__}"
            raise
        finally:
            self._counts.forget()
        job.batch_id, job.done = result.batch_id, result.written_now
        job.status = "done"
        job.message = f"{result.written_now:,} codes in {result.seconds:.1f}s"

    def get(self, principal: Principal, job_id: str) -> GenerationJob:
        """A job the principal may see (its tenant's, or any for a platform operator)."""
        job = self._jobs.get(job_id)
        if job is None or (principal.tenant_id is not None and job.tenant_id !=
                           principal.tenant_id):
            raise NotFound("no such generation job")
        return job

    def recent(self, principal: Principal) -> list[GenerationJob]:
        """The principal's scope's jobs, newest first."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [j for j in reversed(jobs)
                if principal.tenant_id is None or j.tenant_id == principal.tenant_id]

    def close(self) -> None:
        """Wait for running jobs (they commit chunk by chunk) and stop the pool."""
        self._pool.shutdown(wait=True, cancel_futures=True)
