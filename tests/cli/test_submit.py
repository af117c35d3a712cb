"""``omicsd submit``: packaging and digest for real, registration against the real app, runs through a Stubber."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from omicsd import config
from omicsd.cli import _progress, main, submit
from omicsd.cli._package import package
from omicsd.config import Settings
from omicsd.errors import ValidationError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ACCOUNT = "210987654321"
WF_ARN = f"arn:aws:omics:us-east-1:{ACCOUNT}:workflow/1111111"
RUN_ARN = f"arn:aws:omics:us-east-1:{ACCOUNT}:run/2222222"
NO_SLEEP = lambda _: None  # noqa: E731


# --- packaging -----------------------------------------------------------------------------------------------


def _tree(root: Path) -> Path:
    (root / "tasks").mkdir(parents=True)
    (root / "main.wdl").write_text("version 1.0\nworkflow w { input { String name } }\n")
    (root / "tasks" / "t.wdl").write_text("version 1.0\ntask t { command <<< echo hi >>> }\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (root / ".DS_Store").write_bytes(b"junk")
    (root / "notes.txt~").write_text("backup")
    return root


def test_folder_package_is_deterministic_and_digest_matches_server_rule(tmp_path: Path) -> None:
    root = _tree(tmp_path / "wf")
    first = package(root)
    os.utime(root / "main.wdl", (1_700_000_000, 1_700_000_000))
    (root / "tasks" / "t.wdl").chmod(0o755)
    second = package(root)
    assert first.data == second.data
    assert first.digest == second.digest == "sha256:" + hashlib.sha256(first.data).hexdigest()
    from omicsd.domain.workflows import digest_of

    assert first.digest == digest_of(first.data)
    (root / "main.wdl").write_text("version 1.0\nworkflow w { input { String who } }\n")
    assert package(root).digest != first.digest


def test_folder_package_keeps_relative_paths_and_skips_junk(tmp_path: Path) -> None:
    pkg = package(_tree(tmp_path / "wf"))
    assert pkg.name == "wf"
    assert pkg.files == ("main.wdl", "tasks/t.wdl")
    with zipfile.ZipFile(io.BytesIO(pkg.data)) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["main.wdl", "tasks/t.wdl"]
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
        assert all((i.external_attr >> 16) == 0o100644 for i in infos)
        assert archive.read("tasks/t.wdl").startswith(b"version 1.0")


def test_single_file_becomes_one_top_level_entry(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "hello.wdl"
    path.write_text("version 1.0\n")
    pkg = package(path)
    assert pkg.name == "hello"
    with zipfile.ZipFile(io.BytesIO(pkg.data)) as archive:
        assert archive.namelist() == ["hello.wdl"]
        assert archive.read("hello.wdl") == b"version 1.0\n"


def test_zip_file_is_uploaded_as_is(tmp_path: Path) -> None:
    path = tmp_path / "given.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("main.wdl", "version 1.0\n")
    pkg = package(path)
    assert pkg.data == path.read_bytes()
    assert pkg.files == ("main.wdl",)
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(ValidationError, match="not a valid ZIP"):
        package(tmp_path / "bad.zip")


def test_missing_path_and_empty_folder_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no such file"):
        package(tmp_path / "nope")
    (tmp_path / "empty" / ".git").mkdir(parents=True)
    with pytest.raises(ValidationError, match="no workflow files"):
        package(tmp_path / "empty")


# --- inputs --------------------------------------------------------------------------------------------------


def test_namespaced_inputs_are_stripped() -> None:
    assert submit.strip_namespaces({"hello.name": "x", "n": 3}) == {"name": "x", "n": 3}
    assert submit.strip_namespaces({"wf.call.x": 1}) == {"call.x": 1}
    assert submit.strip_namespaces({"a.b": 1}, {"a.b": {"optional": True}}) == {"a.b": 1}
    with pytest.raises(ValidationError, match="both set parameter 'name'"):
        submit.strip_namespaces({"name": "a", "hello.name": "b"})


def test_load_inputs_rejects_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "in.json"
    good.write_text('{"hello.name": "x"}')
    assert submit.load_inputs(good) == {"hello.name": "x"}
    (tmp_path / "list.json").write_text("[1]")
    (tmp_path / "bad.json").write_text("{")
    for name, message in [("list.json", "JSON object"), ("bad.json", "not valid JSON"), ("missing.json", "in.json|")]:
        with pytest.raises(ValidationError, match=message):
            submit.load_inputs(tmp_path / name)


# --- client --------------------------------------------------------------------------------------------------


def test_endpoint_precedence_and_client_settings() -> None:
    settings = config.load({"server": {"host": "0.0.0.0", "port": 9999}}, environ={})
    assert submit.resolve_endpoint(None, settings, {}) == "http://127.0.0.1:9999"
    assert submit.resolve_endpoint(None, settings, {"AWS_ENDPOINT_URL": "http://a:1"}) == "http://a:1"
    env = {"AWS_ENDPOINT_URL": "http://a:1", "AWS_ENDPOINT_URL_OMICS": "http://b:2"}
    assert submit.resolve_endpoint(None, settings, env) == "http://b:2"
    assert submit.resolve_endpoint("http://c:3", settings, env) == "http://c:3"
    client = submit.make_client(None, settings, {})
    assert client.meta.endpoint_url == "http://127.0.0.1:9999"
    assert client.meta.config.inject_host_prefix is False
    assert client.meta.region_name == "us-east-1"
    assert client._request_signer._credentials.access_key == "omicsd"


# --- registration against the real app ----------------------------------------------------------------------


def test_register_creates_then_reuses_by_digest(client: Any) -> None:
    pkg = package(EXAMPLES / "hello")
    first = submit.register(client, pkg, sleep=NO_SLEEP)
    assert not first.reused
    got = client.get_workflow(id=first.id)
    assert got["status"] == "ACTIVE"
    assert got["digest"] == pkg.digest, "the client computes the digest exactly as the server does"
    assert got["name"] == "hello"
    assert set(first.parameter_template) == {"name"}
    again = submit.register(client, package(EXAMPLES / "hello"), sleep=NO_SLEEP)
    assert again.reused and again.id == first.id
    other = submit.register(client, package(EXAMPLES / "scatter_gather"), sleep=NO_SLEEP)
    assert not other.reused and other.id != first.id


def test_broken_definition_fails_registration(client: Any, tmp_path: Path) -> None:
    (tmp_path / "broken.wdl").write_text("version 1.0\nworkflow w { call nope }\n")
    with pytest.raises(submit.SubmitFailed, match="FAILED"):
        submit.register(client, package(tmp_path / "broken.wdl"), sleep=NO_SLEEP)


# --- registration and runs through a Stubber -----------------------------------------------------------------


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "omics",
        region_name="us-east-1",
        endpoint_url="http://omicsd.test",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(inject_host_prefix=False),
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _item(digest: str, *, id: str = "1111111", status: str = "ACTIVE", name: str = "hello") -> dict[str, Any]:
    return {
        "id": id,
        "arn": f"arn:aws:omics:us-east-1:{ACCOUNT}:workflow/{id}",
        "name": name,
        "status": status,
        "type": "PRIVATE",
        "digest": digest,
        "creationTime": datetime(2024, 1, 1, tzinfo=UTC),
    }


def _workflow(id: str = "1111111", status: str = "ACTIVE", **extra: Any) -> dict[str, Any]:
    return {"id": id, "arn": f"arn:aws:omics:us-east-1:{ACCOUNT}:workflow/{id}", "status": status, **extra}


def test_reuse_finds_digest_on_a_later_page(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    pkg = package(EXAMPLES / "hello")
    stub.add_response(
        "list_workflows",
        {"items": [_item("sha256:" + "0" * 64, id="3333333")], "nextToken": "page2"},
        {"type": "PRIVATE"},
    )
    stub.add_response(
        "list_workflows",
        {"items": [_item(pkg.digest, status="FAILED", id="4444444"), _item(pkg.digest)]},
        {"type": "PRIVATE", "startingToken": "page2"},
    )
    stub.add_response(
        "get_workflow",
        _workflow(engine="WDL", parameterTemplate={"name": {"optional": True}}),
        {"id": "1111111"},
    )
    registered = submit.register(client, pkg, sleep=NO_SLEEP)
    assert registered.reused and registered.id == "1111111"
    assert registered.parameter_template == {"name": {"optional": True}}


def test_reuse_skips_candidates_with_another_engine(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    pkg = package(EXAMPLES / "hello")
    stub.add_response("list_workflows", {"items": [_item(pkg.digest)]}, {"type": "PRIVATE"})
    stub.add_response("get_workflow", _workflow(engine="CWL"), {"id": "1111111"})
    stub.add_response(
        "create_workflow",
        {"id": "5555555", "arn": WF_ARN, "status": "CREATING"},
        {"name": "hello", "definitionZip": pkg.data, "engine": "WDL"},
    )
    stub.add_response("get_workflow", _workflow("5555555", "CREATING"), {"id": "5555555"})
    stub.add_response("get_workflow", _workflow("5555555", digest=pkg.digest), {"id": "5555555"})
    registered = submit.register(client, pkg, engine="WDL", sleep=NO_SLEEP)
    assert not registered.reused and registered.id == "5555555"


def test_failed_workflow_reports_status_message(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    pkg = package(EXAMPLES / "hello")
    stub.add_response("list_workflows", {"items": []}, {"type": "PRIVATE"})
    stub.add_response("create_workflow", {"id": "5555555", "arn": WF_ARN, "status": "CREATING"})
    stub.add_response(
        "get_workflow", _workflow("5555555", "FAILED", statusMessage="main.wdl:3:1 bad"), {"id": "5555555"}
    )
    with pytest.raises(submit.SubmitFailed, match=r"5555555 is FAILED: main\.wdl:3:1 bad"):
        submit.register(client, pkg, name="custom", sleep=NO_SLEEP)


def _stub_reuse(stub: Stubber, digest: str) -> None:
    stub.add_response("list_workflows", {"items": [_item(digest)]}, {"type": "PRIVATE"})
    stub.add_response("get_workflow", _workflow(parameterTemplate={"name": {"optional": True}}), {"id": "1111111"})


def _stub_start(stub: Stubber, **params: Any) -> None:
    expected = {
        "workflowId": "1111111",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/omicsd",
        "outputUri": "s3://omicsd-runs/output/",
        "name": "hello",
        "parameters": {"name": "omicsd"},
        **params,
    }
    stub.add_response(
        "start_run",
        {"id": "2222222", "arn": RUN_ARN, "status": "PENDING", "runOutputUri": "s3://omicsd-runs/output/2222222"},
        expected,
    )


def _tasks(*statuses: str) -> dict[str, Any]:
    return {"items": [{"taskId": f"900000{i}", "name": f"call-t-{i}", "status": s} for i, s in enumerate(statuses)]}


def _settings(tmp_path: Path) -> Settings:
    return config.load({"server": {"data_dir": str(tmp_path / "data")}}, environ={})


def _namespaced_inputs(tmp_path: Path) -> Path:
    path = tmp_path / "inputs.json"
    path.write_text(json.dumps({"hello.name": "omicsd"}))
    return path


def test_start_without_wait_prints_run_id(stubbed: tuple[Any, Stubber], tmp_path: Path) -> None:
    client, stub = stubbed
    pkg = package(EXAMPLES / "hello")
    _stub_reuse(stub, pkg.digest)
    _stub_start(stub, runGroupId="7777777", priority=5, storageType="STATIC")
    options = submit.SubmitOptions(
        path=EXAMPLES / "hello",
        inputs=_namespaced_inputs(tmp_path),
        run_group_id="7777777",
        priority=5,
        storage_type="STATIC",
    )
    out = io.StringIO()
    assert submit.submit(client, options, _settings(tmp_path), out, sleep=NO_SLEEP) == 0
    assert "workflow 1111111 reused" in out.getvalue()
    assert f"run 2222222 started: {RUN_ARN}" in out.getvalue()


def test_wait_completed_prints_outputs_json(stubbed: tuple[Any, Stubber], tmp_path: Path) -> None:
    client, stub = stubbed
    settings = _settings(tmp_path)
    outputs = {"hello.greeting": "s3://omicsd-runs/output/2222222/out/greeting/greeting.txt"}
    summary_file = settings.buckets_path / "omicsd-runs" / "output" / "2222222" / "logs" / "outputs.json"
    summary_file.parent.mkdir(parents=True)
    summary_file.write_text(json.dumps(outputs))
    pkg = package(EXAMPLES / "hello")
    _stub_reuse(stub, pkg.digest)
    _stub_start(stub)
    stub.add_response("get_run", {"id": "2222222", "status": "RUNNING"}, {"id": "2222222"})
    stub.add_response("list_run_tasks", _tasks("RUNNING"), {"id": "2222222"})
    stub.add_response(
        "get_run",
        {"id": "2222222", "status": "COMPLETED", "runOutputUri": "s3://omicsd-runs/output/2222222"},
        {"id": "2222222"},
    )
    stub.add_response("list_run_tasks", _tasks("COMPLETED"), {"id": "2222222"})
    options = submit.SubmitOptions(path=EXAMPLES / "hello", inputs=_namespaced_inputs(tmp_path), wait=True, json=True)
    out = io.StringIO()
    assert submit.submit(client, options, settings, out, sleep=NO_SLEEP) == 0
    summary = json.loads(out.getvalue())
    assert summary["status"] == "COMPLETED"
    assert summary["runId"] == "2222222" and summary["workflowReused"] is True
    assert summary["digest"] == pkg.digest
    assert summary["outputs"] == outputs


def test_wait_failed_lists_failed_tasks_and_exits_1(stubbed: tuple[Any, Stubber], tmp_path: Path) -> None:
    client, stub = stubbed
    pkg = package(EXAMPLES / "hello")
    _stub_reuse(stub, pkg.digest)
    _stub_start(stub)
    failed_run = {
        "id": "2222222",
        "status": "FAILED",
        "failureReason": "RUN_TASK_FAILED",
        "statusMessage": "task call-t-1 exited 1",
        "logLocation": {
            "engineLogStream": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/omics/WorkflowLog:"
            "log-stream:run/2222222/engine"
        },
    }
    stub.add_response("get_run", failed_run, {"id": "2222222"})
    stub.add_response("list_run_tasks", _tasks("COMPLETED", "FAILED"), {"id": "2222222"})
    stub.add_response("list_run_tasks", _tasks("FAILED"), {"id": "2222222", "status": "FAILED"})
    stub.add_response(
        "get_run_task",
        {
            "taskId": "9000000",
            "name": "call-t-1",
            "status": "FAILED",
            "failureReason": "RUN_TASK_FAILED",
            "statusMessage": "exit status 1",
            "logStream": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/omics/WorkflowLog:"
            "log-stream:run/2222222/task/9000000",
        },
        {"id": "2222222", "taskId": "9000000"},
    )
    options = submit.SubmitOptions(path=EXAMPLES / "hello", inputs=_namespaced_inputs(tmp_path), wait=True)
    out = io.StringIO()
    assert submit.submit(client, options, _settings(tmp_path), out, sleep=NO_SLEEP) == 1
    text = out.getvalue()
    assert "run 2222222 FAILED: RUN_TASK_FAILED: task call-t-1 exited 1" in text
    assert "task 9000000 call-t-1 FAILED: exit status 1" in text
    assert "log: run/2222222/task/9000000" in text
    assert "engine log: run/2222222/engine" in text
    assert "run 2222222 FAILED: 1/2 tasks done, 0 running, 0 pending, 1 failed" in text


def test_json_failure_summary(stubbed: tuple[Any, Stubber], tmp_path: Path) -> None:
    client, stub = stubbed
    pkg = package(EXAMPLES / "hello")
    _stub_reuse(stub, pkg.digest)
    _stub_start(stub, parameters={})
    stub.add_response("get_run", {"id": "2222222", "status": "CANCELLED"}, {"id": "2222222"})
    stub.add_response("list_run_tasks", {"items": []}, {"id": "2222222"})
    stub.add_response("list_run_tasks", {"items": []}, {"id": "2222222", "status": "FAILED"})
    options = submit.SubmitOptions(path=EXAMPLES / "hello", wait=True, json=True)
    out = io.StringIO()
    assert submit.submit(client, options, _settings(tmp_path), out, sleep=NO_SLEEP) == 1
    summary = json.loads(out.getvalue())
    assert summary["status"] == "CANCELLED"
    assert summary["failedTasks"] == []
    assert "outputs" not in summary


# --- progress ------------------------------------------------------------------------------------------------


class _Client:
    """A fake client: a scripted sequence of run statuses, no tasks."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses

    def get_run(self, id: str) -> dict[str, Any]:
        return {"id": id, "status": self.statuses.pop(0)}

    def get_paginator(self, name: str) -> Any:
        assert name == "list_run_tasks"
        return self

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return [{"items": []}]


