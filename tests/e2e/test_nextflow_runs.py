"""Nextflow through the API: registration with its template, engineSettings checks, and the fast failure
when no ``nextflow`` launcher is installed on the host."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.e2e.conftest import start, wait_run
from tests.support.workflows import wait_workflow, zip_folder

pytestmark = pytest.mark.slow


def _register(omics: Any) -> dict[str, Any]:
    created = omics.create_workflow(definitionZip=zip_folder("nextflow/params_profiles"))
    got = wait_workflow(omics, created["id"])
    assert got["status"] == "ACTIVE", got.get("statusMessage")
    return got


def test_registration_template_and_profiles(omics: Any) -> None:
    got = _register(omics)
    assert got["engine"] == "NEXTFLOW"
    assert {"names", "greeting", "repeat"} <= set(got["parameterTemplate"])
    assert got["parameterTemplate"]["greeting"]["optional"] is True
    assert {"standard", "test", "big"} <= set(got["profiles"])


def test_engine_settings_are_checked_at_start(omics: Any) -> None:
    wid = _register(omics)["id"]
    with pytest.raises(omics.exceptions.ValidationException, match="nope"):
        start(omics, wid, parameters={"names": "a,b"}, engineSettings={"profile": "nope"})
    with pytest.raises(omics.exceptions.ValidationException, match="syntaxVersion"):
        start(omics, wid, parameters={"names": "a,b"}, engineSettings={"syntaxVersion": "v9"})
    accepted = start(omics, wid, parameters={"names": "a,b"}, engineSettings={"engineVersion": "19.01"})
    assert accepted["status"] == "PENDING", "an unsupported version fails the run, not the request"


@pytest.mark.skipif(shutil.which("nextflow") is not None, reason="a nextflow launcher is installed here")
def test_run_fails_fast_without_nextflow(omics: Any) -> None:
    wid = _register(omics)["id"]
    run = wait_run(
        omics, start(omics, wid, parameters={"names": "a,b"}, engineSettings={"profile": "test"})["id"], timeout=30
    )
    assert run["status"] == "FAILED"
    assert run["failureReason"] == "WORKFLOW_RUN_FAILED"
    assert "Nextflow" in run["statusMessage"] and "not installed" in run["statusMessage"]
    assert run["engineSettings"] == {"profile": "test"}
