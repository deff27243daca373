"""Codes at rest (issue 20) against real MariaDB and Redis: nothing leaks into a dump, a
half-migrated database redeems from both halves, rotation, and bad keys or seals refused
with nothing written."""

from __future__ import annotations

import base64
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from core.adapters.code_keys import pending_rows, run_key_job
from core.adapters.mysql.engine import database_url
from core.adapters.mysql.migrate import upgrade
from core.allocation import allocate_code
from core.bootstrap import Container, bootstrap
from core.errors import KeyMaterialError, TamperedCode, UnknownCodeKey
from core.export import export_codes
from core.redemption.ids import request_fingerprint
from core.settings import Settings
from core.voiding import void_codes
from schemas.events import RedeemOutcome as O
from tests.code_support import PLAIN_CODE, code_key, lookup, reveal
from tests.integration.redeem_support import make_service, request, seed_campaign
from tests.integration.test_compensation import CrashPublisher, WorkerKilled, compensate, worker
from tests.integration.test_generation import make_campaign, make_tenant, rows

pytestmark = [pytest.mark.integration]


def _key(n: int) -> str:
    return base64.b64encode(bytes([n]) * 32).decode()


LOOKUP = _key(7)


@pytest.fixture()
def own_db(base_settings: Settings) -> Iterator[Callable[..., Container]]:
    """Containers over one new, migrated database and a Redis prefix of their own, each
    with the code keys given (so a test may change keys without touching the session's)."""
    name, prefix = f"rf_keys_{uuid.uuid4().hex[:10]}", f"rfk{uuid.uuid4().hex[:8]}"
    url = database_url(base_settings).set(database=name).render_as_string(hide_password=False)
    upgrade(create_engine(url, poolclass=NullPool))
    opened: list[Container] = []

    def build(**keys: object) -> Container:
        settings = Settings(database_url=url, redis_url=base_settings.redis_url,
                            redis_key_prefix=prefix, kafka_bootstrap_servers="127.0.0.1:1",
                            **keys)  # type: ignore[arg-type]
        built = bootstrap(settings).__enter__()
        opened.append(built)
        return built

    try:
        yield build
    finally:
        for built in opened:
            built.close()
        server = create_engine(database_url(base_settings).set(database=None), poolclass=NullPool)
        with server.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        client = opened[0].redis if opened else None
        if client is not None:
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            if keys:
                client.delete(*keys)


def _codes(container: Container, tenant: str, campaign: str) -> list[str]:
    found = rows(container, f"SELECT {PLAIN_CODE} FROM redeem_codes WHERE tenant_id = :t"
                 " AND campaign_id = :c ORDER BY id", t=tenant, c=campaign)
    return [reveal(container, r[0]) for r in found]


def _forms(code: str) -> set[str]:
    """The spellings a leak could take: case, dashes, spaces, groups of 3/4/5."""
    forms = {code, code.lower()}
    for size in (3, 4, 5):
        groups = [code[i:i + size] for i in range(0, len(code), size)]
        for sep in ("-", " "):
            forms |= {sep.join(groups), sep.join(groups).lower()}
    return forms


def _flat(text_: str) -> str:
    """A dump normalised like typed codes: upper case, no separators."""
    return re.sub(r"[\s\-_]", "", text_).upper()


def _redis_dump(container: Container) -> str:
    client, parts = container.redis, []
    for key in client.scan_iter(match=f"{container.keys.prefix}:*", count=1000):
        kind = client.type(key)
        value: object = {"string": client.get, "hash": client.hgetall, "set": client.smembers,
                         "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
                         "list": lambda k: client.lrange(k, 0, -1)}.get(kind, str)(key)
        parts.append(f"{key} {value!r}")
    return "\n".join(parts)


def _mysqldump(container: Container) -> str:
    url = database_url(container.settings)
    result = subprocess.run(
        ["mysqldump", "-h", url.host or "127.0.0.1", "-P", str(url.port or 3306),
         "-u", url.username or "root", "--skip-extended-insert", url.database or ""],
        capture_output=True, text=True, check=True, timeout=120)
    return result.stdout


