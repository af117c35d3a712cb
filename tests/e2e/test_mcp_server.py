"""The AWS HealthOmics MCP server's run-inspection tools, unmodified, against a live omicsd.

The package (``awslabs.aws-healthomics-mcp-server``) is configured only through environment variables:
``AWS_ENDPOINT_URL`` (or the per-service ``AWS_ENDPOINT_URL_OMICS`` / ``_CLOUDWATCH_LOGS`` / ``_PRICING``, or the
package's own ``HEALTHOMICS_ENDPOINT_URL``), ``AWS_DISABLE_HOST_PREFIX_INJECTION=true``, a Region and any
credentials. Its tools are called through its own MCP tool registry (argument validation included) in this
process, and once over stdio with the server running as a subprocess from its console script.

The one call it makes that no environment variable can redirect, the vended-metrics PromQL query to
``monitoring.<region>.amazonaws.com`` inside ``AnalyzeAHORunPerformance``, is stubbed out so that no traffic
leaves the machine; the tool reports that pass as unavailable and the manifest-based analysis is unaffected.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from omicsd.app import build_app
from tests.conftest import make_settings
from tests.e2e.conftest import omics_client, register, start, wait_run
from tests.support.live import serve

pytestmark = pytest.mark.slow

PACKAGE = "awslabs.aws_healthomics_mcp_server"
NOT_INSTALLED = (
    "awslabs.aws-healthomics-mcp-server is not installed (pip install awslabs.aws-healthomics-mcp-server); "
    "it is not a project dependency"
)
CONSOLE_SCRIPT = Path(sys.executable).parent / "awslabs.aws-healthomics-mcp-server"

PAIR = """version 1.0
workflow pair {
  input { String name }
  call greet { input: name = name }
  call shout { input: text = greet.said }
  output { String loud = shout.loud }
}
task greet {
  input { String name }
  command <<< echo "Hello, ~{name}!" >>>
  output { String said = read_string(stdout()) }
  runtime { cpu: 2  memory: "4 GiB" }
}
task shout {
  input { String text }
  command <<< echo "~{text}" | tr a-z A-Z; echo "shouted" >&2 >>>
  output { String loud = read_lines(stdout())[0] }
  runtime { cpu: 3  memory: "10 GiB" }
}
"""

BREAKS = """version 1.0
workflow breaks {
  call ok
  call boom { input: after = ok.done }
}
task ok { command <<< echo fine >>> output { String done = read_string(stdout()) } }
task boom {
  input { String after }
  command <<< echo "about to fail"; echo "disk on fire" >&2; exit 3 >>>
}
"""


@dataclass(frozen=True)
class Finished:
    """A live server and two finished runs: one COMPLETED, one FAILED."""

    url: str
    omics: Any
    ok: dict[str, Any]
    failed: dict[str, Any]


@pytest.fixture(scope="module")
def mcp() -> Any:
    """The package's MCP server object (skipped without the package, except on CI: it is a dev dependency)."""
    try:
        import importlib

        server = importlib.import_module(f"{PACKAGE}.server")
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail(NOT_INSTALLED)
        pytest.skip(NOT_INSTALLED)
    return server.mcp


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Finished]:
    tmp = tmp_path_factory.mktemp("mcp")
    app = build_app(make_settings(tmp / "data", f"sqlite:///{tmp / 'omicsd.db'}"))
    with serve(app) as url:
        omics = omics_client(url)
        ok_id = start(
            omics, register(omics, {"main.wdl": PAIR}, name="pair"), name="pair-run", parameters={"name": "omics"}
        )
        bad_id = start(omics, register(omics, {"main.wdl": BREAKS}, name="breaks"), name="breaks-run")
        ok, failed = wait_run(omics, ok_id["id"]), wait_run(omics, bad_id["id"])
        assert ok["status"] == "COMPLETED", ok.get("statusMessage")
        assert failed["status"] == "FAILED", failed.get("statusMessage")
        yield Finished(url, omics, ok, failed)


