"""Runs whose drivers are forked from warm helpers behave exactly like cold ``python -m`` drivers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omicsd.app import build_app
from omicsd.scheduler.loop import FORKSERVER_MODULES
from omicsd.store import runs as run_store
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
    scheduler = app.scheduler
    assert scheduler is not None
    assert scheduler._warm.running() == {}, "an idle server keeps no helper"
    wdl = register(omics, {"main.wdl": HELLO})
    cwl = register(omics, {"main.cwl": CWL})
    # The first run of each engine starts cold and brings that engine's helper up for the runs that follow.
    first = [
        wait_run(omics, start(omics, wdl, parameters={"name": "cold"})["id"]),
        wait_run(omics, start(omics, cwl, parameters={"message": "cold"})["id"]),
    ]
    assert [r["status"] for r in first] == ["COMPLETED", "COMPLETED"]
    helpers = scheduler._warm.running()
    assert set(helpers) == set(FORKSERVER_MODULES)
    assert all(helper.wait_ready(60) for helper in helpers.values())
    wdl_run = wait_run(omics, start(omics, wdl, parameters={"name": "warm"})["id"])
    cwl_run = wait_run(omics, start(omics, cwl, parameters={"message": "warm"})["id"])
    assert wdl_run["status"] == "COMPLETED", wdl_run.get("statusMessage")
    assert cwl_run["status"] == "COMPLETED", cwl_run.get("statusMessage")
    assert [t["name"] for t in all_tasks(omics, wdl_run["id"])] == ["call-greet"]
    for run, module in ((wdl_run, FORKSERVER_MODULES[0]), (cwl_run, FORKSERVER_MODULES[1])):
        with app.services.runs.store.read() as conn:
            record = run_store.get(conn, run["id"])
        assert record is not None and record.driver_pid
        assert _exit_status(helpers[module], record.driver_pid) == 0, f"{module} forked the driver"
    log = (tmp_path / "data" / "runs" / wdl_run["uuid"] / "driver.log").read_text()
    assert "Traceback" not in log


def _exit_status(helper: Any, pid: int) -> int | None:
    deadline = time.monotonic() + 10
    while (status := helper.exit_status(pid)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return status  # type: ignore[no-any-return]
