"""definitionRepository sources: a local git repository stands in for a CodeConnections repository."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omicsd.app import build_app
from tests.conftest import make_settings
from tests.support.boto_asgi import client_for_app
from tests.support.workflows import wait_workflow

WDL_V1 = 'version 1.0\nworkflow w {\n  input { String who }\n  output { String said = "hi " + who }\n}\n'
WDL_V2 = WDL_V1.replace("String who", "String who\n    Int times = 1")
CONNECTION = "arn:aws:codeconnections:us-east-1:123456789012:connection/abc"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo), *args], check=True, capture_output=True
    )


@pytest.fixture
def repo_client(tmp_path: Path) -> Iterator[Any]:
    root = tmp_path / "repos"
    repo = root / "lab" / "pipelines"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / "main.wdl").write_text(WDL_V1)
    (repo / "README.md").write_text("# Pipelines\n")
    (repo / "docs").mkdir()
    (repo / "docs" / "usage.md").write_text("usage\n")
    (repo / "template.json").write_text(json.dumps({"who": {"description": "name", "optional": False}}))
    (repo / "scratch.tmp").write_text("junk")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "v1")
    _git(repo, "tag", "v1")
    (repo / "main.wdl").write_text(WDL_V2)
    _git(repo, "commit", "-q", "-am", "v2")
    settings = make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'db.sqlite'}", repositories={"root": str(root)})
    app = build_app(settings)
    app.startup()
    try:
        yield client_for_app(app)
    finally:
        app.shutdown()


def test_default_branch_head_and_readme(repo_client: Any) -> None:
    created = repo_client.create_workflow(
        definitionRepository={"connectionArn": CONNECTION, "fullRepositoryId": "lab/pipelines"}
    )
    got = wait_workflow(repo_client, created["id"])
    assert got["status"] == "ACTIVE", got.get("statusMessage")
    assert set(got["parameterTemplate"]) == {"who", "times"}
    assert got["definitionRepositoryDetails"]["fullRepositoryId"] == "lab/pipelines"
    assert got["definitionRepositoryDetails"]["connectionArn"] == CONNECTION


def test_tag_reference_template_path_readme_path_and_excludes(repo_client: Any) -> None:
    created = repo_client.create_workflow(
        definitionRepository={
            "connectionArn": CONNECTION,
            "fullRepositoryId": "lab/pipelines",
            "sourceReference": {"type": "TAG", "value": "v1"},
            "excludeFilePatterns": ["*.tmp"],
        },
        parameterTemplatePath="template.json",
        readmePath="docs/usage.md",
    )
    got = wait_workflow(repo_client, created["id"])
    assert got["status"] == "ACTIVE", got.get("statusMessage")
    assert got["parameterTemplate"] == {"who": {"description": "name", "optional": False}}
    assert got["readmePath"] == "docs/usage.md"
    assert got["definitionRepositoryDetails"]["sourceReference"] == {"type": "TAG", "value": "v1"}


def test_missing_repository_and_reference_fail_the_workflow(repo_client: Any) -> None:
    missing = repo_client.create_workflow(
        definitionRepository={"connectionArn": CONNECTION, "fullRepositoryId": "lab/nothing"}
    )
    assert "not found" in wait_workflow(repo_client, missing["id"])["statusMessage"]
    bad_ref = repo_client.create_workflow(
        definitionRepository={
            "connectionArn": CONNECTION,
            "fullRepositoryId": "lab/pipelines",
            "sourceReference": {"type": "BRANCH", "value": "no-such-branch"},
        }
    )
    got = wait_workflow(repo_client, bad_ref["id"])
    assert got["status"] == "FAILED" and "no-such-branch" in got["statusMessage"]
