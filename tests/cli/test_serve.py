"""``omicsd serve`` as users run it: a subprocess, reached by unmodified clients configured by environment only."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from omicsd.cli import serve
from tests.support.workflows import zip_folder

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMICSD", "AWS_"))}
    proc = subprocess.Popen(
        [str(BIN / "omicsd"), "serve", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as response:
                assert response.status == 200
                assert json.loads(response.read())["status"] == "ok"
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"omicsd serve did not become ready:\n{out}")
            time.sleep(0.05)
    try:
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _client_env(url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMICSD", "AWS_"))}
    env.update(
        {
            "AWS_ENDPOINT_URL": url,
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
            "AWS_ACCESS_KEY_ID": "omicsd",
            "AWS_SECRET_ACCESS_KEY": "omicsd",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        }
    )
    return env


def test_environment_only_boto3_client(server: tuple[str, subprocess.Popen[bytes]], tmp_path: Path) -> None:
    url, _ = server
    archive = tmp_path / "wf.zip"
    archive.write_bytes(zip_folder("wdl/align_multi"))
    script = f"""
import boto3, json, time, urllib.request
client = boto3.client("omics")
created = client.create_workflow(name="env-only", definitionZip=open({str(archive)!r}, "rb").read())
for _ in range(600):
    got = client.get_workflow(id=created["id"], export=["DEFINITION"])
    if got["status"] != "CREATING":
        break
    time.sleep(0.05)
data = urllib.request.urlopen(got["definition"]).read()
print(json.dumps({{"status": got["status"], "template": sorted(got["parameterTemplate"]), "zip": data[:2].decode()}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], env=_client_env(url, tmp_path), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "ACTIVE"
    assert out["template"]
    assert out["zip"] == "PK"


def test_aws_cli(server: tuple[str, subprocess.Popen[bytes]], tmp_path: Path) -> None:
    url, _ = server
    aws = shutil.which("aws", path=str(BIN)) or shutil.which("aws")
    if aws is None:
        pytest.skip("the AWS CLI is not installed (pip install awscli)")
    env = _client_env(url, tmp_path)
    listed = subprocess.run([aws, "omics", "list-workflows"], env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["items"] == []
    missing = subprocess.run(
        [aws, "omics", "get-workflow", "--id", "1234567"], env=env, capture_output=True, text=True, timeout=120
    )
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr


def test_ctrl_c_stops_cleanly(server: tuple[str, subprocess.Popen[bytes]]) -> None:
    _, proc = server
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0


def test_env_command_prints_exports() -> None:
    result = subprocess.run(
        [str(BIN / "omicsd"), "env", "--port", "9999"], capture_output=True, text=True, timeout=60, env={**os.environ}
    )
    assert result.returncode == 0
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:9999" in result.stdout
    assert "export AWS_DISABLE_HOST_PREFIX_INJECTION=true" in result.stdout


@pytest.mark.slow
def test_aws_cli_runs_a_workflow(server: tuple[str, subprocess.Popen[bytes]], tmp_path: Path) -> None:
    url, _ = server
    aws = shutil.which("aws", path=str(BIN)) or shutil.which("aws")
    if aws is None:
        pytest.skip("the AWS CLI is not installed (pip install awscli)")
    env = _client_env(url, tmp_path)

    def cli(*args: str) -> dict[str, object]:
        done = subprocess.run([aws, "omics", *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    archive = tmp_path / "wf.zip"
    archive.write_bytes(zip_folder("wdl/hello_v11"))
    workflow = cli("create-workflow", "--name", "cli", "--definition-zip", f"fileb://{archive}")
    deadline = time.monotonic() + 60
    while cli("get-workflow", "--id", str(workflow["id"]))["status"] == "CREATING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    run = cli(
        "start-run",
        "--workflow-id",
        str(workflow["id"]),
        "--role-arn",
        "arn:aws:iam::123456789012:role/omicsd",
        "--output-uri",
        "s3://cli-out/runs/",
        "--parameters",
        json.dumps({"name": "cli", "repeat": 2}),
    )
    while (got := cli("get-run", "--id", str(run["id"])))["status"] not in ("COMPLETED", "FAILED", "CANCELLED"):
        assert time.monotonic() < deadline + 60
        time.sleep(0.1)
    assert got["status"] == "COMPLETED", got
    assert str(got["creationTime"]).endswith("Z")
    tasks = cli("list-run-tasks", "--id", str(run["id"]))["items"]
    assert [t["name"] for t in tasks] == ["call-say_hello"]  # type: ignore[index]
    message = tmp_path / "data" / "buckets" / "cli-out" / "runs" / str(run["id"]) / "out" / "message" / "message.txt"
    assert message.read_text() == "Hello, cli!\nHello, cli!\n"


def test_serve_picks_httptools_and_uvloop_when_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configs: list[uvicorn.Config] = []

    class Recorder:
        def __init__(self, config: uvicorn.Config) -> None:
            configs.append(config)

        def run(self) -> None:
            pass

    monkeypatch.setattr(uvicorn, "Server", Recorder)
    args = argparse.Namespace(
        host="127.0.0.1", port=_free_port(), data_dir=str(tmp_path / "data"), db=None, config=None, log_level="warning"
    )
    assert serve.run(args) == 0
    installed = {name for name in ("httptools", "uvloop") if importlib.util.find_spec(name) is not None}
    assert configs[0].http == ("httptools" if "httptools" in installed else "h11")
    assert configs[0].loop == ("uvloop" if "uvloop" in installed else "asyncio")


def test_pick_implementation_falls_back_when_the_module_is_missing() -> None:
    assert serve.pick_implementation("json", "h11") == "json"
    assert serve.pick_implementation("omicsd_no_such_module", "h11") == "h11"
