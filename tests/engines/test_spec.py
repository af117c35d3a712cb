import json

import pytest

from omicsd.engines.spec import CacheSpec, ExecutorSpec, RunSpec, read_spec, spec_path, write_spec


def make_spec(**overrides):
    base = dict(
        run_id="1234567",
        run_uuid="0b3c1e4e-0000-4000-8000-000000000000",
        engine="WDL",
        workflow_name="hello",
        definition_dir="/defs/1",
        main="main.wdl",
        parameters={"name": "x", "files": ["s3://b/a.txt"]},
        run_output_uri="s3://out/runs/1234567",
        buckets_root="/data/buckets",
        logs_root="/data/logs",
        capacity_dir="/data/capacity",
    )
    base.update(overrides)
    return RunSpec(**base)


def test_round_trip_through_run_dir(tmp_path):
    spec = make_spec(
        log_level="ERROR",
        network=True,
        pool="7654321",
        storage_type="STATIC",
        storage_capacity_gib=1200,
        executor=ExecutorSpec(cpus=2, memory_gib=4, network_isolation="none"),
        cache=CacheSpec(cache_id="1111111", cache_uri="s3://c/", cache_behavior="CACHE_ALWAYS"),
    )
    path = write_spec(tmp_path, spec)
    assert path == spec_path(tmp_path) and path.name == "spec.json"
    assert read_spec(tmp_path) == spec
    body = json.loads(path.read_text())
    assert body["executor"]["cpus"] == 2 and body["cache"]["cache_id"] == "1111111"
    assert not list(tmp_path.glob(".*tmp"))


def test_defaults_and_unknown_keys():
    body = make_spec().to_dict()
    del body["log_level"], body["executor"], body["cache"]
    body["added_later"] = {"x": 1}
    spec = RunSpec.from_dict(body)
    assert spec.log_level == "ALL" and spec.network is False and spec.storage_type == "DYNAMIC"
    assert spec.executor == ExecutorSpec() and spec.cache is None
    assert spec.main_path.as_posix() == "/defs/1/main.wdl"


@pytest.mark.parametrize(
    "change",
    [
        {"log_level": "VERBOSE"},
        {"storage_type": "HUGE"},
        {"parameters": [1, 2]},
    ],
)
def test_invalid_values_are_rejected(change):
    body = make_spec().to_dict()
    body.update(change)
    with pytest.raises(ValueError):
        RunSpec.from_dict(body)


def test_missing_required_field_is_rejected():
    body = make_spec().to_dict()
    del body["run_output_uri"]
    with pytest.raises(ValueError, match="run_output_uri"):
        RunSpec.from_dict(body)


def test_read_missing_or_garbage(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_spec(tmp_path)
    spec_path(tmp_path).write_text("{nope")
    with pytest.raises(ValueError):
        read_spec(tmp_path)
