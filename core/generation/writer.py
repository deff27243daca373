"""The chunk pipeline of a generation batch: MySQL commit, then Redis, overlapped.

Each chunk reserves a range of row ids (a short transaction of its own), then is one MySQL
transaction: lock the batch row, LOAD DATA the codes (IGNORE), replace any code the tenant
already had until the chunk is complete, then count the chunk in ``code_batches.inserted``
and ``tenants.codes_issued``. Only committed codes are written
to Redis, so the cache never holds a code MySQL does not know.

Three things overlap: the caller's thread draws chunk k+1 while one worker thread loads
chunk k into MySQL and another writes chunk k-1 to Redis (pymysql and redis-py release the
GIL while they wait on their sockets).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.engine import Connection, Engine

from core.adapters.mysql import code_store
from core.adapters.mysql.code_store import RowTemplate
from core.adapters.mysql.engine import guarded
from core.adapters.mysql.tenant_store import add_codes_issued
from core.adapters.redis.code_loader import CodeLoader
from core.errors import CodeSpaceTooSmall, PermanentError
from core.metrics import CODES_GENERATED

#: Called with (codes done, codes requested) after each chunk reaches MySQL and Redis.
ProgressFn = Callable[[int, int], None]
#: Draws ``n`` fresh codes to replace ones the tenant already had.
ReplaceFn = Callable[[int], list[str]]

#: Replacement rounds inside one chunk before giving up (each round is astronomically rare).
MAX_REPLACEMENT_ROUNDS = 20


@dataclass(frozen=True)
class BatchPlan:
    """What the writer needs: row template, the batch's size and what is already committed."""

    template: RowTemplate
    code_type: str
    use_limit: int
    requested: int
    already: int


@dataclass(frozen=True)
class WriteOutcome:
    """Codes committed by this run and duplicates of existing codes that were replaced."""

    written: int
    collisions: int


def reserve_ids(engine: Engine, count: int) -> int:
    """The first of ``count`` fresh row ids, in a transaction of its own (so concurrent
    batches never wait on the counter for a whole chunk)."""

    def work() -> int:
        with engine.begin() as conn:
            return code_store.reserve_code_ids(conn, count)

    return guarded("reserve code ids", work)


def commit_chunk(
    engine: Engine, plan: BatchPlan, codes: list[str], replace: ReplaceFn
) -> tuple[list[str], int]:
    """Commit one complete chunk in one transaction; returns (codes stored, collisions).

    The codes are inserted in sorted order with ascending ids: the primary key grows at its
    end and the unique (tenant_id, code) index is written in one pass over its pages, which
    measured 15-20 % faster than random order.
    """
    template = plan.template
    first_id = reserve_ids(engine, len(codes))
    ordered = sorted(codes)

    def work() -> tuple[list[str], int]:
        with engine.begin() as conn:
            batch = code_store.get_batch(conn, template.batch_id, lock=True)
            if batch is None or batch.status != code_store.RUNNING:
                state = batch.status if batch else "missing"
                raise PermanentError(f"batch {template.batch_id} is {state}, not RUNNING")
            if batch.inserted + len(codes) > batch.requested:
                raise PermanentError(
                    f"batch {template.batch_id} would exceed {batch.requested} codes: "
                    "is another process writing it?"
                )
            stored, collisions = _insert_complete(conn, template, first_id, ordered, replace)
            code_store.add_inserted(conn, template.batch_id, len(stored))
            add_codes_issued(conn, template.tenant_id, len(stored))
            return stored, collisions

    return guarded("commit code chunk", work)


def _insert_complete(
    conn: Connection, template: RowTemplate, first_id: int, codes: list[str], replace: ReplaceFn
) -> tuple[list[str], int]:
    """Insert ``codes`` with ids from ``first_id`` on; the ones the tenant already had are
    replaced by fresh codes, which take the ids their rows left unused."""
    ids = range(first_id, first_id + len(codes))
    if code_store.load_codes(conn, template, zip(ids, codes, strict=True)) == len(codes):
        return codes, 0
    collisions = 0
    for _round in range(MAX_REPLACEMENT_ROUNDS):
        stored = code_store.rows_in_range(conn, template, ids[0], ids[-1])
        missing = len(codes) - len(stored)
        if missing <= 0:
            return [code for _id, code in stored], collisions
        collisions += missing
        free = sorted(set(ids).difference(row_id for row_id, _code in stored))
        code_store.load_codes(conn, template, zip(free, sorted(replace(missing)), strict=True))
    raise CodeSpaceTooSmall(
        f"could not find {len(codes)} new codes for tenant {template.tenant_id}: "
        "the code space is nearly used up"
    )


def write_chunks(
    engine: Engine,
    loader: CodeLoader,
    plan: BatchPlan,
    chunks: Iterable[list[str]],
    replace: ReplaceFn,
    progress: ProgressFn | None = None,
) -> WriteOutcome:
    """Commit every chunk to MySQL then Redis, overlapping generation, MySQL and Redis."""
    t = plan.template
    counter = CODES_GENERATED.labels(code_type=plan.code_type)
    done = plan.already
    written = collisions = 0
    in_cache: deque[tuple[Future[None], int]] = deque()

    with ThreadPoolExecutor(1, "rf-mysql") as db, ThreadPoolExecutor(1, "rf-redis") as cache:
        in_db: Future[tuple[list[str], int]] | None = None

        def settle_db(future: Future[tuple[list[str], int]]) -> None:
            nonlocal written, collisions
            stored, clashes = future.result()
            written += len(stored)
            collisions += clashes
            counter.inc(len(stored))
            job = cache.submit(loader.write_codes, t.tenant_id, t.campaign_id, plan.use_limit,
                               stored)
            in_cache.append((job, len(stored)))

        def settle_cache(keep: int) -> None:
            nonlocal done
            while len(in_cache) > keep:
                job, count = in_cache.popleft()
                job.result()
                done += count
                if progress is not None:
                    progress(done, plan.requested)

        for chunk in chunks:
            if in_db is not None:
                settle_db(in_db)
            settle_cache(1)
            in_db = db.submit(commit_chunk, engine, plan, chunk, replace)
        if in_db is not None:
            settle_db(in_db)
        settle_cache(0)
    return WriteOutcome(written, collisions)
