"""Runs whose drivers are forked from warm helpers behave exactly like cold ``python -m`` drivers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omicsd.app import build_app
from tests.conftest import make_settings
from tests.e2e.conftest import all_tasks, omics_client, register, start, wait_run
from tests.e2e.test_runs import HELLO
from tests.support.live import serve

pytestmark = pytest.mark.slow

CWL = """cwlVersion: v1.2
class: CommandLineTool
baseCommand: echo
inputs:
  message: {type: string, inputBinding: {position: 1}}
stdout: said.txt
outputs:
  said: {type: stdout}
"""


@pytest.fixture
def warm(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    settings = make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'db.sqlite'}", server={"warm_drivers": True})
    app = build_app(settings)
    with serve(app) as url:
        yield omics_client(url), app


def test_wdl_and_cwl_runs_through_the_fork_server(warm: tuple[Any, Any], tmp_path: Path) -> None:
    omics, app = warm
    assert app.scheduler is not None
    wdl = register(omics, {"main.wdl": HELLO})
    cwl = register(omics, {"main.cwl": CWL})
    wdl_run = wait_run(omics, start(omics, wdl, parameters={"name": "warm"})["id"])
    cwl_run = wait_run(omics, start(omics, cwl, parameters={"message": "warm"})["id"])
    assert wdl_run["status"] == "COMPLETED", wdl_run.get("statusMessage")
    assert cwl_run["status"] == "COMPLETED", cwl_run.get("statusMessage")
    assert [t["name"] for t in all_tasks(omics, wdl_run["id"])] == ["call-greet"]
    forked = [fs for fs in app.scheduler._forkservers.values() if fs.alive()]
    assert forked, "the warm helpers are running"
    log = (tmp_path / "data" / "runs" / wdl_run["uuid"] / "driver.log").read_text()
    assert "Traceback" not in log