def test_poll_interval_starts_small_and_backs_off_to_one_second() -> None:
    sleeps: list[float] = []
    statuses = ["PENDING", "PENDING", "STARTING", *["RUNNING"] * 10, "COMPLETED"]
    run = _progress.wait_for_run(_Client(statuses), "1", _progress.NullDisplay(), sleep=sleeps.append)
    assert run["status"] == "COMPLETED"
    assert sleeps[0] == pytest.approx(0.1)
    assert sleeps[1] == pytest.approx(0.15)
    assert sleeps[2] == pytest.approx(0.1), "a status change resets the interval"
    assert max(sleeps) == pytest.approx(1.0)
    assert sleeps[-1] == pytest.approx(1.0)


def test_rich_display_is_used_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    printer = _progress.Printer(out, quiet=False)
    display = printer.display()
    assert isinstance(display, _progress.RichDisplay)
    display.update(_progress.Snapshot("42", "RUNNING", _progress.TaskCounts(total=4, done=1, running=2, pending=1)))
    display.close()
    assert "run 42" in out.getvalue() and "1/4" in out.getvalue()
    assert isinstance(_progress.Printer(io.StringIO(), quiet=False).display(), _progress.PlainDisplay)
    assert isinstance(_progress.Printer(out, quiet=True).display(), _progress.NullDisplay)


