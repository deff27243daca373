"""SqlScript and fetch_sets: one round trip on a hot-path connection, one statement at a time
elsewhere; in both, a failing statement anywhere in the script fails the transaction."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from core.adapters.mysql.engine import build_hot_engine, guarded
from core.adapters.mysql.script import SqlScript, allows_multi, fetch_sets, render
from core.errors import PermanentError, StorageUnavailable
from tests.conftest import unique_id

pytestmark = pytest.mark.integration


@pytest.fixture(params=["hot-mysqldb", "hot-pymysql", "plain"])
def engine(request, container):
    """The hot path's engine on each driver, and the plain engine (one statement a time)."""
    if request.param == "plain":
        yield container.engine
        return
    driver = request.param.removeprefix("hot-")
    if driver == "mysqldb":
        pytest.importorskip("MySQLdb", reason="mysqlclient not installed")
    hot = build_hot_engine(container.settings.model_copy(update={"hot_path_mysql_driver": driver}))
    assert hot.dialect.driver == driver
    yield hot
    hot.dispose()


@pytest.fixture()
def table(container):
    name = unique_id("script_t")
    with container.engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {name} (id INT PRIMARY KEY, v VARCHAR(20))"))
    yield name
    with container.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {name}"))


def rows(container, table: str) -> list[tuple[int, str]]:
    with container.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT id, v FROM {table} ORDER BY id"))]


def test_hot_engine_sends_one_query(engine, container) -> None:
    with engine.connect() as conn:
        assert allows_multi(conn) is (engine is not container.engine)
    with container.engine.connect() as conn:
        assert not allows_multi(conn)


def test_statements_run_in_order_and_reads_come_back_per_query(engine, table, container) -> None:
    script = SqlScript()
    script.add_rows(f"INSERT INTO {table} (id, v)", [(1, "a;b"), (2, "it's")])
    script.add(f"UPDATE {table} SET v = CONCAT(v, %s) WHERE id = %s", ["!", 2])
    script.add_rows(f"INSERT INTO {table} (id, v)", [])  # nothing to add: no statement
    assert len(script) == 2
    with engine.begin() as conn:
        script.run(conn)
        sets = fetch_sets(
            conn,
            [(f"SELECT v FROM {table} WHERE id = %s", [1]), (f"SELECT COUNT(*) FROM {table}", [])],
        )
    assert sets == [[("a;b",)], [(2,)]]
    assert rows(container, table) == [(1, "a;b"), (2, "it's!")]


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_a_failing_statement_anywhere_commits_nothing(engine, table, container, failing) -> None:
    with container.engine.begin() as conn:
        conn.execute(text(f"INSERT INTO {table} (id, v) VALUES (99, 'there')"))
    script = SqlScript()
    for index in range(3):
        row_id = 99 if index == failing else index + 1  # 99 exists: duplicate key
        script.add(f"INSERT INTO {table} (id, v) VALUES (%s, %s)", [row_id, "new"])

    def work() -> None:
        with engine.begin() as conn:
            script.run(conn)

    with pytest.raises(PermanentError, match="Duplicate entry"):
        guarded("script", work)
    assert rows(container, table) == [(99, "there")]


def test_a_killed_connection_is_retryable_and_replaced(engine, container, table) -> None:
    if engine is container.engine:
        pytest.skip("the plain engine pings on checkout; the killer would share its pool")
    with engine.connect() as conn:
        victim = conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
    with container.engine.begin() as admin:
        admin.exec_driver_sql(f"KILL CONNECTION {int(victim)}")
    script = SqlScript()
    script.add(f"INSERT INTO {table} (id, v) VALUES (%s, %s)", [7, "x"])

    def work() -> None:
        with engine.begin() as conn:
            script.run(conn)

    with pytest.raises(StorageUnavailable):
        guarded("script", work)
    guarded("script", work)  # the dead connection was dropped: a fresh one works
    assert rows(container, table) == [(7, "x")]


def _session_counter(conn, name: str) -> int:
    return int(conn.exec_driver_sql(f"SHOW SESSION STATUS LIKE '{name}'").one()[1])


def test_hot_engine_sends_no_rollback_after_a_commit(engine, container, table) -> None:
    """Counted by the server: the plain engine's pool rolls back a connection that has just
    committed; the hot engine's does not (a wasted round trip per transaction)."""
    engine.pool.dispose()  # one pooled connection, so the second block gets the first's
    with engine.connect() as conn:
        first = conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
        before = _session_counter(conn, "Com_rollback")
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO {table} (id, v) VALUES (1, 'a')"))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar() == first
        rollbacks = _session_counter(conn, "Com_rollback") - before
    # the first block's own rollback (closing its read) is counted after `before` was read
    assert rollbacks == (2 if engine is container.engine else 1)
    assert rows(container, table) == [(1, "a")]


def test_a_returned_hot_connection_holds_no_snapshot(engine, container, table) -> None:
    """A read's transaction ends with its block: the next checkout sees newer commits."""
    engine.pool.dispose()  # one pooled connection, so the second block gets the first's
    with engine.connect() as conn:
        first = conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
        assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == 0
    with container.engine.begin() as other:
        other.execute(text(f"INSERT INTO {table} (id, v) VALUES (1, 'a')"))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar() == first
        assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == 1


_AWKWARD = [
    "it's",
    'say "hi"',
    "back\\slash",
    "semi; colon -- and /* comment */",
    "100%s %% done",
    "ünïcødé 兑换码 😀",
    "nul\x00byte",
    "line\nbreak\r\ttab",
    "",
    "plain_id-1.2:3@x",
    '[["gr_1","COUPON","c-1",1]]',
    None,
    0,
    -42,
    2**62,
    True,
    datetime(2026, 11, 22, 6, 30, 1, 123456),
    datetime(2026, 1, 2, 3, 4, 5),
    b"\x00\x7f'raw",
]


def test_render_matches_the_drivers_mogrify(engine) -> None:
    """The fast renderer gives the driver's own text, repeated values included."""
    statements = [("SELECT %s", [value]) for value in _AWKWARD] + [
        ("INSERT INTO t (a, b, c) VALUES (%s, %s, %s), (%s, %s, %s)", _AWKWARD[:3] * 2),
        # equal values of different types, in one statement and across statements
        ("SELECT %s, %s, %s, %s", [1, True, 1.0, 2**62]),
        ("SELECT %s, %s", [1, "1"]),
    ]
    with engine.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        cursor = dbapi.cursor()
        expected = ";\n".join(cursor.mogrify(sql, params) for sql, params in statements)
        rendered = render(dbapi, statements)
    if isinstance(rendered, bytes):
        rendered = rendered.decode(dbapi.encoding)
    assert rendered == expected


def test_awkward_values_round_trip(engine, table, container) -> None:
    texts = [v for v in _AWKWARD if isinstance(v, str)]
    script = SqlScript()
    script.add_rows(f"INSERT INTO {table} (id, v)", [(i, t[:20]) for i, t in enumerate(texts)])
    with engine.begin() as conn:
        script.run(conn)
    assert rows(container, table) == [(i, t[:20]) for i, t in enumerate(texts)]