async def test_no_code_in_any_table_key_value_or_message(own_db, tmp_path: Path) -> None:
    container = own_db()
    tenant = make_tenant(container)
    campaign = make_campaign(container, tenant, 40)
    codes = _codes(container, tenant, campaign)
    seeded = type("Seeded", (), {"tenant_id": tenant, "product_code": "APP_A"})()
    service, publisher = make_service(container)
    results = await service.process([request(seeded, c) for c in codes[:4]])  # type: ignore[arg-type]
    assert [r.outcome for r in results] == [O.REDEEMED] * 4
    log = CrashPublisher()
    with pytest.raises(WorkerKilled):
        await worker(container, log, crash_at="record").process(
            [request(seeded, codes[4])])  # type: ignore[arg-type]
    report = await compensate(container, log, tenant)
    assert report.examined >= 1 and report.failed == 0
    exported = export_codes(container.exporter, tenant, campaign, "ops", 10, "csv",
                            tmp_path / "e.csv",
                            override_owner=True)
    text_ = (tmp_path / "e.csv").read_text()
    assert exported.count == 10 and sum(c in text_ for c in codes) == 10, "export has codes"
    given = {allocate_code(container.code_ports, tenant, campaign, f"user{n}") for n in range(2)}
    assert given <= set(codes) and len(given) == 2, "allocation hands out full codes"
    target = next(c for c in codes[5:] if c not in given and c not in text_)
    typed = "-".join(target[i:i + 4] for i in range(0, len(target), 4)).lower()
    assert void_codes(container.code_ports, tenant, code=typed, reason="lost").voided == 1

    dump, cache = _mysqldump(container), _redis_dump(container)
    messages = "\n".join(m.value.decode(errors="replace") + m.key.decode(errors="replace")
                         for m in [*publisher.messages, *log.messages])
    assert "`redeem_codes` VALUES" in dump and lookup(container, tenant, codes[0]) in dump
    assert code_key(container, tenant, codes[0]) in cache
    for where, blob in (("MySQL", dump), ("Redis", cache), ("messages", messages)):
        flat = _flat(blob)
        for code in codes:
            leaked = [f for f in _forms(code) if f in blob]
            assert not leaked and code not in flat, f"{where} holds code {code}: {leaked}"


@pytest.mark.redis_cluster
async def test_half_migrated_database_redeems_from_both_halves(container: Container) -> None:
    seeded = seed_campaign(container, count=6, protected=False)
    tenant, codes = seeded.tenant_id, seeded.codes
    first = run_key_job(container, "migrate", tenant_id=tenant, batch_size=3, max_batches=1)
    assert first.rows == 3 and pending_rows(container, "migrate", tenant) == 3
    migrated = [c for c in codes if container.redis.exists(code_key(container, tenant, c))]
    plain = [c for c in codes if c not in migrated]
    assert len(migrated) == 3 and len(plain) == 3, "entries moved with their rows"
    service, _ = make_service(container)
    done = await service.process([request(seeded, migrated[0]), request(seeded, plain[0])])
    assert [r.outcome for r in done] == [O.REDEEMED, O.REDEEMED]
    again = await service.process([request(seeded, migrated[0]), request(seeded, plain[0])])
    assert [r.outcome for r in again] == [O.ALREADY_USED, O.ALREADY_USED]

    rest = run_key_job(container, "migrate", tenant_id=tenant, batch_size=2)
    assert rest.rows == 3 and rest.remaining == 0
    stored = {r[0] for r in rows(container, "SELECT code FROM redemptions WHERE tenant_id = :t",
                                 t=tenant)}
    assert stored == {lookup(container, tenant, migrated[0]), lookup(container, tenant, plain[0])}
    assert not any(container.redis.exists(container.keys.code(tenant, c)) for c in codes)
    late = await service.process([request(seeded, plain[0]), request(seeded, plain[1]),
                                  request(seeded, migrated[1])])
    assert [r.outcome for r in late] == [O.ALREADY_USED, O.REDEEMED, O.REDEEMED]
    assert run_key_job(container, "migrate", tenant_id=tenant).rows == 0, "idempotent"