def _environment(url: str, home: Path, style: str) -> dict[str, str]:
    """Only what a user would export to point the MCP server at omicsd."""
    env = {
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "omicsd",
        "AWS_SECRET_ACCESS_KEY": "omicsd",
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if style == "global":
        env["AWS_ENDPOINT_URL"] = url
    elif style == "per-service":
        for service in ("OMICS", "CLOUDWATCH_LOGS", "PRICING"):
            env[f"AWS_ENDPOINT_URL_{service}"] = url
    else:  # the package's own variable for omics; logs and pricing through the standard ones
        env["HEALTHOMICS_ENDPOINT_URL"] = url
        env["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"] = url
        env["AWS_ENDPOINT_URL_PRICING"] = url
    return env


def _point_at(monkeypatch: pytest.MonkeyPatch, url: str, home: Path, style: str = "global") -> None:
    for key in list(os.environ):
        if key.startswith(("AWS_", "HEALTHOMICS_")):
            monkeypatch.delenv(key)
    for key, value in _environment(url, home, style).items():
        monkeypatch.setenv(key, value)
    # Clients are built per call; the only process-wide caches are prices and the partition lookup.
    pricing = pytest.importorskip(f"{PACKAGE}.analysis.pricing_cache", reason=NOT_INSTALLED)
    pricing.PricingCache.clear_cache()
    aws_utils = pytest.importorskip(f"{PACKAGE}.utils.aws_utils", reason=NOT_INSTALLED)
    aws_utils._default_get_partition.cache_clear()


def _call(mcp: Any, tool: str, **arguments: Any) -> Any:
    """Call one registered tool; returns its structured result, failing on an error result."""
    result = asyncio.run(mcp.call_tool(tool, arguments))
    assert not result.is_error, f"{tool} -> {result.content}"
    value = result.structured_content["result"]
    if isinstance(value, dict):
        assert "error" not in value, f"{tool} -> {value['error']}"
    return value


def _messages(page: dict[str, Any]) -> list[str]:
    return [e["message"] for e in page["events"]]


def test_run_and_task_tools(mcp: Any, finished: Finished, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _point_at(monkeypatch, finished.url, tmp_path)
    ok, failed = finished.ok, finished.failed

    run = _call(mcp, "GetAHORun", run_id=ok["id"])
    assert (run["id"], run["name"], run["status"], run["uuid"]) == (ok["id"], "pair-run", "COMPLETED", ok["uuid"])
    assert run["arn"].endswith(f":run/{ok['id']}") and run["workflowId"] == ok["workflowId"]
    assert run["parameters"] == {"name": "omics"} and run["runOutputUri"] == f"s3://results/runs/{ok['id']}"
    assert run["startTime"] <= run["stopTime"]

    bad = _call(mcp, "GetAHORun", run_id=failed["id"])
    assert (bad["status"], bad["failureReason"]) == ("FAILED", "RUN_TASK_FAILED")
    assert "call-boom" in bad["statusMessage"]

    listed = _call(mcp, "ListAHORuns")
    assert {(r["id"], r["status"]) for r in listed["runs"]} == {(ok["id"], "COMPLETED"), (failed["id"], "FAILED")}
    assert "nextToken" not in listed
    only_failed = _call(mcp, "ListAHORuns", status="FAILED")
    assert [r["name"] for r in only_failed["runs"]] == ["breaks-run"]
    page = _call(mcp, "ListAHORuns", max_results=1)
    assert len(page["runs"]) == 1 and page["nextToken"]
    rest = _call(mcp, "ListAHORuns", max_results=1, next_token=page["nextToken"])
    assert {page["runs"][0]["id"], rest["runs"][0]["id"]} == {ok["id"], failed["id"]}

    tasks = {t["name"]: t for t in _call(mcp, "ListAHORunTasks", run_id=ok["id"])["tasks"]}
    assert set(tasks) == {"call-greet", "call-shout"}
    assert (tasks["call-greet"]["cpus"], tasks["call-greet"]["memory"]) == (2, 4)
    assert (tasks["call-shout"]["cpus"], tasks["call-shout"]["memory"]) == (3, 10)
    assert all(t["status"] == "COMPLETED" for t in tasks.values())
    failed_tasks = _call(mcp, "ListAHORunTasks", run_id=failed["id"], status="FAILED")["tasks"]
    assert [t["name"] for t in failed_tasks] == ["call-boom"]

    shout = tasks["call-shout"]
    task = _call(mcp, "GetAHORunTask", run_id=ok["id"], task_id=shout["taskId"])
    assert (task["taskId"], task["name"], task["status"]) == (shout["taskId"], "call-shout", "COMPLETED")
    assert task["logStream"].endswith(f":log-stream:run/{ok['id']}/task/{shout['taskId']}")
    boom = _call(mcp, "GetAHORunTask", run_id=failed["id"], task_id=failed_tasks[0]["taskId"])
    assert boom["status"] == "FAILED" and "3" in boom["statusMessage"]


def test_log_tools(mcp: Any, finished: Finished, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _point_at(monkeypatch, finished.url, tmp_path)
    ok = finished.ok
    tasks = {t["name"]: t for t in _call(mcp, "ListAHORunTasks", run_id=ok["id"])["tasks"]}

    run_log = _call(mcp, "GetAHORunLogs", run_id=ok["id"])
    lines = _messages(run_log)
    assert f"Run {ok['id']} status COMPLETED" in lines
    assert any("(call-shout)" in m for m in lines) and run_log["nextToken"]
    assert all(e["timestamp"].endswith("Z") for e in run_log["events"])
    last = _call(mcp, "GetAHORunLogs", run_id=ok["id"], limit=1, start_from_head=False)
    assert _messages(last) == lines[-1:]

    engine = _messages(_call(mcp, "GetAHORunEngineLogs", run_id=ok["id"]))
    assert any("call-greet" in m for m in engine) and any("call-shout" in m for m in engine)

    greet = _call(mcp, "GetAHOTaskLogs", run_id=ok["id"], task_id=tasks["call-greet"]["taskId"])
    assert _messages(greet) == ["Hello, omics!"]
    shout = _messages(_call(mcp, "GetAHOTaskLogs", run_id=ok["id"], task_id=tasks["call-shout"]["taskId"]))
    assert sorted(shout) == ["HELLO, OMICS!", "shouted"]

    manifest = _call(mcp, "GetAHORunManifestLogs", run_id=ok["id"], run_uuid=ok["uuid"])
    records = [json.loads(m) for m in _messages(manifest)]
    assert (records[0]["uuid"], records[0]["status"]) == (ok["uuid"], "COMPLETED")
    assert sorted(r["name"] for r in records[1:]) == ["call-greet", "call-shout"]


def test_diagnose_run_failure(mcp: Any, finished: Finished, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _point_at(monkeypatch, finished.url, tmp_path)
    failed = finished.failed

    diagnosis = _call(mcp, "DiagnoseAHORunFailure", run_id=failed["id"])
    assert (diagnosis["runId"], diagnosis["runUuid"]) == (failed["id"], failed["uuid"])
    assert (diagnosis["status"], diagnosis["failureReason"]) == ("FAILED", "RUN_TASK_FAILED")
    assert diagnosis["summary"]["hasEngineLogs"], diagnosis["engineLogs"]
    assert any("call-boom" in m and "exit_status" in m for m in diagnosis["engineLogs"]), diagnosis["engineLogs"]
    (task,) = diagnosis["failedTasks"]
    assert task["name"] == "call-boom"
    assert sorted(task["logs"]) == ["about to fail", "disk on fire"], task["logs"]

    detailed = _call(mcp, "DiagnoseAHORunFailure", run_id=failed["id"], detailed=True)
    assert detailed["summary"]["hasManifestLogs"], detailed["manifestLogs"]
    records = [json.loads(m) for m in detailed["manifestLogs"]]
    assert {r["name"]: r["status"] for r in records[1:]} == {"call-ok": "COMPLETED", "call-boom": "FAILED"}
    assert records[0]["status"] == "FAILED" and records[0]["uuid"] == failed["uuid"]

    not_failed = _call(mcp, "DiagnoseAHORunFailure", run_id=finished.ok["id"])
    assert not_failed["status"] == "COMPLETED" and "not in FAILED state" in not_failed["message"]


def test_analyze_run_performance_and_timeline(
    mcp: Any, finished: Finished, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _point_at(monkeypatch, finished.url, tmp_path)
    _no_vended_metrics(monkeypatch)
    ok = finished.ok

    report = _call(mcp, "AnalyzeAHORunPerformance", run_ids=[ok["id"]])
    assert f"pair-run ({ok['id']})" in report, report
    assert "**Total Tasks**: 2" in report and "call-shout" in report
    assert "omics.m.xlarge" in report, "the instance type from the run manifest"
    cost = report.split("**Grand Total Estimated Cost**: $", 1)[1].split()[0]
    assert float(cost) > 0, "task prices from omicsd's Pricing API"
    assert "Vended metrics could not be analyzed" in report

    svg = _call(mcp, "GenerateAHORunTimeline", run_id=ok["id"], time_unit="sec")
    assert svg.startswith("<svg") and f"Run: {ok['id']}, Name: pair-run, Tasks: 2" in svg
    assert "call-greet" in svg and "omics.c.large" in svg


@pytest.mark.parametrize("style", ["per-service", "healthomics"])
def test_other_endpoint_variables(
    mcp: Any, finished: Finished, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, style: str
) -> None:
    _point_at(monkeypatch, finished.url, tmp_path, style)
    _no_vended_metrics(monkeypatch)
    aws_utils = pytest.importorskip(f"{PACKAGE}.utils.aws_utils", reason=NOT_INSTALLED)
    client = aws_utils.get_omics_client()
    assert client.meta.endpoint_url == finished.url and client.meta.config.inject_host_prefix is False
    ok = finished.ok

    assert _call(mcp, "GetAHORun", run_id=ok["id"])["status"] == "COMPLETED"
    tasks = {t["name"]: t for t in _call(mcp, "ListAHORunTasks", run_id=ok["id"])["tasks"]}
    greet = _call(mcp, "GetAHOTaskLogs", run_id=ok["id"], task_id=tasks["call-greet"]["taskId"])
    assert _messages(greet) == ["Hello, omics!"]
    report = _call(mcp, "AnalyzeAHORunPerformance", run_ids=ok["id"])
    assert float(report.split("**Grand Total Estimated Cost**: $", 1)[1].split()[0]) > 0


def test_stdio_server_subprocess(mcp: Any, finished: Finished, tmp_path: Path) -> None:
    client = pytest.importorskip("mcp.client.stdio", reason=NOT_INSTALLED)
    session_module = pytest.importorskip("mcp.client.session", reason=NOT_INSTALLED)
    ok, failed = finished.ok, finished.failed
    params = client.StdioServerParameters(
        command=str(CONSOLE_SCRIPT), env=_environment(finished.url, tmp_path, "global"), cwd=str(tmp_path)
    )

    async def session_calls() -> dict[str, Any]:
        results: dict[str, Any] = {}
        with (tmp_path / "server.log").open("w") as errlog:
            async with (
                client.stdio_client(params, errlog=errlog) as (read, write),
                session_module.ClientSession(read, write) as session,
            ):
                await session.initialize()
                names = {t.name for t in (await session.list_tools()).tools}
                assert {"GetAHORun", "ListAHORunTasks", "GetAHOTaskLogs", "DiagnoseAHORunFailure"} <= names
                for key, tool, arguments in [
                    ("run", "GetAHORun", {"run_id": ok["id"]}),
                    ("tasks", "ListAHORunTasks", {"run_id": ok["id"]}),
                    ("diagnosis", "DiagnoseAHORunFailure", {"run_id": failed["id"]}),
                ]:
                    result = await session.call_tool(tool, arguments, read_timeout_seconds=60)
                    assert not result.is_error, result.content
                    results[key] = json.loads(result.content[0].text)
                greet = next(t for t in results["tasks"]["tasks"] if t["name"] == "call-greet")
                logs = await session.call_tool("GetAHOTaskLogs", {"run_id": ok["id"], "task_id": greet["taskId"]})
                results["logs"] = json.loads(logs.content[0].text)
                missing = await session.call_tool("GetAHOTaskLogs", {"run_id": ok["id"], "task_id": "0000000"})
                results["missing"] = json.loads(missing.content[0].text)
        return results

    results = asyncio.run(asyncio.wait_for(session_calls(), timeout=90))
    assert (results["run"]["id"], results["run"]["status"]) == (ok["id"], "COMPLETED")
    assert {t["name"] for t in results["tasks"]["tasks"]} == {"call-greet", "call-shout"}
    assert _messages(results["logs"]) == ["Hello, omics!"]
    assert "ResourceNotFoundException" in results["missing"]["error"], "an absent task stream is reported, not raised"
    assert results["diagnosis"]["failureReason"] == "RUN_TASK_FAILED"
    assert [t["name"] for t in results["diagnosis"]["failedTasks"]] == ["call-boom"]


def _no_vended_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stub the PromQL query (a fixed AWS host, not redirectable by any endpoint variable)."""
    metrics = pytest.importorskip(f"{PACKAGE}.metrics.client", reason=NOT_INSTALLED)

    def unavailable(self: Any, endpoint: str, params: dict[str, Any]) -> Any:
        raise RuntimeError("vended metrics are not served by omicsd")

    monkeypatch.setattr(metrics.VendedMetricsClient, "_request", unavailable)
