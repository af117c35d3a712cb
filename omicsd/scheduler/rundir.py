"""The run directory a driver starts in: the workflow's definition, unpacked, and the run's ``spec.json``.

Owns: :func:`prepare`, what the scheduler writes into ``<data_dir>/runs/<uuid>/`` before it launches the run's
driver (the driver reads nothing else of the server's: the spec names the buckets, the log store, the capacity
ledger and the run cache).
Must not: start the driver (:mod:`omicsd.scheduler.supervisor` does) or change the run's status.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from omicsd.domain.runs import RunRecord
from omicsd.engines.definition import unpack_definition
from omicsd.engines.spec import CacheSpec, RunSpec, write_spec
from omicsd.services import Services

if TYPE_CHECKING:
    from omicsd.scheduler.loop import SchedulerConfig

DEFINITION_DIR = "definition"


def prepare(record: RunRecord, run_dir: Path, *, services: Services, config: SchedulerConfig) -> RunSpec:
    """Unpack ``record``'s workflow definition into ``run_dir`` and write its spec; returns the spec.

    A definition left by an earlier attempt to launch the run is replaced.

    Raises:
        OmicsdError: the workflow version or the run cache is gone.
        OSError: the run directory cannot be written.
    """
    definition = run_dir / DEFINITION_DIR
    if definition.exists():
        shutil.rmtree(definition)
    definition.mkdir(parents=True)
    archive = services.workflows.archive(record.workflow_id, record.workflow_version_name or "")
    unpack_definition(archive, definition)
    spec = RunSpec(
        run_id=record.id,
        run_uuid=record.uuid,
        engine=record.engine or "WDL",
        workflow_name=record.workflow_name or "",
        definition_dir=str(definition),
        main=record.main or "",
        parameters=record.parameters or {},
        run_output_uri=record.run_output_uri or record.output_uri,
        buckets_root=str(config.buckets_root),
        logs_root=str(config.data_dir / "logs"),
        capacity_dir=str(config.data_dir / "capacity"),
        s3_endpoint_url=config.s3_endpoint_url,
        log_level=record.log_level or "ALL",
        network=record.networking_mode == "VPC",
        pool=record.run_group_id or "",
        storage_type=record.storage_type or "DYNAMIC",
        storage_capacity_gib=record.storage_capacity or 1200,
        executor=config.executor,
        region=config.region,
        account=config.account,
        cache=_cache_spec(record, services),
        engine_settings=record.engine_settings if isinstance(record.engine_settings, dict) else None,
    )
    write_spec(run_dir, spec)
    return spec


def _cache_spec(record: RunRecord, services: Services) -> CacheSpec | None:
    if not record.cache_id:
        return None
    cache = services.run_caches.get(record.cache_id).record
    return CacheSpec(
        cache_id=cache.id, cache_uri=cache.entries_uri, cache_behavior=record.cache_behavior or cache.cache_behavior
    )