def _keyset(*ids: int, active: int) -> dict[str, object]:
    return {"code_lookup_key": LOOKUP, "code_keys": {f"k{i}": _key(i) for i in ids},
            "code_key_id": f"k{active}"}


def test_rotation_reseals_to_the_active_key_and_old_ids_stay_readable(own_db,
                                                                      tmp_path: Path) -> None:
    old = own_db(**_keyset(1, active=1))
    tenant = make_tenant(old)
    campaign = make_campaign(old, tenant, 30)
    codes = _codes(old, tenant, campaign)
    only_new = own_db(**_keyset(2, active=2))
    with pytest.raises(UnknownCodeKey, match="'k1'"):
        export_codes(only_new.exporter, tenant, campaign, "ops", 5, "csv", tmp_path / "x.csv",
                     override_owner=True)
    assert not (tmp_path / "x.csv").exists()
    assert rows(old, "SELECT COUNT(*) FROM redeem_codes WHERE export_status = 1") == [(0,)]

    both = own_db(**_keyset(1, 2, active=2))
    first = run_key_job(both, "rotate", batch_size=10, max_batches=2)
    assert first.rows == 20 and pending_rows(both, "rotate") == 10
    half = export_codes(both.exporter, tenant, campaign, "ops", 30, "csv", tmp_path / "half.csv",
                        override_owner=True)
    assert half.count == 30, "both key ids readable during the rotation"
    rest = run_key_job(both, "rotate", batch_size=10)
    assert (rest.rows, rest.remaining) == (10, 0)
    assert rows(both, "SELECT DISTINCT code_key_id FROM redeem_codes") == [("k2",)]
    text_ = (tmp_path / "half.csv").read_text()
    assert all(c in text_ for c in codes)


def test_a_wrong_key_file_is_refused_before_anything_is_written(own_db, tmp_path) -> None:
    good = own_db(**_keyset(1, active=1))
    tenant = make_tenant(good)
    campaign = make_campaign(good, tenant, 5)
    key_file = tmp_path / "keys.json"
    key_file.write_text(orjson.dumps({"lookup_key": LOOKUP, "active_key_id": "k1",
                                      "keys": {"k1": _key(9)}}).decode())
    wrong = own_db(code_keys_file=str(key_file))
    with pytest.raises(KeyMaterialError, match="encryption key 'k1'"):
        wrong.generation.generate_codes(tenant, campaign, 5)
    assert rows(good, "SELECT COUNT(*) FROM redeem_codes") == [(5,)]
    other_lookup = own_db(code_lookup_key=_key(8), code_keys={"k1": _key(1)}, code_key_id="k1")
    with pytest.raises(KeyMaterialError, match="the lookup key"):
        run_key_job(other_lookup, "migrate")


def test_a_tampered_or_moved_seal_is_refused_and_nothing_is_written(own_db,
                                                                   tmp_path: Path) -> None:
    container = own_db()
    tenant = make_tenant(container)
    campaign = make_campaign(container, tenant, 3)
    (a, sealed_a), (b, _sealed_b) = rows(
        container, "SELECT id, code_sealed FROM redeem_codes ORDER BY id LIMIT 2")
    flipped = ("A" if sealed_a[5] != "A" else "B").join((sealed_a[:5], sealed_a[6:]))
    with container.engine.begin() as conn:
        conn.execute(text("UPDATE redeem_codes SET code_sealed = :s WHERE id = :id"),
                     {"s": flipped, "id": a})
        conn.execute(text("UPDATE redeem_codes SET code_sealed = :s WHERE id = :id"),
                     {"s": sealed_a, "id": b})  # a's seal on b's row
    with pytest.raises(TamperedCode, match=f"row {a}, export"):
        export_codes(container.exporter, tenant, campaign, "ops", 3, "csv", tmp_path / "t.csv",
                     override_owner=True)
    container.redis.delete(container.keys.pool(tenant, campaign))  # MySQL fallback: row a
    with pytest.raises(TamperedCode, match="does not authenticate"):
        allocate_code(container.code_ports, tenant, campaign, "someone")
    with container.engine.begin() as conn:
        conn.execute(text("UPDATE redeem_codes SET code_sealed = :s WHERE id = :id"),
                     {"s": sealed_a, "id": a})
    with pytest.raises(TamperedCode, match=f"row {b}, export"):  # a's seal on b's row
        export_codes(container.exporter, tenant, campaign, "ops", 3, "csv", tmp_path / "t.csv",
                     override_owner=True)
    assert not (tmp_path / "t.csv").exists()
    assert rows(container, "SELECT COUNT(*) FROM redeem_codes WHERE export_status = 1"
                " OR user_id IS NOT NULL") == [(0,)]
    assert rows(container, "SELECT COUNT(*) FROM code_allocations") == [(0,)]
    assert rows(container, "SELECT COUNT(*) FROM export_batches") == [(0,)]


