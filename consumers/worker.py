"""A worker process: one faust app running every agent over shared adapters."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import faust

from compensation.agent import compensation_agent
from compensation.sweep import register_sweep
from consumers.app import create_faust_app
from consumers.batching import subscribe
from consumers.campaign_agent import register_campaign_agent
from consumers.probes import register_probes
from consumers.redeem_agent import register_redeem_agent
from consumers.tenant_agent import register_tenant_agent
from core.bootstrap import Container, build_redemption_service, lag_reader
from core.redemption.service import RedemptionService

log = logging.getLogger("redeemflow.worker")


@dataclass
class WorkerApp:
    """The faust app and what its agents share."""

    app: faust.App
    container: Container
    service: RedemptionService


def build_worker(container: Container, *, web_port: int | None = None) -> WorkerApp:
    """Wire the faust app and register every agent (no connection is made here)."""
    settings = container.settings
    app = create_faust_app(settings, web_port=web_port)
    publisher = container.publisher
    service = build_redemption_service(container, publisher)
    register_redeem_agent(app, settings, service, publisher)
    register_probes(app, container)
    register_tenant_agent(app, container)
    register_campaign_agent(app, container)
    subscribe(app, compensation_agent(container))
    register_sweep(app, settings, publisher)
    return WorkerApp(app, container, service)


def run_worker(
    container: Container, *, web_port: int | None = None, loglevel: str = "info"
) -> None:
    """Run a worker in the foreground until SIGTERM/SIGINT (then finish the batch in hand)."""
    from core.adapters.mysql.code_key_store import verify_code_keys
    from core.logging_setup import logging_config
    from core.metrics import start_worker_metrics

    # a worker with another lookup key would answer NOT_FOUND to every code: refuse to start
    verify_code_keys(container.engine, container.settings.code_protector)
    _use_uvloop()
    worker = build_worker(container, web_port=web_port)
    _tune_gc(container.settings.worker_gc_gen0_threshold)
    # bound before the worker starts, so a taken port stops it at once (ConfigurationError)
    metrics_url = start_worker_metrics(container.settings,
                                       read_lag=lag_reader(container.settings, worker.app.conf.id),
                                       read_generated=container.generation.generated_code_counts)
    plain = _PlainWorker(
        worker.app, loglevel=loglevel, logging_config=logging_config(container.settings)
    )
    plain.metrics_url = metrics_url
    plain.execute_from_commandline()


def _use_uvloop() -> None:
    """Run the worker's event loop on uvloop (libuv): the loop's own overhead per message,
    callback and future is a good part of a busy worker's CPU time."""
    import asyncio

    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _tune_gc(gen0_threshold: int) -> None:
    """Collect cyclic garbage less often: a busy worker allocates so fast that the default
    threshold (700) runs the collector thousands of times a second. Measured in paired runs
    of 20,000 redemptions: 5-15 % less worker CPU per redemption. Objects built at start-up
    are frozen out of the collector's view for good."""
    import gc

    gc.set_threshold(gen0_threshold, 50, 1000)
    gc.freeze()


class _PlainWorker(faust.Worker):
    """faust's worker without its terminal spinner, whose handler puts the root logger at
    DEBUG: every aiokafka debug call then built a log record only to drop it (measured: ~9 %
    of the worker's GIL time at 500 requests/s)."""

    metrics_url: str | None = None

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        """Keep the root logger at the requested level; no spinner. Logging is configured
        now, so say where this worker's metrics are (the port may have been picked)."""
        self.spinner = None
        if level:
            logger.setLevel(level)
        if self.metrics_url:
            log.info("metrics on %s", self.metrics_url)
        else:
            log.info("metrics disabled (REDEEMFLOW_METRICS_ENABLED=false)")
