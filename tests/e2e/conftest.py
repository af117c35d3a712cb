"""End-to-end fixtures: a live server (uvicorn + scheduler + real engine drivers) and a boto3 client for it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from omicsd.app import build_app
from omicsd.config import Settings
from tests.conftest import make_settings
from tests.support.live import serve
from tests.support.workflows import wait_workflow, zip_text

ROLE = "arn:aws:iam::123456789012:role/omicsd-test"
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")


def omics_client(url: str) -> Any:
    return boto3.session.Session().client(
        "omics",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def e2e_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'omicsd.db'}")


@pytest.fixture
def omics(e2e_settings: Settings) -> Iterator[Any]:
    """A boto3 omics client for a live server on SQLite."""
    app = build_app(e2e_settings)
    with serve(app) as url:
        client = omics_client(url)
        client.omicsd_app = app
        yield client


def register(client: Any, files: dict[str, str], **kwargs: Any) -> str:
    created = client.create_workflow(definitionZip=zip_text(files), **kwargs)
    got = wait_workflow(client, created["id"])
    assert got["status"] == "ACTIVE", got.get("statusMessage")
    return str(created["id"])


def start(client: Any, workflow_id: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("roleArn", ROLE)
    kwargs.setdefault("outputUri", "s3://results/runs/")
    response: dict[str, Any] = client.start_run(workflowId=workflow_id, **kwargs)
    return response


def wait_run(client: Any, run_id: str, timeout: float = 120, until: tuple[str, ...] = TERMINAL) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = client.get_run(id=run_id)
        if run["status"] in until:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {run['status']} after {timeout}s")
        time.sleep(0.02)


def all_tasks(client: Any, run_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("list_run_tasks").paginate(id=run_id):
        items += page["items"]
    return items