# --- command line --------------------------------------------------------------------------------------------


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["submit", str(EXAMPLES / "hello"), "--main", "other.wdl"]) == 2
    assert "--main other.wdl is not in the package" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["submit", str(EXAMPLES / "hello"), "--engine", "BASH"])
    assert exc.value.code == 2


def test_command_line_end_to_end_with_stubbed_server(
    stubbed: tuple[Any, Stubber], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client, stub = stubbed
    pkg = package(EXAMPLES / "hello")
    _stub_reuse(stub, pkg.digest)
    _stub_start(stub, outputUri="s3://mine/out/", roleArn="arn:aws:iam::1:role/r", name="greet")
    seen: dict[str, Any] = {}

    def fake_client(endpoint_url: str | None, settings: Settings) -> Any:
        seen["endpoint"] = endpoint_url
        return client

    monkeypatch.setattr(submit, "make_client", fake_client)
    argv = ["submit", str(EXAMPLES / "hello"), "--inputs", str(EXAMPLES / "hello" / "inputs.json"), "--json"]
    argv += ["--output-uri", "s3://mine/out/", "--role-arn", "arn:aws:iam::1:role/r", "--name", "greet"]
    argv += ["--endpoint-url", "http://127.0.0.1:1"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["runArn"] == RUN_ARN and summary["status"] == "PENDING"
    assert seen["endpoint"] == "http://127.0.0.1:1"


def test_server_errors_exit_1(
    stubbed: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client, stub = stubbed
    stub.add_client_error("list_workflows", "AccessDeniedException", "no", http_status_code=403)
    monkeypatch.setattr(submit, "make_client", lambda *_: client)
    assert main(["submit", str(EXAMPLES / "hello")]) == 1
    assert "ListWorkflows failed: AccessDeniedException: no" in capsys.readouterr().err


# --- examples ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["hello", "scatter_gather"])
def test_wdl_examples_parse(example: str) -> None:
    import WDL

    doc = WDL.load(str(EXAMPLES / example / "main.wdl"))
    assert doc.workflow is not None and doc.workflow.name == example
    inputs = json.loads((EXAMPLES / example / "inputs.json").read_text())
    declared = {d.name for d in doc.workflow.inputs or []}
    assert set(inputs) <= declared
    if example == "scatter_gather":
        assert inputs == {"n": 20}


def test_cwl_example_parses() -> None:
    from cwltool.context import LoadingContext
    from cwltool.load_tool import load_tool
    from cwltool.workflow import default_make_tool

    context = LoadingContext({"construct_tool_object": default_make_tool})
    tool = load_tool(str(EXAMPLES / "cwl_hello" / "main.cwl"), context)
    assert tool.tool["class"] == "Workflow"
    names = {i["id"].rsplit("#", 1)[-1] for i in tool.tool["inputs"]}
    assert set(json.loads((EXAMPLES / "cwl_hello" / "inputs.json").read_text())) <= names


# --- live server ---------------------------------------------------------------------------------------------


@pytest.fixture
def live_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Settings]]:
    """A real server (uvicorn + scheduler + engine drivers) on SQLite; submit finds its buckets by settings."""
    from omicsd.app import build_app
    from tests.conftest import make_settings
    from tests.support.live import serve

    settings = make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'omicsd.db'}")
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_OMICS", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "OMICSD_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMICSD__SERVER__DATA_DIR", str(tmp_path / "data"))
    with serve(build_app(settings)) as url:
        yield url, settings


