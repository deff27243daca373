"""Export N unexported codes of a campaign to an .xlsx or .csv file, in one transaction.

    preflight count -> number the export (id_sequences, its own transaction)
    -> [BEGIN (READ COMMITTED)
        repeat: lock a chunk FOR UPDATE SKIP LOCKED -> write its rows (on a thread of
                their own with export_writer_thread) -> mark it exported (export_status,
                export_seq: fixed-width columns, changed in place)
        fewer than N locked? -> refuse (rollback, delete the file)
        close + fsync + sha256 the file -> insert the export_batches audit row
    COMMIT] -> rename the file into place

"Who generates, exports" (seed 002 §5): an account exports only codes it generated unless
``override_owner`` (recorded in the audit row). Exported codes leave the Redis pool so they
are never allocated; allocation in turn binds ``user_id``, which every export excludes.

Public interface (the CLI and the back office both use it):

* :func:`export_codes` writes the file and returns an :class:`ExportResult` (audit id,
  path, sha256, count, seconds); ``progress(done, total)`` is called on the caller's
  thread after each chunk is marked.
* :func:`read_chunks` (``core.export.read_chunks``) then yields the committed file in
  64 KiB blocks, for a streaming web response (``remove=True`` deletes it when the response
  ends or the client goes away). Bytes are only ever served from a *committed* export:
  streaming rows before the commit could hand out codes that a failed commit leaves
  unmarked, i.e. exportable again. So a download is: ``export_codes`` to a private path
  (the browser sees ``progress``), then ``read_chunks(result.path, remove=True)``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from core.codes.protection import CodeProtector
from core.errors import (
    CacheUnavailable,
    ExportRefused,
    StorageUnavailable,
    UnknownCampaign,
)
from core.export import files
from core.export.phases import PhaseClock
from core.export.pipe import BackgroundWriter, InlineWriter, chunk_sink
from core.export.reveal import RevealingWriter
from core.export.writers import ExportFormat, open_writer
from core.records import ExportBatchRecord, ExportMark, ExportRow
from core.service_ports import AllocationPool, Storage, StoreTx
from schemas.campaign import CampaignRule

ProgressFn = Callable[[int, int], None]
DEFAULT_CHUNK = 5_000


class NotEnoughCodes(ExportRefused):
    """Fewer exportable codes than asked for; nothing was exported."""

    def __init__(self, message: str, *, requested: int, available: int) -> None:
        super().__init__(message)
        self.requested = requested
        self.available = available


@dataclass(frozen=True)
class Exporter:
    """The ports an export uses (built by ``core.bootstrap``)."""

    store: Storage
    bulk: Storage
    """The export transaction's storage (on the bulk engine: the C driver when installed)."""
    pool: AllocationPool
    writer_thread: bool
    """Write the file on a thread of its own (``export_writer_thread``)."""
    protector: CodeProtector
    """Opens each exported code's seal (MySQL keeps no code in clear)."""


@dataclass(frozen=True)
class ExportJob:
    """What to export, by whom, to where."""

    tenant_id: str
    campaign_id: str
    account_id: str
    count: int
    file_format: ExportFormat
    output: Path
    override_owner: bool = False
    chunk_size: int = DEFAULT_CHUNK

    @property
    def owner_filter(self) -> str | None:
        """The generator the codes must come from (None with the override)."""
        return None if self.override_owner else self.account_id


@dataclass(frozen=True)
class ExportResult:
    """A committed export: the audit id, the file and how long it took."""

    export_id: str
    tenant_id: str
    campaign_id: str
    account_id: str
    count: int
    file_format: str
    path: str
    sha256: str
    owner_override: bool
    seconds: float
    pool_synced: bool
    phases: dict[str, dict[str, float]] = field(default_factory=dict)
    """Wall and thread-CPU seconds per phase (:class:`core.export.phases.PhaseClock`)."""

    @property
    def rows_per_second(self) -> float:
        """Codes exported per second."""
        return self.count / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Progress:
    mark: ExportMark
    """The export's number (``export_batches.seq``) as marked on its codes."""
    clock: PhaseClock
    written: int = 0
    low_id: int = 0
    high_id: int = 0
    pool_synced: bool = True


