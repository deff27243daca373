"""The versioned DDL of redeemflow's MySQL schema (MySQL 8 and MariaDB 10.11).

Each migration is a tuple of statements applied once, in order, and recorded in
``schema_migrations``. ``redeem_codes`` is partitioned by ``KEY(tenant_id)``: MySQL requires
every unique key to contain the partitioning columns, so the primary key is
``(tenant_id, id)`` and code uniqueness is ``UNIQUE(tenant_id, code)`` (seed 000's
``PARTITION BY KEY(tenant_id, product_code)`` with ``code UNIQUE`` is rejected by both).
Since migration 8 the primary key is ``(tenant_id, campaign_id, id)`` and ``id`` is no longer
AUTO_INCREMENT: writers reserve ids from ``id_sequences`` (``code_store.reserve_code_ids``).
"""

from __future__ import annotations

from typing import NamedTuple

CODE_PARTITIONS = 16


class Migration(NamedTuple):
    """One schema change: a version number, a description and its statements."""

    version: int
    description: str
    statements: tuple[str, ...]


_TENANTS = """
CREATE TABLE tenants (
    tenant_id VARCHAR(24) NOT NULL PRIMARY KEY,
    name VARCHAR(64) NOT NULL,
    type ENUM('PLATFORM','CHANNEL') NOT NULL,
    status VARCHAR(16) NOT NULL,
    code_quota BIGINT NOT NULL DEFAULT 0,
    codes_issued BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""

_CAMPAIGNS = """
CREATE TABLE campaigns (
    campaign_id VARCHAR(32) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(24) NOT NULL COMMENT 'tenant service id',
    tenant_name VARCHAR(64) NULL COMMENT 'redundant copy, kept current by tenant.updated',
    tenant_type ENUM('PLATFORM','CHANNEL') NULL COMMENT 'redundant copy',
    product_code VARCHAR(16) NOT NULL,
    name VARCHAR(128) NOT NULL DEFAULT '',
    status VARCHAR(16) NOT NULL,
    rule_json JSON NOT NULL,
    request_hash CHAR(64) NOT NULL,
    use_limit INT NOT NULL DEFAULT 1,
    per_user_limit INT NOT NULL DEFAULT 1,
    valid_from DATETIME(6) NOT NULL,
    valid_until DATETIME(6) NULL,
    codes_requested BIGINT NOT NULL DEFAULT 0,
    created_by VARCHAR(64) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    KEY idx_campaign_tenant (tenant_id, status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""

_REDEEM_CODES = f"""
CREATE TABLE redeem_codes (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    tenant_id VARCHAR(24) NOT NULL,
    code VARCHAR(32) NOT NULL,
    product_code VARCHAR(16) NOT NULL,
    campaign_id VARCHAR(32) NOT NULL,
    gen_batch_id VARCHAR(40) NOT NULL,
    status TINYINT NOT NULL DEFAULT 0 COMMENT '0 unused 1 claimed 2 granted 3 voided',
    use_limit INT NOT NULL DEFAULT 1,
    used_count INT NOT NULL DEFAULT 0,
    user_id VARCHAR(64) NULL COMMENT 'bound user after allocation',
    export_status TINYINT NOT NULL DEFAULT 0 COMMENT '0 not exported 1 exported',
    gen_account_id VARCHAR(64) NULL,
    gen_time DATETIME(6) NOT NULL,
    export_account_id VARCHAR(64) NULL,
    export_time DATETIME(6) NULL,
    export_batch_id VARCHAR(40) NULL,
    act_user_id VARCHAR(64) NULL COMMENT 'last redeeming user',
    act_time DATETIME(6) NULL,
    claimed_at DATETIME(6) NULL,
    valid_from DATETIME(6) NULL,
    expired_at DATETIME(6) NULL,
    extra_data JSON NULL,
    remark TEXT CHARACTER SET utf8mb4 NULL,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (tenant_id, id),
    UNIQUE KEY uk_tenant_code (tenant_id, code),
    KEY idx_id (id),
    KEY idx_campaign_status (tenant_id, campaign_id, status),
    KEY idx_tenant_product (tenant_id, product_code)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin
PARTITION BY KEY(tenant_id) PARTITIONS {CODE_PARTITIONS}
"""

_CODE_BATCHES = """
CREATE TABLE code_batches (
    batch_id VARCHAR(40) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(24) NOT NULL,
    campaign_id VARCHAR(32) NOT NULL,
    requested BIGINT NOT NULL,
    inserted BIGINT NOT NULL DEFAULT 0,
    status VARCHAR(16) NOT NULL COMMENT 'RUNNING DONE ROLLED_BACK',
    account_id VARCHAR(64) NULL,
    created_at DATETIME(6) NOT NULL,
    finished_at DATETIME(6) NULL,
    KEY idx_batch_campaign (tenant_id, campaign_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""

_REDEMPTIONS = """
CREATE TABLE redemptions (
    redemption_id VARCHAR(40) NOT NULL PRIMARY KEY,
    request_id VARCHAR(64) NOT NULL,
    tenant_id VARCHAR(24) NOT NULL,
    code VARCHAR(32) NOT NULL,
    campaign_id VARCHAR(32) NOT NULL,
    product_code VARCHAR(16) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    device_id VARCHAR(64) NULL,
    channel VARCHAR(8) NOT NULL,
    status TINYINT NOT NULL COMMENT '1 claimed (grants pending) 2 granted',
    grants_json JSON NOT NULL,
    claimed_at DATETIME(6) NOT NULL,
    granted_at DATETIME(6) NULL,
    UNIQUE KEY uk_request (tenant_id, request_id),
    KEY idx_pending (status, claimed_at),
    KEY idx_code (tenant_id, code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""

_REQUEST_OUTCOMES = """
CREATE TABLE request_outcomes (
    request_id VARCHAR(64) NOT NULL,
    tenant_id VARCHAR(24) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    outcome VARCHAR(32) NOT NULL,
    redemption_id VARCHAR(40) NULL,
    grant_ids_json JSON NULL,
    processed_at DATETIME(6) NOT NULL,
    PRIMARY KEY (tenant_id, request_id),
    KEY idx_outcome_time (processed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""

_CAMPAIGN_USER_USAGE = """
CREATE TABLE campaign_user_usage (
    tenant_id VARCHAR(24) NOT NULL,
    campaign_id VARCHAR(32) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    used INT NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""

_REWARD_RECORDS = """
CREATE TABLE reward_records (
    grant_id VARCHAR(64) NOT NULL PRIMARY KEY,
    redemption_id VARCHAR(40) NOT NULL,
    tenant_id VARCHAR(24) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    campaign_id VARCHAR(32) NOT NULL,
    code VARCHAR(32) NOT NULL,
    reward_type VARCHAR(24) NOT NULL,
    reward_id VARCHAR(64) NOT NULL,
    quantity INT NOT NULL,
    recorded_at DATETIME(6) NOT NULL,
    KEY idx_reward_redemption (redemption_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""

_EXPORT_BATCHES = """
CREATE TABLE export_batches (
    export_id VARCHAR(40) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(24) NOT NULL,
    campaign_id VARCHAR(32) NOT NULL,
    account_id VARCHAR(64) NOT NULL,
    owner_override TINYINT(1) NOT NULL DEFAULT 0,
    code_count BIGINT NOT NULL,
    file_format VARCHAR(8) NOT NULL,
    file_name VARCHAR(255) NOT NULL,
    file_sha256 CHAR(64) NULL,
    created_at DATETIME(6) NOT NULL,
    KEY idx_export_campaign (tenant_id, campaign_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""

_API_KEYS = """
CREATE TABLE api_keys (
    key_id VARCHAR(24) NOT NULL PRIMARY KEY COMMENT 'public id, part of the key, safe to show',
    key_hash CHAR(64) NOT NULL COMMENT 'sha256 hex of the whole key; the key is never stored',
    tenant_id VARCHAR(24) NOT NULL,
    name VARCHAR(64) NOT NULL DEFAULT '',
    created_at DATETIME(6) NOT NULL,
    revoked_at DATETIME(6) NULL,
    UNIQUE KEY uk_api_key_hash (key_hash),
    KEY idx_api_key_tenant (tenant_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""

_COMPENSATION_JOBS = """
CREATE TABLE compensation_jobs (
    job_id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(24) NULL,
    campaign_id VARCHAR(32) NULL,
    older_than_seconds INT NOT NULL,
    requested_by VARCHAR(64) NOT NULL,
    status VARCHAR(16) NOT NULL COMMENT 'RUNNING DONE',
    report_json JSON NULL COMMENT 'the CompensationReport, replayed for the same job_id',
    started_at DATETIME(6) NOT NULL,
    finished_at DATETIME(6) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""

# compensation looks for codes left in status 1 long ago: without this index every sweep
# would scan the whole (partitioned) code table
_CODES_STATUS_INDEX = "ALTER TABLE redeem_codes ADD KEY idx_status_claimed (status, claimed_at)"

_CODE_ALLOCATIONS = """
CREATE TABLE code_allocations (
    tenant_id VARCHAR(24) NOT NULL,
    code VARCHAR(32) NOT NULL,
    campaign_id VARCHAR(32) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    source VARCHAR(8) NOT NULL COMMENT 'pool (Redis SPOP) or mysql (fallback)',
    allocated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (tenant_id, code),
    KEY idx_allocation_user (tenant_id, campaign_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""

# Migration 8: a narrower redeem_codes, because index maintenance bounds bulk generation.
# Measured on 1M-row LOAD DATA (docs/performance.md): every secondary index costs 1-2 s per
# million codes. Kept: the clustered key (tenant_id, campaign_id, id), which makes every
# per-campaign scan (export, listing, stats, allocation, rollback) a primary-key range, and
# UNIQUE(tenant_id, code), the only per-code lookup. Dropped: KEY(id), which existed only for
# AUTO_INCREMENT (ids now come from id_sequences, reserved per chunk), idx_campaign_status
# (the new primary key covers it), idx_tenant_product (no query uses it) and
# idx_status_claimed (compensation finds stuck codes through their granted redemptions).
# The counter starts after the highest existing id, so existing rows keep their ids.
_ID_SEQUENCES = """
CREATE TABLE IF NOT EXISTS id_sequences (
    name VARCHAR(32) NOT NULL PRIMARY KEY,
    next_id BIGINT UNSIGNED NOT NULL COMMENT 'first id not yet handed out'
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin
"""
_CODE_ID_START = (
    "INSERT INTO id_sequences (name, next_id)"
    " SELECT 'redeem_codes', COALESCE(MAX(id), 0) + 1 FROM redeem_codes"
    " ON DUPLICATE KEY UPDATE next_id = GREATEST(id_sequences.next_id, VALUES(next_id))"
)
_NARROW_CODES = """
ALTER TABLE redeem_codes
    MODIFY id BIGINT UNSIGNED NOT NULL,
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (tenant_id, campaign_id, id),
    DROP KEY idx_id,
    DROP KEY idx_campaign_status,
    DROP KEY idx_tenant_product,
    DROP KEY idx_status_claimed
"""

_TOKEN_SIGNING_KEYS = """
CREATE TABLE token_signing_keys (
    key_id VARCHAR(24) NOT NULL PRIMARY KEY COMMENT 'kid of end-user tokens, public',
    tenant_id VARCHAR(24) NOT NULL,
    name VARCHAR(64) NOT NULL DEFAULT '',
    created_at DATETIME(6) NOT NULL,
    revoked_at DATETIME(6) NULL,
    KEY idx_token_key_tenant (tenant_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
COMMENT='no secret: each key''s secret is derived from the server master secret'
"""

_OUTCOME_FINGERPRINTS = """
ALTER TABLE request_outcomes
    ADD COLUMN request_hash CHAR(32) NULL COMMENT 'fingerprint of code, user and product',
    ADD COLUMN message VARCHAR(256) NULL COMMENT 'the answer message when not the default'
"""

# Migration 10: a generation batch remembers the code rule it generates with (``codes generate
# --prefix/--length/...`` may differ from the campaign's rule), so redemption's offline check
# accepts its codes and a resume continues in the same format; NULL (batches written before)
# means the campaign's rule. ``generated`` counts the codes a batch ever committed (a rollback
# lowers ``inserted``, never this): the worker exports it as marketing_codes_generated_total,
# so codes generated by any process (the CLI included) are seen by a scrape.
_BATCH_RULES = """
ALTER TABLE code_batches
    ADD COLUMN rule_json JSON NULL COMMENT 'code rule of this batch; NULL: the campaign rule',
    ADD COLUMN generated BIGINT NOT NULL DEFAULT 0 COMMENT 'codes ever committed; never lowered'
"""
_BATCH_GENERATED_START = "UPDATE code_batches SET generated = inserted"

# Migration 11: the back office (admin/): operators, their server-side sessions and the
# audit log of every operator action. A session row is keyed by the sha256 of its cookie
# token (the token itself is never stored); the audit log's (ip, action, at) index serves
# the per-IP login throttle, which counts recent failed logins from an address.
_OPERATORS = """
CREATE TABLE operators (
    operator_id VARCHAR(40) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(24) NULL COMMENT 'NULL: a platform operator, sees every tenant',
    email VARCHAR(254) NOT NULL,
    role VARCHAR(16) NOT NULL COMMENT 'admin operator viewer',
    password_hash VARCHAR(255) NOT NULL COMMENT 'argon2id',
    status VARCHAR(16) NOT NULL COMMENT 'ACTIVE DISABLED',
    failed_logins INT NOT NULL DEFAULT 0,
    locked_until DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    UNIQUE KEY uk_operator_email (email),
    KEY idx_operator_tenant (tenant_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""

_OPERATOR_SESSIONS = """
CREATE TABLE operator_sessions (
    token_hash CHAR(64) NOT NULL PRIMARY KEY COMMENT 'sha256 hex of the cookie token',
    operator_id VARCHAR(40) NOT NULL,
    csrf_token CHAR(43) NOT NULL,
    ip VARCHAR(45) NOT NULL DEFAULT '',
    created_at DATETIME(6) NOT NULL,
    last_seen_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL COMMENT 'absolute expiry',
    KEY idx_session_operator (operator_id)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin
"""

_AUDIT_LOG = """
CREATE TABLE audit_log (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at DATETIME(6) NOT NULL,
    tenant_id VARCHAR(24) NULL,
    operator_id VARCHAR(40) NULL,
    operator_email VARCHAR(254) NOT NULL DEFAULT '',
    action VARCHAR(32) NOT NULL,
    target VARCHAR(128) NOT NULL DEFAULT '',
    detail TEXT NULL,
    ip VARCHAR(45) NOT NULL DEFAULT '',
    KEY idx_audit_tenant (tenant_id, id),
    KEY idx_audit_action (action, id),
    KEY idx_audit_ip (ip, action, at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""

# Migration 13: codes at rest (core/codes/protection.py). ``code`` columns now hold each code's
# keyed lookup value (``~`` + 22 characters, fits VARCHAR(32)), so indexes and queries stay;
# redeem_codes keeps the code sealed (AES-GCM, base64: nonce + code + tag, 80 characters for a
# 32-character code) under ``code_key_id``, and its masked form for operator screens. Rows
# written before stay plaintext (code_key_id NULL) until ``redeemflow keys migrate``. No
# index: every query still finds rows by (tenant_id, code) or the primary key.
_SEALED_CODES = """
ALTER TABLE redeem_codes
    ADD COLUMN code_sealed VARCHAR(96) NULL COMMENT 'AES-GCM seal of the code (base64)',
    ADD COLUMN code_key_id VARCHAR(16) NULL COMMENT 'key id of the seal; NULL: code is plain',
    ADD COLUMN code_mask VARCHAR(32) NULL COMMENT 'masked code for display (AB****YZ)'
"""

# Migration 14: a fingerprint of every code key a process used (HMAC of the key over a fixed
# text), so a process given another key under the same id (a wrong key file) is refused
# before it writes a lookup or a seal nobody could match or open.
_CODE_KEYS = """
CREATE TABLE code_keys (
    purpose VARCHAR(8) NOT NULL COMMENT 'lookup or seal',
    key_id VARCHAR(16) NOT NULL COMMENT 'empty for the lookup key',
    key_check CHAR(32) NOT NULL COMMENT 'HMAC(key, fixed text): identifies, reveals nothing',
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (purpose, key_id)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin
"""

# Migration 15: a narrow export mark. Marking a million exported codes wrote three NULL
# columns (account VARCHAR, time, batch VARCHAR) into every row, growing each row, so InnoDB
# moved them: 10.7 s of the UPDATE against 4.7 s for fixed-width NOT NULL columns that change
# in place. A code now carries only ``export_status`` and ``export_seq`` (the number of its
# export); who and when are kept once, in its ``export_batches`` row, and joined where shown.
# Existing exports are numbered in the order they were made and their codes get the number;
# the old columns go. Numbers come from ``id_sequences`` ('export_batches'), reserved before
# an export starts, so a failed export leaves a gap, never a reused number.
_EXPORT_SEQ_COLUMN = (
    "ALTER TABLE export_batches ADD COLUMN seq INT UNSIGNED NULL"
    " COMMENT 'the export''s number, kept on its codes as export_seq'"
)
_EXPORT_SEQ_NUMBER = (
    "UPDATE export_batches b JOIN (SELECT export_id, ROW_NUMBER() OVER"
    " (ORDER BY created_at, export_id) AS n FROM export_batches) o"
    " ON o.export_id = b.export_id SET b.seq = o.n"
)
_EXPORT_SEQ_KEY = (
    "ALTER TABLE export_batches MODIFY seq INT UNSIGNED NOT NULL,"
    " ADD UNIQUE KEY uk_export_seq (seq)"
)
_EXPORT_SEQ_START = (
    "INSERT INTO id_sequences (name, next_id)"
    " SELECT 'export_batches', COALESCE(MAX(seq), 0) + 1 FROM export_batches"
    " ON DUPLICATE KEY UPDATE next_id = GREATEST(id_sequences.next_id, VALUES(next_id))"
)
_CODE_EXPORT_SEQ = (
    "ALTER TABLE redeem_codes ADD COLUMN export_seq INT UNSIGNED NOT NULL DEFAULT 0"
    " COMMENT 'export_batches.seq of its export; 0 not exported' AFTER export_status"
)
_CODE_EXPORT_SEQ_FILL = (
    "UPDATE redeem_codes r JOIN export_batches b ON b.export_id = r.export_batch_id"
    " AND b.tenant_id = r.tenant_id SET r.export_seq = b.seq, r.updated_at = r.updated_at"
    " WHERE r.export_batch_id IS NOT NULL"
)
# FORCE rebuilds the table (online: ALGORITHM=INPLACE, LOCK=NONE). Without it MariaDB adds
# and drops the columns instantly, and an UPDATE of the instantly added export_seq was not
# done in place: 12 µs per marked code instead of 4.6 µs (server CPU, 300,000 codes,
# docs/performance.md). The rebuild costs one pass over the table, once.
_CODE_EXPORT_WIDE_DROP = (
    "ALTER TABLE redeem_codes DROP COLUMN export_account_id, DROP COLUMN export_time,"
    " DROP COLUMN export_batch_id, FORCE"
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tenants and campaigns", (_TENANTS, _CAMPAIGNS)),
    Migration(2, "partitioned redeem_codes and generation batches", (_REDEEM_CODES, _CODE_BATCHES)),
    Migration(
        3,
        "redemptions, outcomes, per-user usage and reward records",
        (_REDEMPTIONS, _REQUEST_OUTCOMES, _CAMPAIGN_USER_USAGE, _REWARD_RECORDS),
    ),
    Migration(4, "export batches", (_EXPORT_BATCHES,)),
    Migration(
        5,
        "compensation job ledger; index of codes by status",
        (_COMPENSATION_JOBS, _CODES_STATUS_INDEX),
    ),
    Migration(6, "code allocations audit", (_CODE_ALLOCATIONS,)),
    Migration(7, "gateway API keys", (_API_KEYS,)),
    Migration(
        8,
        "narrow redeem_codes: primary key (tenant_id, campaign_id, id), ids from id_sequences",
        (_ID_SEQUENCES, _CODE_ID_START, _NARROW_CODES),
    ),
    Migration(
        9,
        "request outcomes keep the request's fingerprint and message (idempotency conflicts,"
        " identical repeated results)",
        (_OUTCOME_FINGERPRINTS,),
    ),
    Migration(
        10,
        "code_batches: each batch's code rule and its codes ever generated",
        (_BATCH_RULES, _BATCH_GENERATED_START),
    ),
    Migration(
        11,
        "back office: operators, operator sessions, audit log",
        (_OPERATORS, _OPERATOR_SESSIONS, _AUDIT_LOG),
    ),
    Migration(12, "end-user token signing keys (ids only)", (_TOKEN_SIGNING_KEYS,)),
    Migration(13, "codes at rest: redeem_codes keeps the code sealed, its key id and mask",
              (_SEALED_CODES,)),
    Migration(14, "fingerprints of the code keys in use", (_CODE_KEYS,)),
    Migration(
        15,
        "narrow export mark: codes keep export_seq, who/when live in export_batches",
        (_EXPORT_SEQ_COLUMN, _EXPORT_SEQ_NUMBER, _EXPORT_SEQ_KEY, _EXPORT_SEQ_START,
         _CODE_EXPORT_SEQ, _CODE_EXPORT_SEQ_FILL, _CODE_EXPORT_WIDE_DROP),
    ),
)