@pytest.mark.slow
def test_live_hello_completes_and_prints_outputs(
    live_server: tuple[str, Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    url, settings = live_server
    argv = ["submit", str(EXAMPLES / "hello"), "--inputs", str(EXAMPLES / "hello" / "inputs.json")]
    assert main([*argv, "--wait", "--json", "--endpoint-url", url]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "COMPLETED", summary
    uri = summary["outputs"]["hello.greeting"]
    assert uri.startswith(summary["runOutputUri"] + "/out/greeting/")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    assert (settings.buckets_path / bucket / key).read_text() == "Hello, omicsd!\n"
    assert summary["estimatedCostUSD"] > 0, "the run manifest's estimated cost is reported"
    assert main([*argv, "--json", "--endpoint-url", url]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["workflowReused"] is True and again["workflowId"] == summary["workflowId"]


@pytest.mark.slow
def test_live_scatter_gather_from_the_command_line(live_server: tuple[str, Settings]) -> None:
    import subprocess
    import sys

    url, _ = live_server
    example = EXAMPLES / "scatter_gather"
    command = [str(Path(sys.executable).parent / "omicsd"), "submit", str(example), "--wait", "--endpoint-url", url]
    done = subprocess.run(
        [*command, "--inputs", str(example / "inputs.json")], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "COMPLETED: 21/21 tasks done, 0 running, 0 pending, 0 failed" in done.stdout
    outputs = json.loads(done.stdout[done.stdout.index("{") :])
    assert outputs["scatter_gather.lines"] == 60
    assert len(outputs["scatter_gather.shards"]) == 20
