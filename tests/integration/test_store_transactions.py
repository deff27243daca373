"""The redemption store's transactions against the real MariaDB: reads that leave no
transaction behind on a pooled connection."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core.adapters.mysql.engine import build_hot_engine
from core.adapters.mysql.redemption_store import RedemptionStore
from tests.integration.redeem_support import seed_campaign

pytestmark = pytest.mark.integration


async def test_a_code_lookup_leaves_no_transaction_on_its_pooled_connection(container) -> None:
    """The next use of the connection sees what was committed after the lookup (a snapshot
    kept from the lookup's transaction would not), and can set its own isolation level."""
    seeded = seed_campaign(container, count=1)
    engine = build_hot_engine(container.settings.model_copy(update={"database_pool_size": 1}))
    try:
        store = RedemptionStore(engine)
        assert set(store.lookup_codes(seeded.tenant_id, seeded.codes)) == set(seeded.codes)
        with container.engine.begin() as conn:
            conn.execute(
                text("UPDATE redeem_codes SET used_count = 7 WHERE tenant_id = :t AND code = :c"),
                {"t": seeded.tenant_id, "c": seeded.codes[0]},
            )
        [state] = store.lookup_codes(seeded.tenant_id, seeded.codes).values()
        assert state.used_count == 7
        with engine.connect() as conn:
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
    finally:
        engine.dispose()
