"""Run batches at the service level: merging, submission, late failures, cancel/delete, restarts, quotas."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from omicsd.app import build_services
from omicsd.blobs import open_store as open_blobs
from omicsd.config import Settings
from omicsd.domain.batches import BatchStatus, SubmissionStatus
from omicsd.domain.states import RunStatus
from omicsd.errors import ConflictError, NotFoundError, ValidationError
from omicsd.logs import streams
from omicsd.logs.files import LogReader
from omicsd.protocol.handlers import batches as batch_handlers
from omicsd.protocol.handlers import configurations as configuration_handlers
from omicsd.services import Services
from omicsd.services.batches import BatchService
from omicsd.services.configurations import ConfigurationService
from omicsd.store import batches as batch_store
from omicsd.store import tags as tag_store
from tests.conftest import make_settings
from tests.support import runs as runs_support
from tests.support.runs import ROLE

HELLO = """version 1.0
workflow hello {
  input { String name  Int times = 1 }
  call greet { input: name = name, times = times }
}
task greet {
  input { String name  Int times }
  command <<< echo ~{name} ~{times} >>>
}
"""


def wire(services: Services, settings: Settings, **batch_options: Any) -> tuple[BatchService, ConfigurationService]:
    """Attach the batch and configuration services to ``services`` unless the composition root already did."""
    configurations = getattr(services, "configurations", None)
    if configurations is None:
        configurations = ConfigurationService(services.runs.store, arns=services.arns)
        setattr(services, "configurations", configurations)  # noqa: B010
        services.runs.references["configurationName"] = configurations.lookup
        services.tags.register("configuration", configurations.exists)
    batches = getattr(services, "batches", None)
    if batches is None or batch_options:
        blobs = open_blobs(root=settings.buckets_path, s3_endpoint_url=settings.blobs.s3_endpoint_url)
        batches = BatchService(
            services.runs.store,
            arns=services.arns,
            runs=services.runs,
            blobs=blobs,
            principal_arn=services.principal_arn,
            **batch_options,
        )
        setattr(services, "batches", batches)  # noqa: B010
        services.tags.register("runBatch", batches.exists)
    return batches, configurations


def with_handlers(original: Callable[[Services], dict[str, Any]]) -> Callable[[Services], dict[str, Any]]:
    """``omicsd.app.build_handlers`` plus the batch and configuration handlers (until the registry has them)."""

    def build(services: Services) -> dict[str, Any]:
        registry = original(services)
        for module in (batch_handlers, configuration_handlers):
            for name, handler in module.handlers(services).items():
                registry.setdefault(name, handler)
        return registry

    return build


@contextmanager
def stepping(services: Services, interval: float = 0.02) -> Iterator[None]:
    """Advance batches and configurations in a background thread, as the scheduler loop does."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            busy = getattr(services, "batches").step()  # noqa: B009
            getattr(services, "configurations").step()  # noqa: B009
            if not busy:
                stop.wait(interval)

    thread = threading.Thread(target=loop, name="test-batch-stepper", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def register_workflow(services: Services, text: str = HELLO) -> str:
    return runs_support.register_workflow(services, text)


def settle(batches: BatchService, batch_id: str, until: tuple[str, ...], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        view = batches.get(batch_id)
        if view.record.status.value in until:
            return view
        assert time.monotonic() < deadline, f"batch still {view.record.status}"
        if not batches.step():
            time.sleep(0.01)


def write_settings(settings: Settings, entries: Any, key: str = "batch/settings.json") -> str:
    path = settings.buckets_path / "inputs" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(entries if isinstance(entries, str) else json.dumps(entries))
    return f"s3://inputs/{key}"


def start(batches: BatchService, services: Services, workflow_id: str, settings: dict[str, Any], **kw: Any) -> str:
    default = {"workflowId": workflow_id, "roleArn": ROLE, "outputUri": "s3://out/batch/", **kw.pop("default", {})}
    params = {
        "requestId": kw.pop("requestId", str(uuid.uuid4())),
        "defaultRunSetting": default,
        "batchRunSettings": settings,
    }
    return batches.start(services.caller(None), {**params, **kw}).record.id


def finish(services: Services, run_id: str, status: RunStatus = RunStatus.COMPLETED) -> None:
    record = services.runs.get(run_id).record
    if status != RunStatus.CANCELLED:
        assert services.runs.transition(record, RunStatus.RUNNING)
        record = services.runs.get(run_id).record
    assert services.runs.transition(record, status)


@pytest.fixture
def wired(services: Services, settings: Settings) -> tuple[Services, BatchService, str]:
    batches, _ = wire(services, settings)
    return services, batches, register_workflow(services)


def test_inline_batch_merges_settings_and_reaches_processed(wired: tuple[Services, BatchService, str]) -> None:
    services, batches, wid = wired
    inline = [
        {"runSettingId": "a", "parameters": {"name": "alpha"}, "runTags": {"team": "x", "own": "a"}},
        {"runSettingId": "b", "name": "bee", "priority": 7, "outputUri": "s3://elsewhere/b/"},
        {"runSettingId": "bad", "parameters": {"nope": 1}},
    ]
    batch_id = start(
        batches,
        services,
        wid,
        {"inlineSettings": inline},
        default={"name": "dflt", "priority": 3, "parameters": {"name": "d", "times": 2}, "runTags": {"team": "t"}},
        tags={"batch": "only"},
        batchName="merge",
    )
    view = batches.get(batch_id)
    assert view.record.status == BatchStatus.CREATING and view.tags == {"batch": "only"}
    view = settle(batches, batch_id, ("INPROGRESS",))
    assert view.record.total_runs == 3 and view.record.submitted_time is not None
    assert (view.submission.successful_start, view.submission.failed_start, view.submission.pending_start) == (2, 1, 0)
    assert view.runs.pending == 2

    mapping = {r.run_setting_id: r for r in batches.list_runs(batch_id).items}
    assert mapping["bad"].submission_status == "FAILED" and mapping["bad"].run_id is None
    assert mapping["bad"].submission_failure_reason == "ValidationException"
    assert "nope" in (mapping["bad"].submission_failure_message or "")
    a = services.runs.get(mapping["a"].run_id or "")
    assert a.record.parameters == {"name": "alpha", "times": 2}
    assert a.tags == {"team": "x", "own": "a"}, "run tags merge, batch tags are not copied"
    assert (a.record.name, a.record.priority, a.record.batch_id, a.record.run_setting_id) == ("dflt", 3, batch_id, "a")
    assert a.record.uuid == mapping["a"].run_uuid
    b = services.runs.get(mapping["b"].run_id or "")
    assert (b.record.name, b.record.priority) == ("bee", 7)
    assert b.record.run_output_uri == f"s3://elsewhere/b/{b.record.id}"
    assert b.record.parameters == {"name": "d", "times": 2} and b.tags == {"team": "t"}
    assert {v.record.id for v in services.runs.list(batch_id=batch_id).items} == {a.record.id, b.record.id}

    finish(services, a.record.id)
    batches.step()
    assert batches.get(batch_id).record.status == BatchStatus.INPROGRESS
    finish(services, b.record.id, RunStatus.FAILED)
    view = settle(batches, batch_id, ("PROCESSED",))
    assert view.record.processed_time is not None and view.record.failure_reason is None
    assert (view.runs.completed, view.runs.failed, view.runs.pending) == (1, 1, 0)
    assert view.submission.successful_start == 2 and view.submission.failed_start == 1


BULK_RUNS = int(os.environ.get("OMICSD_BENCH_BATCH_RUNS", "10000"))
"""Size of the bulk submission test; ``OMICSD_BENCH_BATCH_RUNS=100000 pytest -s -k bulk`` is the benchmark."""


def test_s3_settings_batch_is_submitted_in_bulk(tmp_path: Path, db_url: str) -> None:
    total = BULK_RUNS
    settings = make_settings(tmp_path / "big", db_url, server={"scheduler": False}, runs={"max_stored_runs": 2 * total})
    big = build_services(settings)
    try:
        batches, _ = wire(big, settings)
        wid = register_workflow(big)
        entries = [
            {"runSettingId": f"s{i}", "parameters": {"name": f"n{i}"}, "runTags": {"i": str(i)}} for i in range(total)
        ]
        uri = write_settings(settings, entries)
        began = time.monotonic()
        batch_id = start(batches, big, wid, {"s3UriSettings": uri}, default={"runTags": {"all": "yes"}})
        accepted = time.monotonic() - began
        latencies: list[float] = []
        done = threading.Event()

        def read_while_submitting() -> None:
            while not done.is_set():
                asked = time.monotonic()
                batches.get(batch_id)
                big.runs.list(batch_id=batch_id, max_results=10)
                latencies.append(time.monotonic() - asked)
                done.wait(0.05)

        reader = threading.Thread(target=read_while_submitting)
        reader.start()
        try:
            view = settle(batches, batch_id, ("INPROGRESS", "FAILED"), timeout=600)
        finally:
            done.set()
            reader.join()
        submitted = time.monotonic() - began
        print(
            f"\n{total:,}-run batch on {db_url.split(':')[0]}: accepted in {accepted:.3f}s, all runs PENDING after "
            f"{submitted:.1f}s; GetBatch+ListRuns while submitting: max {max(latencies):.3f}s over {len(latencies)}"
        )
        assert view.record.status == BatchStatus.INPROGRESS, view.record.failure_reason
        assert view.record.total_runs == total
        assert view.submission.successful_start == total and view.runs.pending == total
        last = batches.list_runs(batch_id, run_setting_id=f"s{total - 1}").items[0]
        run = big.runs.get(last.run_id or "")
        assert run.record.parameters == {"name": f"n{total - 1}"} and run.tags == {"all": "yes", "i": str(total - 1)}
        assert len({r.run_id for r in batches.list_runs(batch_id, max_items=100).items}) == 100
    finally:
        big.close()
        big.runs.store.close()


def test_late_validation_failures_fail_the_batch(wired: tuple[Services, BatchService, str], settings: Settings) -> None:
    services, batches, wid = wired
    duplicates = [{"runSettingId": "x"}, {"runSettingId": "y"}, {"runSettingId": "x"}]
    cases = {
        "Expected 3 unique runSettingIds but there were 2": {"inlineSettings": duplicates},
        "Batch has 100001 runs but 100000 runs is the max.": {
            "s3UriSettings": write_settings(settings, [{"runSettingId": str(i)} for i in range(100_001)], "big.json")
        },
        "not valid JSON": {"s3UriSettings": write_settings(settings, "[{not json", "broken.json")},
        "JSON array": {"s3UriSettings": write_settings(settings, {"runSettingId": "a"}, "object.json")},
        "runSettingId": {"s3UriSettings": write_settings(settings, [{"name": "no id"}], "noid.json")},
    }
    for reason, batch_settings in cases.items():
        batch_id = start(batches, services, wid, batch_settings)
        view = settle(batches, batch_id, ("FAILED",))
        assert reason in (view.record.failure_reason or ""), view.record.failure_reason
        assert view.record.failed_time is not None
        assert services.runs.list(batch_id=batch_id).items == []
        assert batches.list(status="FAILED", max_items=100).items


def test_changed_or_missing_settings_file(wired: tuple[Services, BatchService, str], settings: Settings) -> None:
    services, batches, wid = wired
    uri = write_settings(settings, [{"runSettingId": "a", "parameters": {"name": "n"}}], "change.json")
    batch_id = start(batches, services, wid, {"s3UriSettings": uri})
    write_settings(settings, [{"runSettingId": "b", "parameters": {"name": "n"}}], "change.json")
    view = settle(batches, batch_id, ("FAILED",))
    assert "changed" in (view.record.failure_reason or "")

    uri = write_settings(settings, [{"runSettingId": "a", "parameters": {"name": "n"}}], "gone.json")
    batch_id = start(batches, services, wid, {"s3UriSettings": uri})
    (settings.buckets_path / "inputs" / "gone.json").unlink()
    assert "cannot be read" in (settle(batches, batch_id, ("FAILED",)).record.failure_reason or "")

    with pytest.raises(ValidationError, match="cannot be read"):
        start(batches, services, wid, {"s3UriSettings": "s3://inputs/missing.json"})


def test_synchronous_validation(wired: tuple[Services, BatchService, str]) -> None:
    services, batches, wid = wired
    one = {"inlineSettings": [{"runSettingId": "a"}]}
    with pytest.raises(ValidationError, match="exactly one"):
        start(batches, services, wid, {**one, "s3UriSettings": "s3://inputs/x.json"})
    with pytest.raises(ValidationError, match="READY2RUN"):
        start(batches, services, wid, one, default={"workflowType": "READY2RUN"})
    with pytest.raises(ValidationError, match="undefined_param"):
        start(batches, services, wid, one, default={"parameters": {"undefined_param": 1}})
    with pytest.raises(ValidationError, match="roleArn"):
        start(batches, services, wid, one, default={"roleArn": "arn:aws:iam::123456789012:user/bob"})
    with pytest.raises(ValidationError, match="s3://"):
        start(batches, services, wid, one, default={"outputUri": "/tmp/x"})
    with pytest.raises(NotFoundError):
        start(batches, services, "7654321", one)
    with pytest.raises(NotFoundError, match="Run group"):
        start(batches, services, wid, one, default={"runGroupId": "1234567"})
    with pytest.raises(ValidationError, match="configurationName"):
        start(batches, services, wid, one, default={"networkingMode": "VPC"})
    assert batches.list().items == []


def test_per_run_checks_fail_only_their_entry(wired: tuple[Services, BatchService, str], settings: Settings) -> None:
    services, batches, wid = wired
    entries = [
        {"runSettingId": "ok", "parameters": {"name": "n"}},
        {"runSettingId": "missing-param"},
        {"runSettingId": "extra", "parameters": {"name": "n"}, "workflowId": "1"},
        {"runSettingId": "bad-priority", "parameters": {"name": "n"}, "priority": -1},
        {"runSettingId": "bad-uri", "parameters": {"name": "n"}, "outputUri": "http://x"},
        {"runSettingId": "bad-tag", "parameters": {"name": "n"}, "runTags": {"aws:x": "1"}},
    ]
    batch_id = start(batches, services, wid, {"s3UriSettings": write_settings(settings, entries)})
    view = settle(batches, batch_id, ("INPROGRESS",))
    assert (view.submission.successful_start, view.submission.failed_start) == (1, 5)
    failed_runs = batches.list_runs(batch_id, submission_status="FAILED").items
    failed = {r.run_setting_id: r.submission_failure_message for r in failed_runs}
    assert set(failed) == {"missing-param", "extra", "bad-priority", "bad-uri", "bad-tag"}
    assert "name" in (failed["missing-param"] or "") and "workflowId" in (failed["extra"] or "")
    assert "priority" in (failed["bad-priority"] or "") and "s3://" in (failed["bad-uri"] or "")
    assert "aws:" in (failed["bad-tag"] or "")


def test_cancel_mid_submission_then_delete_runs_and_batch(services: Services, settings: Settings) -> None:
    batches, _ = wire(services, settings, chunk_size=100)
    wid = register_workflow(services)
    entries = [{"runSettingId": f"s{i}", "parameters": {"name": "n"}} for i in range(500)]
    batch_id = start(batches, services, wid, {"s3UriSettings": write_settings(settings, entries)})
    while batches.get(batch_id).submission.successful_start == 0:
        batches.step(budget=0)
    view = batches.get(batch_id)
    assert view.record.status == BatchStatus.SUBMITTING and view.submission.successful_start == 100
    assert view.submission.pending_start == 400
    first = batches.list_runs(batch_id, max_items=1).items[0].run_id or ""
    finish(services, first)
    started = batches.list_runs(batch_id, max_items=2).items[1].run_id or ""
    assert services.runs.transition(services.runs.get(started).record, RunStatus.RUNNING)

    with pytest.raises(ConflictError):
        batches.delete_runs(batch_id)
    batches.cancel(batch_id)
    with pytest.raises(ConflictError):
        batches.cancel(batch_id)
    with pytest.raises(ConflictError):
        batches.delete(batch_id)
    for _ in range(20):
        batches.step()
    view = batches.get(batch_id)
    assert view.record.status == BatchStatus.STOPPING, "a started run is still stopping"
    assert services.runs.get(started).record.status == RunStatus.STOPPING
    assert (view.submission.successful_cancel, view.submission.failed_cancel) == (99, 0)
    assert view.submission.successful_start == 100 and view.submission.pending_start == 0
    assert (view.runs.cancelled, view.runs.completed, view.runs.stopping) == (98, 1, 1)
    assert services.runs.transition(services.runs.get(started).record, RunStatus.CANCELLED)
    view = settle(batches, batch_id, ("CANCELLED",))
    assert view.runs.cancelled == 99 and view.record.total_runs == 500

    batches.delete_runs(batch_id)
    view = settle(batches, batch_id, ("RUNS_DELETED", "RUNS_DELETE_FAILED"))
    assert view.record.status == BatchStatus.RUNS_DELETED
    assert (view.submission.successful_delete, view.submission.failed_delete) == (100, 0)
    assert view.runs.deleted == 100 and services.runs.list(batch_id=batch_id).items == []
    with pytest.raises(NotFoundError):
        services.runs.get(first)
    batches.delete(batch_id)
    with pytest.raises(NotFoundError):
        batches.get(batch_id)
    with pytest.raises(NotFoundError):
        batches.cancel(batch_id)
    with pytest.raises(NotFoundError):
        batches.list_runs(batch_id)


def test_submission_resumes_after_a_restart_without_duplicates(services: Services, settings: Settings) -> None:
    batches, _ = wire(services, settings, chunk_size=50)
    wid = register_workflow(services)
    entries = [{"runSettingId": f"s{i}", "parameters": {"name": "n"}} for i in range(175)]
    batch_id = start(batches, services, wid, {"s3UriSettings": write_settings(settings, entries)})
    while batches.get(batch_id).submission.successful_start < 100:
        batches.step(budget=0)
    restarted, _ = wire(services, settings, chunk_size=50)
    view = settle(restarted, batch_id, ("INPROGRESS",))
    assert view.submission.successful_start == 175
    page = restarted.list_runs(batch_id, max_items=100)
    ids = [r.run_setting_id for r in page.items]
    ids += [r.run_setting_id for r in restarted.list_runs(batch_id, max_items=100, token=page.next_token).items]
    assert ids == [f"s{i}" for i in range(175)]
    assert view.runs.pending == 175


def test_request_id_idempotency(wired: tuple[Services, BatchService, str]) -> None:
    services, batches, wid = wired
    one = {"inlineSettings": [{"runSettingId": "a", "parameters": {"name": "n"}}]}
    first = start(batches, services, wid, one, requestId="same")
    assert start(batches, services, wid, one, requestId="same") == first
    with pytest.raises(ConflictError, match="requestId"):
        start(batches, services, wid, {"inlineSettings": [{"runSettingId": "b"}]}, requestId="same")
    assert [b.id for b in batches.list().items] == [first]


def test_stored_runs_quota_fails_the_entries_that_do_not_fit(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path / "quota", db_url, runs={"max_stored_runs": 3})
    small = build_services(settings)
    try:
        batches, _ = wire(small, settings)
        wid = register_workflow(small)
        entries = [{"runSettingId": f"s{i}", "parameters": {"name": "n"}} for i in range(5)]
        batch_id = start(batches, small, wid, {"inlineSettings": entries})
        view = settle(batches, batch_id, ("INPROGRESS",))
        assert (view.submission.successful_start, view.submission.failed_start) == (3, 2)
        failed = batches.list_runs(batch_id, submission_status="FAILED").items
        assert [f.submission_failure_reason for f in failed] == ["ServiceQuotaExceededException"] * 2
    finally:
        small.close()
        small.runs.store.close()


def test_list_batch_filters_and_pages(wired: tuple[Services, BatchService, str]) -> None:
    services, batches, wid = wired
    one = {"inlineSettings": [{"runSettingId": "a", "parameters": {"name": "n"}}]}
    ids = [start(batches, services, wid, one, batchName=f"b{i % 2}") for i in range(3)]
    assert [b.id for b in batches.list().items] == ids[::-1]
    assert {b.id for b in batches.list(name="b0").items} == {ids[0], ids[2]}
    assert {b.id for b in batches.list(status="CREATING").items} == set(ids)
    first = batches.list(max_items=2)
    assert [b.id for b in first.items] == [ids[2], ids[1]] and first.next_token
    rest = batches.list(max_items=2, token=first.next_token)
    assert [b.id for b in rest.items] == [ids[0]] and rest.next_token is None
    with pytest.raises(ValidationError, match="one filter"):
        batches.list(name="b0", status="CREATING")
    with pytest.raises(ValidationError):
        batches.list(name="b1", token=first.next_token)
    settle(batches, ids[0], ("INPROGRESS",))
    view = batches.list_runs(ids[0])
    (item,) = view.items
    assert batches.list_runs(ids[0], run_id=item.run_id).items == [item]
    assert batches.list_runs(ids[0], submission_status="FAILED").items == []
    with pytest.raises(ValidationError, match="one filter"):
        batches.list_runs(ids[0], run_id=item.run_id, run_setting_id="a")
    assert services.runs.get(item.run_id or "").record.batch_id == ids[0]


def _all_run_ids(batches: BatchService, batch_id: str) -> list[str]:
    ids: list[str] = []
    token = None
    while True:
        page = batches.list_runs(batch_id, max_items=100, token=token)
        ids += [r.run_id or "" for r in page.items]
        token = page.next_token
        if token is None:
            return ids


def _lines(services: Services, run_id: str, text: str) -> int:
    reader = LogReader(services.runs.logs.root)
    events = reader.read(streams.LOG_GROUP, streams.run_stream(run_id)).events
    return sum(text in event.message for event in events)


def _fail_third_call(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Make the third chunk's transaction fail after its runs were written (a crash in the middle of a sweep)."""
    original = batch_store.set_submissions
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("crash in the middle of a chunk")
        original(*args, **kwargs)

    monkeypatch.setattr(batch_store, "set_submissions", flaky)
    return calls


def test_bulk_cancel_is_exact_logs_once_and_resumes_after_a_failed_chunk(
    services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches, _ = wire(services, settings, chunk_size=64)
    wid = register_workflow(services)
    entries = [{"runSettingId": f"s{i}", "parameters": {"name": "n"}} for i in range(300)]
    batch_id = start(batches, services, wid, {"s3UriSettings": write_settings(settings, entries)})
    settle(batches, batch_id, ("INPROGRESS",))
    ids = _all_run_ids(batches, batch_id)
    for run_id in ids[:10]:
        finish(services, run_id)
    for run_id in ids[25:30]:
        finish(services, run_id, RunStatus.FAILED)
    for run_id in ids[10:25]:
        assert services.runs.transition(services.runs.get(run_id).record, RunStatus.RUNNING)
    for run_id in ids[20:25]:
        assert services.runs.transition(services.runs.get(run_id).record, RunStatus.STOPPING)

    calls = _fail_third_call(monkeypatch)
    batches.cancel(batch_id)
    for _ in range(3):
        batches.step()
    monkeypatch.undo()
    assert calls["n"] > 3, "the failed chunk was done again"
    restarted, _ = wire(services, settings, chunk_size=64)  # a new server: the sweep starts over
    for _ in range(20):
        restarted.step()
    view = restarted.get(batch_id)
    assert view.record.status == BatchStatus.STOPPING, "15 runs are still stopping"
    assert (view.submission.successful_cancel, view.submission.failed_cancel) == (285, 0)
    assert view.submission.successful_start == 300
    assert (view.runs.cancelled, view.runs.stopping, view.runs.completed, view.runs.failed) == (270, 15, 10, 5)
    for run_id in ids[30:]:
        assert _lines(services, run_id, "status CANCELLED: Cancelled with its batch before it started") == 1
    for run_id in ids[10:20]:
        assert _lines(services, run_id, "status STOPPING: Cancellation requested by CancelRunBatch") == 1
    for run_id in ids[20:25]:
        assert _lines(services, run_id, "CancelRunBatch") == 0, "already stopping: left alone"
    untouched = restarted.list_runs(batch_id, max_items=10).items  # finished before the cancel: no cancel outcome
    assert {r.submission_status for r in untouched} == {SubmissionStatus.SUCCESS}

    for run_id in ids[10:25]:
        assert services.runs.transition(services.runs.get(run_id).record, RunStatus.CANCELLED)
    assert settle(restarted, batch_id, ("CANCELLED",)).runs.cancelled == 285


def test_bulk_delete_is_exact_and_resumes_after_a_failed_chunk(
    services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches, _ = wire(services, settings, chunk_size=16)
    wid = register_workflow(services)
    entries = [{"runSettingId": f"s{i}", "parameters": {"name": "n"}, "runTags": {"k": str(i)}} for i in range(100)]
    batch_id = start(batches, services, wid, {"inlineSettings": entries})
    settle(batches, batch_id, ("INPROGRESS",))
    ids = _all_run_ids(batches, batch_id)
    for run_id in ids[:40]:
        finish(services, run_id)
    services.runs.delete(ids[0])  # already deleted by DeleteRun: counts as deleted
    batches.cancel(batch_id)
    settle(batches, batch_id, ("CANCELLED",))

    calls = _fail_third_call(monkeypatch)
    batches.delete_runs(batch_id)
    batches.step()
    monkeypatch.undo()
    assert calls["n"] == 3, "the sweep stopped at the failed chunk"
    restarted, _ = wire(services, settings, chunk_size=64)
    view = settle(restarted, batch_id, ("RUNS_DELETED", "RUNS_DELETE_FAILED"))
    assert view.record.status == BatchStatus.RUNS_DELETED
    assert (view.submission.successful_delete, view.submission.failed_delete) == (100, 0)
    assert view.runs.deleted == 100 and services.runs.list(batch_id=batch_id).items == []
    with services.runs.store.read() as conn:
        assert all(tag_store.get(conn, services.arns.of("run", run_id)) == {} for run_id in ids)
    for run_id in ids[1:]:
        assert _lines(services, run_id, "status DELETED") == 1
