"""retentionMode: REMOVE runs are evicted oldest-first at the stored-runs quota; RETAIN runs never are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omicsd.app import build_app
from tests.conftest import make_settings
from tests.e2e.conftest import omics_client, register, start, wait_run
from tests.e2e.test_runs import HELLO
from tests.support.live import serve

pytestmark = pytest.mark.slow


@pytest.fixture
def small_quota(tmp_path: Path) -> Iterator[Any]:
    settings = make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'db.sqlite'}", runs={"max_stored_runs": 2})
    with serve(build_app(settings)) as url:
        yield omics_client(url)


def test_remove_runs_are_evicted_then_quota_error(small_quota: Any) -> None:
    omics = small_quota
    wid = register(omics, {"main.wdl": HELLO})
    params = {"name": "x"}
    removable = wait_run(omics, start(omics, wid, parameters=params, retentionMode="REMOVE")["id"])
    kept = wait_run(omics, start(omics, wid, parameters=params)["id"])
    third = start(omics, wid, parameters=params)
    with pytest.raises(omics.exceptions.ResourceNotFoundException):
        omics.get_run(id=removable["id"])
    assert omics.get_run(id=kept["id"])["retentionMode"] == "RETAIN"
    wait_run(omics, third["id"])
    with pytest.raises(omics.exceptions.ServiceQuotaExceededException) as info:
        start(omics, wid, parameters=params)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 402
    assert {r["id"] for r in omics.list_runs()["items"]} == {kept["id"], third["id"]}