async def test_stored_request_fingerprints_are_keyed_and_old_ones_still_replay(
        container: Container) -> None:
    seeded = seed_campaign(container, count=2)
    service, _ = make_service(container)
    wanted = request(seeded, seeded.codes[0])
    [first] = await service.process([wanted])
    [(stored,)] = rows(container, "SELECT request_hash FROM request_outcomes WHERE"
                       " tenant_id = :t AND request_id = :r", t=seeded.tenant_id,
                       r=wanted.request_id)
    unkeyed = request_fingerprint(wanted.user_id, wanted.product_code, wanted.code)
    assert stored != unkeyed, "an unkeyed hash of the code is an offline oracle"
    assert stored == container.settings.code_protector.fingerprint(
        wanted.tenant_id, wanted.user_id, wanted.product_code, wanted.code)
    with container.engine.begin() as conn:  # as stored before codes were protected
        conn.execute(text("UPDATE request_outcomes SET request_hash = :h WHERE tenant_id = :t"
                          " AND request_id = :r"),
                     {"h": unkeyed, "t": seeded.tenant_id, "r": wanted.request_id})
    [again] = await service.process([wanted])
    assert again.to_bytes() == first.to_bytes(), "a redelivery replays, no REQUEST_CONFLICT"
    [other] = await service.process([wanted.model_copy(update={"code": seeded.codes[1]})])
    assert other.outcome is O.REQUEST_CONFLICT


def test_keys_commands_report_progress_as_json_and_errors_in_one_line(own_db,
                                                                     tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from tests.e2e.harness import settings_env

    old = own_db(**_keyset(1, active=1))
    tenant = make_tenant(old)
    make_campaign(old, tenant, 12)
    key_file = tmp_path / "keys.json"
    key_file.write_text(orjson.dumps({"lookup_key": LOOKUP, "active_key_id": "k2",
                                      "keys": {"k1": _key(1), "k2": _key(2)}}).decode())
    env = {**settings_env(old.settings), "REDEEMFLOW_CODE_KEYS_FILE": str(key_file),
           "REDEEMFLOW_CODE_KEYS": "{}", "REDEEMFLOW_CODE_LOOKUP_KEY": "",
           "REDEEMFLOW_CODE_KEY_ID": ""}
    result = CliRunner().invoke(app, ["keys", "rotate", "--batch-size", "5", "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    report = orjson.loads(result.stdout[result.stdout.index("{"):])
    assert (report["rows"], report["batches"], report["remaining"]) == (12, 3, 0)
    assert report["active_key_id"] == "k2"
    key_file.write_text(orjson.dumps({"lookup_key": LOOKUP, "active_key_id": "k2",
                                      "keys": {"k2": _key(9)}}).decode())
    result = CliRunner().invoke(app, ["keys", "migrate"], env=env)
    assert result.exit_code == 2 and "encryption key 'k2'" in result.stdout + result.stderr
    new = CliRunner().invoke(app, ["keys", "new", "--key-id", "a"], env=env)
    fresh = orjson.loads(new.stdout)
    assert fresh["active_key_id"] == "a" and len(base64.b64decode(fresh["keys"]["a"])) == 32
