"""What StartRun makes of a request: the workflow it runs, a rerun's inherited settings, the PENDING record."""

from __future__ import annotations

import pytest

from omicsd.domain.states import RunStatus
from omicsd.errors import NotFoundError, ValidationError
from omicsd.services import Services
from omicsd.services._run_requests import RunPolicy, build_record, merge_rerun, resolve_workflow, wire_settings
from tests.support.runs import ROLE, register_workflow, run_request, start_run


def test_a_request_resolves_to_its_active_workflow_with_checked_parameters(services: Services) -> None:
    workflow_id = register_workflow(services)
    with services.runs.store.read() as conn:
        assert resolve_workflow(conn, run_request(workflow_id), "123456789012").id == workflow_id
        with pytest.raises(ValidationError):
            resolve_workflow(conn, run_request(workflow_id, parameters={"nme": "typo"}), "123456789012")
        with pytest.raises(NotFoundError):
            resolve_workflow(conn, run_request(workflow_id, workflowOwnerId="999999999999"), "123456789012")
        with pytest.raises(NotFoundError):
            resolve_workflow(conn, run_request("7777777"), "123456789012")


def test_a_rerun_takes_the_settings_it_does_not_set_from_its_source(services: Services) -> None:
    workflow_id = register_workflow(services)
    source = start_run(services, workflow_id, name="first", priority=7, logLevel="ERROR")
    with services.runs.store.read() as conn:
        merged = merge_rerun(conn, {"runId": source.id, "roleArn": ROLE, "outputUri": "s3://out/", "priority": 1})
        plain = merge_rerun(conn, run_request(workflow_id))
        with pytest.raises(NotFoundError):
            merge_rerun(conn, {"runId": "1234567"})
    assert merged["workflowId"] == workflow_id and merged["sourceRunId"] == source.id
    assert (merged["name"], merged["logLevel"], merged["priority"]) == ("first", "ERROR", 1)
    assert "sourceRunId" not in plain
    assert wire_settings(source)["parameters"] == {"name": "n"}


def test_the_record_is_pending_with_the_policys_storage_defaults(services: Services) -> None:
    workflow_id = register_workflow(services)
    with services.runs.store.read() as conn:
        workflow = resolve_workflow(conn, run_request(workflow_id), "123456789012")
    policy = RunPolicy(default_storage_type="STATIC", default_storage_capacity=2400)
    record = build_record(services.caller(None), "1234567", "u-1", run_request(workflow_id), workflow, policy)
    assert (record.id, record.uuid, record.status) == ("1234567", "u-1", RunStatus.PENDING)
    assert (record.storage_type, record.storage_capacity) == ("STATIC", 2400)
    assert record.run_output_uri == "s3://out/1234567"
    assert (record.retention_mode, record.networking_mode) == ("RETAIN", "RESTRICTED")
