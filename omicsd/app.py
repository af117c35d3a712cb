"""Composition root: build the services, the ASGI application and (later) the scheduler from settings.

Owns: wiring. Everything is constructed here and handed down; no module reaches for globals.
Must not: hold behaviour of its own beyond routing the few non-API paths (``/health``, exports).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from omicsd import __version__
from omicsd.blobs import open_store as open_blobs
from omicsd.config import Settings
from omicsd.domain.ids import Arns
from omicsd.engines.spec import ExecutorSpec
from omicsd.logs.files import LogReader, LogWriter
from omicsd.protocol import asgi, exports
from omicsd.protocol import model as wire_model
from omicsd.protocol.handlers import build as build_handlers
from omicsd.protocol.handlers import logs as logs_handlers
from omicsd.protocol.handlers import pricing as pricing_handlers
from omicsd.protocol.handlers._common import EXPORT_PREFIX
from omicsd.scheduler.loop import Scheduler, SchedulerConfig
from omicsd.services import Services
from omicsd.services._run_requests import RunPolicy
from omicsd.services.batches import BatchService
from omicsd.services.configurations import ConfigurationService
from omicsd.services.logs import LogsService
from omicsd.services.manifest import ManifestWriter
from omicsd.services.pricing import PricingService, load_price_list
from omicsd.services.run_caches import RunCacheService
from omicsd.services.run_events import RunEventApplier
from omicsd.services.run_groups import RunGroupService
from omicsd.services.runs import RunService
from omicsd.services.tags import TagService
from omicsd.services.tasks import TaskService
from omicsd.services.workflows import WorkflowService
from omicsd.store import open_store
from omicsd.store import run_caches as cache_store
from omicsd.store import run_groups as group_store
from omicsd.store import runs as run_store
from omicsd.store import workflows as workflow_store

logger = logging.getLogger(__name__)

INLINE_OPERATIONS = frozenset({"GetRun"})
"""Operations answered on the event loop when the store allows it (one prepared read each; see
:class:`omicsd.protocol.asgi.InlineReads`). GetRun is what clients poll while they wait for a run."""

Scope = dict[str, Any]


def build_services(settings: Settings) -> Services:
    """Open the store and blobs and build every service."""
    data = settings.data_path
    data.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.store_url)
    blobs = open_blobs(root=settings.buckets_path, s3_endpoint_url=settings.blobs.s3_endpoint_url)
    arns = Arns(region=settings.identity.region, account_id=settings.identity.account_id)
    workflows = WorkflowService(
        store,
        arns=arns,
        blobs=blobs,
        definitions_dir=data / "definitions",
        repositories_root=settings.repositories.root,
    )
    runs = RunService(
        store,
        arns=arns,
        logs=LogWriter(data / "logs"),
        policy=RunPolicy(
            max_stored_runs=settings.runs.max_stored_runs,
            default_storage_type=settings.runs.default_storage_type,
            default_storage_capacity=settings.runs.default_storage_capacity,
        ),
    )
    tasks = TaskService(store, arns=arns)
    prices = load_price_list()
    runs.finished = ManifestWriter(store, arns=arns, writer=runs.logs, prices=prices)
    run_groups = RunGroupService(store, arns=arns)
    runs.references["runGroupId"] = run_groups.lookup
    run_caches = RunCacheService(store, arns=arns)
    runs.references["cacheId"] = run_caches.lookup
    configurations = ConfigurationService(store, arns=arns)
    runs.references["configurationName"] = configurations.lookup
    batches = BatchService(store, arns=arns, runs=runs, blobs=blobs, principal_arn=settings.identity.caller_arn)
    tags = TagService(store, arns=arns)
    tags.register(
        "workflow", lambda conn, ref: workflow_store.get(conn, ref.resource_id, ref.version_name or "") is not None
    )
    tags.register("run", lambda conn, ref: run_store.get(conn, ref.resource_id) is not None)
    tags.register("runGroup", lambda conn, ref: group_store.get(conn, ref.resource_id) is not None)
    tags.register("runCache", lambda conn, ref: cache_store.get(conn, ref.resource_id) is not None)
    tags.register("configuration", configurations.exists)
    tags.register("runBatch", batches.exists)
    return Services(
        arns=arns,
        principal_arn=settings.identity.caller_arn,
        workflows=workflows,
        tags=tags,
        runs=runs,
        tasks=tasks,
        run_events=RunEventApplier(runs, tasks),
        run_groups=run_groups,
        run_caches=run_caches,
        logs=LogsService(LogReader(data / "logs"), region=arns.region, account_id=arns.account_id),
        pricing=PricingService(prices, region=arns.region),
        configurations=configurations,
        batches=batches,
    )


def build_scheduler(settings: Settings, services: Services) -> Scheduler:
    """The scheduler that admits and supervises runs."""
    executor = settings.executor
    max_active = settings.runs.max_concurrent_runs or max(4, 2 * (os.cpu_count() or 1))
    return Scheduler(
        services,
        SchedulerConfig(
            data_dir=settings.data_path,
            buckets_root=settings.buckets_path,
            s3_endpoint_url=settings.blobs.s3_endpoint_url,
            region=settings.identity.region,
            account=settings.identity.account_id,
            executor=ExecutorSpec(
                name=executor.name,
                cpus=executor.cpus,
                memory_gib=executor.memory_gib,
                gpus=executor.gpus,
                network_isolation=executor.network_isolation,
            ),
            max_active_runs=max_active,
            higher_first=settings.runs.priority_order != "lower-first",
            forkserver=settings.server.warm_drivers,
            warm_idle_seconds=settings.server.warm_drivers_idle_seconds,
        ),
    )


def build_app(settings: Settings, services: Services | None = None) -> OmicsdApp:
    """The ASGI application ``omicsd serve`` runs."""
    return OmicsdApp(settings, services or build_services(settings))


class OmicsdApp:
    """Dispatch ``/health`` and export downloads; everything else is the AWS API."""

    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services
        store = services.runs.store
        self.api = asgi.new(
            model=wire_model.load("omics"),
            handlers=build_handlers(services),
            strict=settings.server.strict_output,
            json_services=[
                asgi.ServiceBinding(wire_model.load("logs"), logs_handlers.handlers(services.logs)),
                asgi.ServiceBinding(wire_model.load("pricing"), pricing_handlers.handlers(services.pricing)),
            ],
            inline=asgi.InlineReads(INLINE_OPERATIONS, store.inline_reads) if store.supports_inline_reads else None,
        )
        self.exports = exports.router(services)
        self.scheduler = build_scheduler(settings, services) if settings.server.scheduler else None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """ASGI entry point."""
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        path = scope.get("path", "")
        if kind == "http" and path == "/health":
            body = json.dumps({"status": "ok", "version": __version__}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
        elif kind == "http" and path.startswith(EXPORT_PREFIX + "/"):
            await self.exports(scope, receive, send)
        else:
            await self.api(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.startup()
                except Exception as exc:  # reported to the server, which exits
                    logger.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def startup(self) -> None:
        """Resume interrupted background work."""
        resumed = self.services.workflows.resume()
        if resumed:
            logger.info("workflow.resume count=%d", resumed)
        if self.scheduler is not None:
            self.scheduler.start()

    def shutdown(self) -> None:
        """Stop background work cleanly (run drivers keep going and are re-attached on the next start)."""
        if self.scheduler is not None:
            self.scheduler.stop()
        self.api.close()
        self.services.close()