def export_codes(
    ports: Exporter,
    tenant_id: str,
    campaign_id: str,
    account_id: str,
    count: int,
    file_format: ExportFormat | str,
    output: Path | str,
    *,
    override_owner: bool = False,
    progress: ProgressFn | None = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> ExportResult:
    """Export ``count`` codes to ``output`` and mark them exported by ``account_id``.

    Raises ExportRefused (NotEnoughCodes with the numbers; output exists), UnknownCampaign,
    StorageUnavailable. On any failure nothing is marked and no file is left at ``output``.
    """
    job = ExportJob(tenant_id, campaign_id, account_id, count, ExportFormat(file_format),
                    Path(output).resolve(), override_owner, chunk_size)
    started = time.perf_counter()
    clock = PhaseClock()
    with clock.phase("preflight"):
        reward = _reward_text(ports, job)
        _preflight(ports, job)
        with ports.store.begin("number the export") as tx:  # own transaction: no waiting on it
            seq = tx.reserve_export_seq()
    export_id = f"exp-{uuid.uuid4().hex}"
    temp = files.temp_path(job.output, export_id)
    state = _Progress(ExportMark(tenant_id, campaign_id, seq), clock)
    try:
        sha = _run(ports, job, export_id, reward, temp, state, progress)
    except BaseException:
        files.discard(temp)
        _repair_pool(ports, job, state)
        raise
    files.publish(temp, job.output)
    return ExportResult(export_id, tenant_id, campaign_id, account_id, count,
                        job.file_format.value, str(job.output), sha, override_owner,
                        time.perf_counter() - started, state.pool_synced,
                        state.clock.figures())


def _reward_text(ports: Exporter, job: ExportJob) -> str:
    with ports.store.read("read campaign") as tx:
        campaign = tx.get_campaign(job.campaign_id, tenant_id=job.tenant_id)
    if campaign is None:
        raise UnknownCampaign(f"tenant {job.tenant_id} has no campaign {job.campaign_id}")
    rule = CampaignRule.model_validate(campaign.rule)
    return "; ".join(
        f"{r.type.value}:{r.id}" + (f" x{r.quantity}" if r.quantity > 1 else "")
        for r in rule.reward_rules
    )


def _preflight(ports: Exporter, job: ExportJob) -> None:
    if job.count < 1:
        raise ExportRefused("an export needs a count of at least 1")
    if job.output.exists():
        raise ExportRefused(f"{job.output} already exists; choose a new file name")
    if not job.output.parent.is_dir():
        raise ExportRefused(f"directory {job.output.parent} does not exist")

    with ports.store.read("count exportable codes") as tx:  # enough? (stops at count)
        mine = tx.count_exportable(job.tenant_id, job.campaign_id, job.owner_filter, job.count)
        if mine >= job.count:
            return
        total = mine if job.override_owner else tx.count_exportable(
            job.tenant_id, job.campaign_id, None)
    message = (f"cannot export {job.count:,} codes of campaign {job.campaign_id}: only "
               f"{mine:,} unexported codes")
    if job.override_owner:
        message += " are left"
    else:
        message += f" generated by account {job.account_id} are left"
        if total > mine:
            message += (f" ({total - mine:,} more were generated by other accounts; an admin "
                        "may take them with --override-owner)")
    raise NotEnoughCodes(message, requested=job.count, available=mine)


def _run(ports: Exporter, job: ExportJob, export_id: str, reward: str, temp: Path,
         state: _Progress, progress: ProgressFn | None) -> str:
    """The transaction; on an ambiguous commit error the audit row tells what happened."""
    sha: list[str] = []

    try:
        # "transaction": all of it, the other phases split it; minus them: BEGIN and COMMIT
        with state.clock.phase("transaction"), \
                ports.bulk.begin_read_committed("export codes") as tx:
            sha.append(_fill(tx, ports, job, export_id, reward, temp, state, progress))
        # leaving the block committed; the audit row is now durable with the file's hash
    except StorageUnavailable:
        if not sha or not _committed(ports, export_id):
            raise
    return sha[0]


def _fill(tx: StoreTx, ports: Exporter, job: ExportJob, export_id: str,
          reward: str, temp: Path, state: _Progress, progress: ProgressFn | None) -> str:
    now = datetime.now(UTC).replace(tzinfo=None)
    clock = state.clock
    writer = RevealingWriter(open_writer(job.file_format, temp), ports.protector,
                             job.tenant_id, job.campaign_id, reward, export_id, clock)
    with chunk_sink(writer, threaded=ports.writer_thread) as sink:
        _stream(tx, ports, job, sink, state, progress)
        with clock.phase("drain"):
            sink.finish()
    if state.written < job.count:
        raise NotEnoughCodes(
            f"cannot export {job.count:,} codes of campaign {job.campaign_id}: only "
            f"{state.written:,} could be reserved (others are being exported or allocated "
            "right now); nothing was exported",
            requested=job.count, available=state.written)
    with clock.phase("fsync+hash"):
        sha = files.fsync_and_hash(temp)
    with clock.phase("audit"):
        tx.insert_export_batch(ExportBatchRecord(
            export_id, job.tenant_id, job.campaign_id, job.account_id, job.override_owner,
            state.written, job.file_format.value, _file_name(job.output), sha, now,
            state.mark.seq))
    return sha


def _stream(tx: StoreTx, ports: Exporter, job: ExportJob,
            sink: BackgroundWriter[ExportRow] | InlineWriter[ExportRow], state: _Progress,
            progress: ProgressFn | None) -> None:
    """Lock a chunk, hand it to the file, mark it, until ``job.count`` or nothing is left."""
    campaign, clock = job.campaign_id, state.clock
    after = 0
    while state.written < job.count:
        want = min(job.chunk_size, job.count - state.written)
        with clock.phase("lock"):
            rows = tx.lock_chunk(job.tenant_id, campaign, job.owner_filter, after, want)
        if not rows:
            return
        with clock.phase("handoff"):  # inline: the reveal and write phases run in here
            sink.submit(rows)
        ids = [r.row_id for r in rows]
        with clock.phase("mark"):
            tx.mark_exported(state.mark, ids)
        state.low_id = state.low_id or ids[0]
        state.written, after = state.written + len(rows), ids[-1]
        state.high_id = after
        with clock.phase("pool"):
            synced = _leave_pool(ports.pool, job, [r.code for r in rows])
        state.pool_synced = synced and state.pool_synced
        if progress is not None:
            progress(state.written, job.count)


def _leave_pool(pool: AllocationPool, job: ExportJob, codes: list[str]) -> bool:
    """Take exported codes out of the allocation pool (best effort: allocation re-checks)."""
    try:
        pool.remove(job.tenant_id, job.campaign_id, codes)
    except CacheUnavailable:
        return False
    return True


def _repair_pool(ports: Exporter, job: ExportJob, state: _Progress) -> None:
    """After a rollback, put the still-free codes this export took out back into the pool."""
    if not state.high_id:
        return
    after = state.low_id - 1
    try:
        while True:
            with ports.store.read("repair pool") as tx:
                page = tx.free_codes_page(job.tenant_id, job.campaign_id, after,
                                          state.high_id, DEFAULT_CHUNK)
            if not page:
                return
            ports.pool.add(job.tenant_id, job.campaign_id, [code for _, code in page])
            after = page[-1][0]
    except Exception:  # noqa: BLE001 - best effort: the MySQL fallback still finds them
        return


def _committed(ports: Exporter, export_id: str) -> bool:
    try:
        with ports.store.read("check export commit") as tx:
            return tx.get_export_batch(export_id) is not None
    except StorageUnavailable:
        return False


def _file_name(output: Path) -> str:
    name = str(output)
    return name if len(name) <= 255 else output.name[-255:]
