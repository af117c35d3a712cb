"""The run directory the scheduler prepares: the definition unpacked and a spec naming the server's stores."""

from __future__ import annotations

import uuid
from pathlib import Path

from omicsd.app import build_scheduler
from omicsd.config import Settings
from omicsd.engines.spec import read_spec
from omicsd.scheduler import rundir
from omicsd.services import Services
from tests.support.runs import register_workflow, start_run


def _run(services: Services, **members: object) -> str:
    return start_run(services, register_workflow(services), **members).id


def test_the_definition_is_unpacked_and_the_spec_written(
    services: Services, settings: Settings, tmp_path: Path
) -> None:
    run_id = _run(services, logLevel="ERROR", storageType="STATIC", storageCapacity=2400)
    record = services.runs.get(run_id).record
    config = build_scheduler(settings, services).config
    run_dir = tmp_path / record.uuid
    (run_dir / rundir.DEFINITION_DIR).mkdir(parents=True)
    (run_dir / rundir.DEFINITION_DIR / "stale.wdl").write_text("left by an earlier attempt")

    spec = rundir.prepare(record, run_dir, services=services, config=config)

    assert read_spec(run_dir) == spec
    assert sorted(p.name for p in (run_dir / rundir.DEFINITION_DIR).iterdir()) == ["main.wdl"]
    assert (spec.run_id, spec.run_uuid, spec.engine, spec.main) == (run_id, record.uuid, "WDL", "main.wdl")
    assert spec.parameters == {"name": "n"}
    assert (spec.log_level, spec.storage_type, spec.storage_capacity_gib) == ("ERROR", "STATIC", 2400)
    assert spec.logs_root == str(config.data_dir / "logs")
    assert spec.capacity_dir == str(config.data_dir / "capacity")
    assert spec.buckets_root == str(config.buckets_root)
    assert spec.cache is None


def test_a_run_with_a_cache_names_it_and_its_behavior(services: Services, settings: Settings, tmp_path: Path) -> None:
    cache = services.run_caches.create(
        services.caller(None), {"cacheS3Location": "s3://cache/", "requestId": str(uuid.uuid4())}
    ).record
    run_id = _run(services, cacheId=cache.id, cacheBehavior="CACHE_ALWAYS")
    record = services.runs.get(run_id).record
    spec = rundir.prepare(
        record, tmp_path / record.uuid, services=services, config=build_scheduler(settings, services).config
    )
    assert spec.cache is not None
    assert (spec.cache.cache_id, spec.cache.cache_uri, spec.cache.cache_behavior) == (
        cache.id,
        cache.entries_uri,
        "CACHE_ALWAYS",
    )
