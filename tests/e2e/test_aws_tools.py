"""AWS's own tools, unmodified, against a live omicsd: aws-healthomics-tools and the AWS CLI's ``logs`` commands.

Each tool runs as a subprocess configured only by environment variables (the ones the README documents):
``AWS_ENDPOINT_URL``, ``AWS_DISABLE_HOST_PREFIX_INJECTION=true``, a Region and any credentials.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from omicsd.app import build_app
from omicsd.config import Settings
from tests.e2e.conftest import all_tasks, omics_client, register, start, wait_run
from tests.support.live import serve

pytestmark = pytest.mark.slow

G = "/aws/omics/WorkflowLog"
BIN = Path(sys.executable).parent
TOOLS = BIN / "aws-healthomics-tools"
AWS = BIN / "aws"

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

NAP = """version 1.0
workflow nap {
  input { Int seconds }
  call doze { input: seconds = seconds }
}
task doze {
  input { Int seconds }
  command <<< echo awake; sleep ~{seconds} >>>
}
"""


def logs_client(url: str) -> Any:
    return boto3.session.Session().client(
        "logs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


@pytest.fixture
def live(e2e_settings: Settings) -> Iterator[tuple[str, Any]]:
    """A live server with omics, logs and pricing; yields its URL and a boto3 omics client."""
    app = build_app(e2e_settings)
    with serve(app) as url:
        yield url, omics_client(url)


def _env(url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_ENDPOINT_URL": url,
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "omicsd",
            "AWS_SECRET_ACCESS_KEY": "omicsd",
            "AWS_CONFIG_FILE": str(home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "BROWSER": "true",
        }
    )
    return env


def _run(args: list[str | Path], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{args} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout


def _finished_run(omics: Any, **kwargs: Any) -> dict[str, Any]:
    workflow_id = register(omics, {"main.wdl": PAIR}, name="pair")
    run = wait_run(omics, start(omics, workflow_id, name="pair-run", parameters={"name": "omics"}, **kwargs)["id"])
    assert run["status"] == "COMPLETED", run.get("statusMessage")
    return run


def test_run_analyzer_and_rerun(live: tuple[str, Any], tmp_path: Path) -> None:
    if not TOOLS.exists():
        reason = "aws-healthomics-tools is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    url, omics = live
    env = _env(url, tmp_path)
    run = _finished_run(omics, logLevel="ALL")
    tasks = {t["name"]: t for t in all_tasks(omics, run["id"])}
    assert set(tasks) == {"call-greet", "call-shout"}

    out = _run([TOOLS, "run_analyzer", run["id"], "-o", "analysis.csv", "-P", "plots"], env, tmp_path)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "analysis.csv").read_text())))
    assert [r["type"] for r in rows] == ["run", "task", "task"], out
    assert rows[0]["arn"].endswith(f":run/{run['id']}") and rows[0]["uuid"] == run["uuid"]
    assert rows[0]["name"] == "pair-run"
    by_name = {r["name"]: r for r in rows[1:]}
    assert set(by_name) == set(tasks)
    for name, task in tasks.items():
        row = by_name[name]
        assert row["arn"].endswith(f":task/{task['taskId']}")
        assert row["omicsInstanceTypeReserved"] == task["instanceType"]
        assert (int(row["cpusRequested"]), int(row["memoryRequestedGiB"])) == (task["cpus"], task["memory"])
        assert float(row["estimatedUSD"]) > 0, "task cost from the Pricing API"
        assert float(row["cpusReserved"]) >= task["cpus"] and row["runningSeconds"]
    assert (tmp_path / "plots" / f"{run['id']}_timeline.html").stat().st_size > 0

    per_service = {k: v for k, v in env.items() if k != "AWS_ENDPOINT_URL"}
    for service in ("OMICS", "CLOUDWATCH_LOGS", "PRICING"):
        per_service[f"AWS_ENDPOINT_URL_{service}"] = url
    listed = _run([TOOLS, "run_analyzer", "--time", "1day"], per_service, tmp_path)
    assert f"{run['id']} (" in listed and run["uuid"] in listed

    shown = _run([TOOLS, "rerun", run["id"], "--name", "again"], env, tmp_path)
    response = json.loads(shown.split("StartRun response:", 1)[1])
    again = wait_run(omics, response["id"])
    assert again["status"] == "COMPLETED", again.get("statusMessage")
    assert again["name"] == "again" and again["workflowId"] == run["workflowId"]
    assert again["parameters"] == run["parameters"] and again["logLevel"] == "ALL"

    omics.delete_run(id=run["id"])
    after = _run([TOOLS, "run_analyzer", run["id"], "-o", "after.csv"], env, tmp_path)
    assert len(list(csv.DictReader(io.StringIO((tmp_path / "after.csv").read_text())))) == 3, after


def test_aws_cli_logs_commands(live: tuple[str, Any], tmp_path: Path) -> None:
    url, omics = live
    env = _env(url, tmp_path)
    run = _finished_run(omics)
    stream = f"run/{run['id']}"

    got = json.loads(
        _run(
            [AWS, "logs", "get-log-events", "--log-group-name", G, "--log-stream-name", stream, "--start-from-head"],
            env,
            tmp_path,
        )
    )
    messages = [e["message"] for e in got["events"]]
    assert any(f"Run {run['id']} status COMPLETED" in m for m in messages), messages
    assert any("estimated HealthOmics cost: $" in m for m in messages), messages
    assert got["nextForwardToken"].startswith("f/")

    found = json.loads(
        _run(
            [
                AWS,
                "logs",
                "filter-log-events",
                "--log-group-name",
                G,
                "--log-stream-name-prefix",
                stream,
                "--filter-pattern",
                '"status COMPLETED"',
            ],
            env,
            tmp_path,
        )
    )
    assert [e["logStreamName"] for e in found["events"]] == [stream]

    described = json.loads(
        _run(
            [
                AWS,
                "logs",
                "describe-log-streams",
                "--log-group-name",
                G,
                "--log-stream-name-prefix",
                f"manifest/run/{run['id']}/",
            ],
            env,
            tmp_path,
        )
    )
    (manifest,) = described["logStreams"]
    assert manifest["logStreamName"] == f"manifest/run/{run['id']}/{run['uuid']}"

    task = all_tasks(omics, run["id"])[-1]
    task_log = json.loads(
        _run(
            [
                AWS,
                "logs",
                "get-log-events",
                "--log-group-name",
                G,
                "--log-stream-name",
                f"{stream}/task/{task['taskId']}",
            ],
            env,
            tmp_path,
        )
    )
    assert "shouted" in [e["message"] for e in task_log["events"]]

    missing = subprocess.run(
        [str(AWS), "logs", "get-log-events", "--log-group-name", G, "--log-stream-name", "run/0000000"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 255 and "ResourceNotFoundException" in missing.stderr


def test_aws_cli_logs_tail(live: tuple[str, Any], tmp_path: Path) -> None:
    url, omics = live
    env = _env(url, tmp_path)
    has_tail = subprocess.run([str(AWS), "logs", "tail", "help"], env=env, capture_output=True, timeout=60, check=False)
    if has_tail.returncode != 0:
        pytest.skip("this AWS CLI has no `aws logs tail` (an AWS CLI v2 command)")
    run = _finished_run(omics)
    stream = f"run/{run['id']}"
    tailed = _run(
        [AWS, "logs", "tail", G, "--log-stream-names", stream, "--since", "1d", "--format", "short"], env, tmp_path
    )
    assert "status COMPLETED" in tailed


def test_logs_stream_in_while_the_run_executes(live: tuple[str, Any]) -> None:
    url, omics = live
    logs = logs_client(url)
    workflow_id = register(omics, {"main.wdl": NAP}, name="nap")
    run_id = start(omics, workflow_id, parameters={"seconds": 120})["id"]
    deadline = time.monotonic() + 60
    messages: list[str] = []
    while "awake" not in messages:
        assert time.monotonic() < deadline, f"no task output while running: {messages}"
        tasks = [t for t in all_tasks(omics, run_id) if t["status"] == "RUNNING"]
        if tasks:
            stream = f"run/{run_id}/task/{tasks[0]['taskId']}"
            try:
                page = logs.get_log_events(logGroupName=G, logStreamName=stream, startFromHead=True)
                messages = [e["message"] for e in page["events"]]
            except logs.exceptions.ResourceNotFoundException:
                pass
        time.sleep(0.2)
    assert omics.get_run(id=run_id)["status"] == "RUNNING"
    omics.cancel_run(id=run_id)
    run = wait_run(omics, run_id)
    assert run["status"] == "CANCELLED"
    omics.delete_run(id=run_id)
    manifest = f"manifest/run/{run_id}/{run['uuid']}"
    records = [
        json.loads(e["message"])
        for e in logs.get_log_events(logGroupName=G, logStreamName=manifest, startFromHead=True)["events"]
    ]
    assert records[0]["status"] == "CANCELLED" and records[1]["name"] == "call-doze"
    assert logs.filter_log_events(logGroupName=G, logStreamNamePrefix=f"run/{run_id}/task/", filterPattern="awake")[
        "events"
    ]
