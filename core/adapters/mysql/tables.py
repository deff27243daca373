"""SQLAlchemy Core views of the tables that ``ddl.py`` creates (queried, never created here).

A test reflects the migrated database and checks these columns match it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

metadata = MetaData()

tenants = Table(
    "tenants", metadata,
    Column("tenant_id", String(24), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("type", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("code_quota", BigInteger, nullable=False),
    Column("codes_issued", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

campaigns = Table(
    "campaigns", metadata,
    Column("campaign_id", String(32), primary_key=True),
    Column("tenant_id", String(24), nullable=False),
    Column("tenant_name", String(64)),
    Column("tenant_type", String(16)),
    Column("product_code", String(16), nullable=False),
    Column("name", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("rule_json", JSON, nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("use_limit", Integer, nullable=False),
    Column("per_user_limit", Integer, nullable=False),
    Column("valid_from", DateTime, nullable=False),
    Column("valid_until", DateTime),
    Column("codes_requested", BigInteger, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

redeem_codes = Table(
    "redeem_codes", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("tenant_id", String(24), primary_key=True),
    Column("code", String(32), nullable=False),
    Column("product_code", String(16), nullable=False),
    Column("campaign_id", String(32), primary_key=True),
    Column("gen_batch_id", String(40), nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("use_limit", Integer, nullable=False),
    Column("used_count", Integer, nullable=False),
    Column("user_id", String(64)),
    Column("export_status", SmallInteger, nullable=False),
    Column("gen_account_id", String(64)),
    Column("gen_time", DateTime, nullable=False),
    Column("export_account_id", String(64)),
    Column("export_time", DateTime),
    Column("export_batch_id", String(40)),
    Column("act_user_id", String(64)),
    Column("act_time", DateTime),
    Column("claimed_at", DateTime),
    Column("valid_from", DateTime),
    Column("expired_at", DateTime),
    Column("extra_data", JSON),
    Column("remark", Text),
    Column("updated_at", DateTime, nullable=False),
    Column("code_sealed", String(96)),
    Column("code_key_id", String(16)),
    Column("code_mask", String(32)),
)

id_sequences = Table(
    "id_sequences", metadata,
    Column("name", String(32), primary_key=True),
    Column("next_id", BigInteger, nullable=False),
)

code_batches = Table(
    "code_batches", metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("tenant_id", String(24), nullable=False),
    Column("campaign_id", String(32), nullable=False),
    Column("requested", BigInteger, nullable=False),
    Column("inserted", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("account_id", String(64)),
    Column("created_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("rule_json", JSON),
    Column("generated", BigInteger, nullable=False),
)

redemptions = Table(
    "redemptions", metadata,
    Column("redemption_id", String(40), primary_key=True),
    Column("request_id", String(64), nullable=False),
    Column("tenant_id", String(24), nullable=False),
    Column("code", String(32), nullable=False),
    Column("campaign_id", String(32), nullable=False),
    Column("product_code", String(16), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("device_id", String(64)),
    Column("channel", String(8), nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("grants_json", JSON, nullable=False),
    Column("claimed_at", DateTime, nullable=False),
    Column("granted_at", DateTime),
)

request_outcomes = Table(
    "request_outcomes", metadata,
    Column("request_id", String(64), primary_key=True),
    Column("tenant_id", String(24), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("redemption_id", String(40)),
    Column("grant_ids_json", JSON),
    Column("processed_at", DateTime, nullable=False),
    Column("request_hash", String(32)),
    Column("message", String(256)),
)

campaign_user_usage = Table(
    "campaign_user_usage", metadata,
    Column("tenant_id", String(24), primary_key=True),
    Column("campaign_id", String(32), primary_key=True),
    Column("user_id", String(64), primary_key=True),
    Column("used", Integer, nullable=False),
)

reward_records = Table(
    "reward_records", metadata,
    Column("grant_id", String(64), primary_key=True),
    Column("redemption_id", String(40), nullable=False),
    Column("tenant_id", String(24), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("campaign_id", String(32), nullable=False),
    Column("code", String(32), nullable=False),
    Column("reward_type", String(24), nullable=False),
    Column("reward_id", String(64), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
)

export_batches = Table(
    "export_batches", metadata,
    Column("export_id", String(40), primary_key=True),
    Column("tenant_id", String(24), nullable=False),
    Column("campaign_id", String(32), nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("owner_override", SmallInteger, nullable=False),
    Column("code_count", BigInteger, nullable=False),
    Column("file_format", String(8), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("file_sha256", String(64)),
    Column("created_at", DateTime, nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("key_id", String(24), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("tenant_id", String(24), nullable=False),
    Column("name", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
)

token_signing_keys = Table(
    "token_signing_keys", metadata,
    Column("key_id", String(24), primary_key=True),
    Column("tenant_id", String(24), nullable=False),
    Column("name", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
)

compensation_jobs = Table(
    "compensation_jobs", metadata,
    Column("job_id", String(64), primary_key=True),
    Column("tenant_id", String(24)),
    Column("campaign_id", String(32)),
    Column("older_than_seconds", Integer, nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("report_json", JSON),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
)

code_allocations = Table(
    "code_allocations", metadata,
    Column("tenant_id", String(24), primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("campaign_id", String(32), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("source", String(8), nullable=False),
    Column("allocated_at", DateTime, nullable=False),
)

code_keys = Table(
    "code_keys", metadata,
    Column("purpose", String(8), primary_key=True),
    Column("key_id", String(16), primary_key=True),
    Column("key_check", String(32), nullable=False),
    Column("created_at", DateTime, nullable=False),
)
