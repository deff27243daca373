"""Typed settings: the only module that reads the environment (prefix ``REDEEMFLOW_``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import orjson
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.codes.protection import CodeProtector
from core.errors import ConfigurationError


class RateLimitTier(BaseSettings):
    """Redemption attempts allowed per product line in a sliding hour and day (seed 000 防刷)."""

    hour: int = Field(default=100_000, ge=1)
    day: int = Field(default=1_000_000, ge=1)


class Settings(BaseSettings):
    """Everything a redeemflow process needs to connect and to tune itself.

    Defaults point at the services of a development machine: MariaDB root@127.0.0.1:3306
    database ``redeemflow``, Redis 127.0.0.1:6379 and a Kafka-compatible broker on 9092.
    """

    model_config = SettingsConfigDict(
        env_prefix="REDEEMFLOW_", env_nested_delimiter="__", extra="ignore"
    )

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_session_timeout_ms: int = Field(default=6000, ge=1000)
    kafka_heartbeat_interval_ms: int = Field(default=1500, ge=100)
    topic_partitions: int = Field(default=8, ge=1, le=1024)
    control_topic_partitions: int = Field(default=1, ge=1, le=1024)
    """Partitions of the low-volume topics (tenant, campaign, compensation, dead letters)."""
    topic_replication_factor: int = Field(default=1, ge=1)
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")
    consumer_group: str = "redeemflow"
    consumer_fetch_max_wait_ms: int = Field(default=10, ge=1, le=30_000)
    consumer_fetch_min_interval_ms: int = Field(default=10, ge=0, le=10_000)
    """Least time between two fetch requests to one broker (0: fetch again at once)."""
    producer_linger_ms: int = Field(default=1, ge=0, le=1000)
    producer_delivery_timeout_ms: int = Field(default=30_000, ge=100, le=900_000)
    """How long a produced message may wait for the broker before its batch fails with
    BrokerUnavailable (and is retried, or left to compensation)."""
    database_url: str = "mysql+pymysql://root@127.0.0.1:3306/redeemflow"
    database_pool_size: int = Field(default=8, ge=1)
    hot_path_mysql_driver: str = Field(default="auto", pattern=r"^(auto|pymysql|mysqldb)$")
    """Driver of the redemption hot path's engine: ``auto`` takes mysqlclient (C, ~10 % less
    worker CPU per redemption) when installed, else the driver of ``database_url``."""
    export_mysql_driver: str = Field(default="auto", pattern=r"^(auto|pymysql|mysqldb)$")
    """Driver of the bulk engine (code exports, generation's LOAD DATA), chosen like
    ``hot_path_mysql_driver`` (mysqlclient decodes the rows and sends a load's file in C:
    less CPU per exported code, and a load does not wait for the GIL)."""
    export_writer_thread: bool = False
    """Write export files on a thread of their own, so the file could take chunk k while
    the server marks it. Off: on the shared machine it cost 16-30 % more process CPU and
    every paired run was slower (docs/performance.md); to be compared on a quiet one."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    """One Redis (``redis://host:port/db``), or a Redis Cluster: ``redis+cluster://host:port,
    host:port`` (any reachable nodes; the rest are discovered) or a plain URL with
    ``redis_cluster`` set."""
    redis_cluster: bool = False
    """Treat ``redis_url`` as a seed node of a Redis Cluster (implied by ``redis+cluster://``)."""
    redis_key_prefix: str = Field(default="rf", pattern=r"^[A-Za-z0-9_.-]+$")
    redis_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    """How long opening a Redis connection may take before it fails (CacheUnavailable)."""
    redis_socket_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    """How long one Redis command may wait for its reply: a hung Redis fails the batch as
    retryable after this long instead of holding it forever."""
    code_secret: SecretStr = SecretStr("dev-only-code-secret-change-me")
    tenant_code_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    # -- codes at rest (core/codes/protection.py, docs/codes.md "Codes at rest") ----------
    code_keys_file: str = ""
    """A JSON key file ``{"lookup_key": b64, "active_key_id": id, "keys": {id: b64}}``
    (32-byte keys, base64); the values below, when set, win over the file's."""
    code_lookup_key: SecretStr = SecretStr("")
    """Base64 key of the code lookup HMAC: needed to redeem; never rotated."""
    code_keys: dict[str, SecretStr] = Field(default_factory=dict)
    """Code encryption keys by key id (base64): the active one and older readable ones."""
    code_key_id: str = ""
    """The key id new seals use (``keys rotate`` re-seals older rows with it)."""
    compensation_threshold_seconds: int = Field(default=300, ge=1)
    compensation_sweep_interval_seconds: int = Field(default=60, ge=1)
    #: How far back before the cutoff a job without a tenant looks for stuck codes (each
    #: sweep reads the granted redemptions of this window; a tenant's job reads all of them).
    compensation_stuck_window_seconds: int = Field(default=600, ge=1)
    redeem_batch_size: int = Field(default=1000, ge=1)
    redeem_batch_window_seconds: float = Field(default=0.01, gt=0)
    worker_gc_gen0_threshold: int = Field(default=20_000, ge=700)
    """Allocations between two young-generation garbage collections in a worker or gateway."""
    redeem_batches_in_flight: int = Field(default=6, ge=1, le=32)
    """Redemption batches processed at once, overlapping stage by stage (1: one at a time)."""
    negative_cache_seconds: int = Field(default=60, ge=1)
    tenant_status_refresh_seconds: float = Field(default=2.0, gt=0, le=300)
    """How old a worker's copy of a tenant's status may get: a SUSPENDED or CLOSED tenant
    stops redeeming on every worker within this long of its tenant.updated being applied."""
    rate_limits: dict[str, RateLimitTier] = Field(default_factory=dict)
    default_rate_limit: RateLimitTier = Field(default_factory=RateLimitTier)
    user_failed_attempts_per_hour: int = Field(default=20, ge=1)
    device_failed_attempts_per_hour: int = Field(default=50, ge=1)
    worker_web_port: int = Field(default=6066, ge=0, le=65535)
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8080, ge=0, le=65535)
    log_level: str = "INFO"
    # -- observability and the HTTP gateway (docs/gateway.md) --------------------------
    log_format: str = Field(default="json", pattern=r"^(json|text)$")
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9108, ge=0, le=65535)
    """The worker's /metrics port (0: a free port, logged). A port already taken stops the
    worker: each worker on a host needs its own (``redeemflow worker --metrics-port``)."""
    metrics_enabled: bool = True
    """Whether the worker serves /metrics at all."""
    consumer_lag_interval_seconds: float = Field(default=15.0, gt=0)
    gateway_result_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    gateway_max_body_bytes: int = Field(default=4096, ge=256, le=1_048_576)
    gateway_result_cache_size: int = Field(default=10_000, ge=1)
    api_key_cache_seconds: float = Field(default=30.0, ge=0)
    gateway_producer_linger_ms: int = Field(default=5, ge=0, le=100)
    """librdkafka linger of a gateway process's producer: requests of many connections share
    one produce request (fewer broker round trips and less broker CPU per redemption)."""
    gateway_max_header_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)
    """Total size of a request's headers above which the gateway answers 431."""
    gateway_cors_origins: dict[str, list[str]] = Field(default_factory=dict)
    """Browser origins allowed per tenant id, e.g. ``{"T1": ["https://shop.example"]}``."""
    token_master_secret: SecretStr = SecretStr("dev-only-token-master-secret-change-me")
    """Derives each tenant's token signing secrets (core/tokens.py); never leaves the server."""
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)
    # -- the back office (admin/, docs/admin.md) ----------------------------------------
    admin_host: str = "127.0.0.1"
    admin_port: int = Field(default=8090, ge=0, le=65535)
    admin_session_idle_seconds: int = Field(default=1800, ge=30)
    admin_session_max_seconds: int = Field(default=43_200, ge=60)
    admin_cookie_secure: bool = False
    """Mark the session cookie Secure (set it when the back office is served over HTTPS)."""
    admin_login_max_failures: int = Field(default=10, ge=1)
    """Consecutive failed sign-ins that lock an account for ``admin_lockout_seconds``."""
    admin_lockout_seconds: int = Field(default=900, ge=1)
    admin_ip_max_failures: int = Field(default=50, ge=1)
    """Failed sign-ins from one address within ``admin_ip_window_seconds`` before it is refused."""
    admin_ip_window_seconds: int = Field(default=900, ge=1)
    admin_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    admin_export_max_codes: int = Field(default=1_000_000, ge=1)
    admin_counts_cache_seconds: float = Field(default=30.0, ge=0)
    """How long the dashboard's and campaign pages' code counts are reused (0: never)."""

    @field_validator("database_url")
    @classmethod
    def _database_url_is_mysql(cls, value: str) -> str:
        scheme, _, rest = value.partition("://")
        if not rest or not scheme.lower().startswith(("mysql", "mariadb")):
            raise ValueError("database_url must be a MySQL/MariaDB URL (mysql+pymysql://...)")
        if not urlsplit(value).path.strip("/"):
            raise ValueError("database_url must name a database")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_is_usable(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in REDIS_SCHEMES:
            raise ValueError(
                f"redis_url must start with one of {', '.join(sorted(REDIS_SCHEMES))}://"
            )
        if scheme.endswith("+cluster"):
            cluster_nodes(value)
        return value

    @property
    def redis_is_cluster(self) -> bool:
        """Whether Redis is a cluster (``redis+cluster://`` URL or ``redis_cluster``)."""
        return self.redis_cluster or self.redis_url.lower().split("://", 1)[0].endswith("+cluster")

    @property
    def redis_cluster_nodes(self) -> list[tuple[str, int]]:
        """The cluster's seed nodes as (host, port) pairs (one for a plain URL)."""
        return cluster_nodes(self.redis_url)

    def topic(self, name: str) -> str:
        """The full topic name for a contract topic, with the optional per-deployment prefix."""
        return f"{self.topic_prefix}{name}"

    def code_secret_for(self, tenant_id: str) -> bytes:
        """The HMAC secret that signs a tenant's codes (per-tenant override, else the default)."""
        secret = self.tenant_code_secrets.get(tenant_id, self.code_secret)
        return secret.get_secret_value().encode()

    @cached_property
    def code_protector(self) -> CodeProtector:
        """Lookups and seals of codes under the configured keys (KeyMaterialError when they
        are unusable). Without any key configured: fixed development keys, like
        ``code_secret``'s default, never to be used in production."""
        from core.codes.keyfile import load_code_keys

        return CodeProtector(load_code_keys(
            self.code_keys_file,
            self.code_lookup_key.get_secret_value(),
            {k: v.get_secret_value() for k, v in self.code_keys.items()},
            self.code_key_id,
        ))

    def rate_limit_for(self, product_code: str) -> RateLimitTier:
        """The hour/day limits of a product line."""
        return self.rate_limits.get(product_code, self.default_rate_limit)

    def to_env(self) -> dict[str, str]:
        """These settings as ``REDEEMFLOW_*`` variables, so a child process sees the same."""
        env = {}
        for name, value in self.model_dump(mode="json").items():
            if isinstance(getattr(self, name), SecretStr):
                value = getattr(self, name).get_secret_value()
            elif name in ("tenant_code_secrets", "code_keys"):
                value = {k: v.get_secret_value() for k, v in getattr(self, name).items()}
            text = value if isinstance(value, str) else orjson.dumps(value).decode()
            env[f"REDEEMFLOW_{name.upper()}"] = text
        return env


REDIS_SCHEMES = frozenset({"redis", "rediss", "unix", "redis+cluster", "rediss+cluster"})


def cluster_nodes(url: str) -> list[tuple[str, int]]:
    """The ``host:port`` pairs of a Redis URL (``redis+cluster://a:1,b:2`` lists several).

    Raises ValueError naming the first entry that is not ``host:port``.
    """
    rest = url.split("://", 1)[1]
    rest = rest.rsplit("@", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    nodes = []
    for entry in rest.split(","):
        host, sep, port = entry.strip().rpartition(":")
        if not sep:
            host, port = entry.strip(), "6379"
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"redis_url node {entry!r} is not host:port")
        nodes.append((host.strip("[]"), int(port)))
    return nodes


def child_environment(settings: Settings) -> dict[str, str]:
    """The current environment without ``REDEEMFLOW_*`` variables, plus ``settings`` as such."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("REDEEMFLOW_")}
    return {**base, **settings.to_env()}


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides winning.

    Raises ConfigurationError naming each invalid setting (and its environment variable),
    so an entry point reports bad configuration in one line instead of a traceback.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise ConfigurationError(f"invalid settings: {problems}") from exc


def _describe(error: Mapping[str, Any]) -> str:
    field = ".".join(str(part) for part in error.get("loc", ())) or "settings"
    env = f"REDEEMFLOW_{field.split('.')[0].upper()}"
    return f"{field} ({env}): {error.get('msg', 'invalid')}"
