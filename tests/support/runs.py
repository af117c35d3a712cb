"""A registered hello workflow and StartRun requests, for tests that drive the services directly."""

from __future__ import annotations

import uuid
from typing import Any

from omicsd.domain.runs import RunRecord
from omicsd.domain.states import WorkflowStatus
from omicsd.services import Services
from tests.support.workflows import zip_text

ROLE = "arn:aws:iam::123456789012:role/omicsd-test"
HELLO = """version 1.0
workflow hello {
  input { String name }
  call greet { input: name = name }
}
task greet {
  input { String name }
  command <<< echo ~{name} >>>
}
"""
"""One task; its only input is ``name`` (the requests below set it)."""


def register_workflow(services: Services, text: str = HELLO) -> str:
    """Create a workflow from ``text`` (``main.wdl``) and wait until it is ACTIVE; returns its ID."""
    caller = services.caller(None)
    view = services.workflows.create(
        caller, {"definitionZip": zip_text({"main.wdl": text}), "requestId": str(uuid.uuid4())}
    )
    services.workflows.wait_idle()
    assert services.workflows.get(view.record.id).record.status == WorkflowStatus.ACTIVE
    return view.record.id


def run_request(workflow_id: str, **members: Any) -> dict[str, Any]:
    """A StartRun request for the hello workflow (``name`` set), with a fresh requestId; ``members`` override."""
    body = {"workflowId": workflow_id, "roleArn": ROLE, "outputUri": "s3://out/", "parameters": {"name": "n"}}
    return {**body, "requestId": str(uuid.uuid4()), **members}


def start_run(services: Services, workflow_id: str, **members: Any) -> RunRecord:
    """StartRun through the service; the PENDING record."""
    return services.runs.start(services.caller(None), run_request(workflow_id, **members)).record
