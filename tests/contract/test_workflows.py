"""Workflows and versions through a real boto3 client; every response checked against its output shape."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.shapes import assert_matches_output_shape
from tests.support.workflows import wait_workflow, zip_folder, zip_text


def call(client: Any, operation: str, **kwargs: Any) -> dict[str, Any]:
    method = getattr(client, _snake(operation))
    response: dict[str, Any] = method(**kwargs)
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    assert_matches_output_shape(operation, body)
    assert response["ResponseMetadata"]["RequestId"]
    return body


def _snake(name: str) -> str:
    import botocore

    return str(botocore.xform_name(name))


def create(client: Any, folder: str | None = None, **kwargs: Any) -> dict[str, Any]:
    if folder is not None:
        kwargs["definitionZip"] = zip_folder(folder)
    created = call(client, "CreateWorkflow", **kwargs)
    assert created["status"] == "CREATING"
    return created


def test_multi_file_wdl_becomes_active_with_template(client: Any) -> None:
    created = create(client, "wdl/align_multi", name="align", tags={"team": "genomics"})
    assert created["tags"] == {"team": "genomics"}
    assert created["arn"].endswith(f":workflow/{created['id']}")
    wait_workflow(client, created["id"])
    got = call(client, "GetWorkflow", id=created["id"])
    assert got["status"] == "ACTIVE", got.get("statusMessage")
    assert got["engine"] == "WDL"
    assert got["main"] == "main.wdl"
    assert got["digest"].startswith("sha256:")
    template = got["parameterTemplate"]
    assert template, "a template is inferred from the definition"
    assert all(set(entry) <= {"description", "optional"} for entry in template.values())
    assert all("." not in name for name in template), "no namespacing"
    assert got["tags"] == {"team": "genomics"}
    assert got["type"] == "PRIVATE"


def test_single_file_cwl_becomes_active(client: Any) -> None:
    created = create(client, "cwl/wc_tool")
    got = wait_workflow(client, created["id"])
    assert got["status"] == "ACTIVE", got.get("statusMessage")
    assert got["engine"] == "CWL"
    assert got["parameterTemplate"]


def test_nextflow_zip_becomes_active(client: Any) -> None:
    created = create(client, "nextflow/schema_pipeline")
    got = wait_workflow(client, created["id"])
    assert got["status"] == "ACTIVE", got.get("statusMessage")
    assert got["engine"] == "NEXTFLOW"
    assert got["parameterTemplate"]


def test_broken_wdl_fails_with_parser_message(client: Any) -> None:
    created = create(client, "wdl/broken_type")
    got = wait_workflow(client, created["id"])
    assert got["status"] == "FAILED"
    assert "main.wdl" in got["statusMessage"]


def test_supplied_template_wins(client: Any) -> None:
    template = {"only": {"description": "the one input", "optional": False}}
    created = create(client, "wdl/hello_v11", parameterTemplate=template)
    got = wait_workflow(client, created["id"])
    assert got["status"] == "ACTIVE"
    assert got["parameterTemplate"] == template


def test_not_a_zip_fails(client: Any) -> None:
    created = create(client, definitionZip=b"version 1.0\nworkflow w {}\n")
    got = wait_workflow(client, created["id"])
    assert got["status"] == "FAILED"
    assert "zip" in got["statusMessage"].lower()


def test_definition_uri_from_local_bucket(client: Any, services: Any) -> None:
    services.workflows.blobs.put_bytes("s3://defs/hello.zip", zip_folder("wdl/hello_v11"))
    created = create(client, definitionUri="s3://defs/hello.zip")
    assert wait_workflow(client, created["id"])["status"] == "ACTIVE"
    missing = create(client, definitionUri="s3://defs/missing.zip")
    got = wait_workflow(client, missing["id"])
    assert got["status"] == "FAILED" and "s3://defs/missing.zip" in got["statusMessage"]


def test_update_get_list_and_pagination(client: Any) -> None:
    ids = [create(client, "wdl/hello_v11", name=f"wf{i}")["id"] for i in range(3)]
    for wid in ids:
        wait_workflow(client, wid)
    call(client, "UpdateWorkflow", id=ids[0], name="renamed", description="new text", storageType="DYNAMIC")
    got = call(client, "GetWorkflow", id=ids[0])
    assert (got["name"], got["description"], got["storageType"]) == ("renamed", "new text", "DYNAMIC")

    seen: list[str] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"maxResults": 1}
        if token:
            kwargs["startingToken"] = token
        page = call(client, "ListWorkflows", **kwargs)
        assert len(page["items"]) <= 1
        seen += [item["id"] for item in page["items"]]
        token = page.get("nextToken")
        if not token:
            break
    assert sorted(seen) == sorted(ids)
    assert seen == sorted(ids, key=ids.index, reverse=True), "newest first"
    assert [i["id"] for i in call(client, "ListWorkflows", name="renamed")["items"]] == [ids[0]]
    assert call(client, "ListWorkflows", type="READY2RUN")["items"] == []
    paginator = client.get_paginator("list_workflows")
    assert sum(len(p["items"]) for p in paginator.paginate(PaginationConfig={"PageSize": 2})) == 3


def test_versions_lifecycle_and_delete_rules(client: Any) -> None:
    wid = create(client, "wdl/hello_v11")["id"]
    wait_workflow(client, wid)
    version = call(
        client, "CreateWorkflowVersion", workflowId=wid, versionName="v2", definitionZip=zip_folder("wdl/scatter_count")
    )
    assert version["arn"].endswith(f":workflow/{wid}/version/v2")
    got = wait_workflow(client, wid, "v2")
    assert got["status"] == "ACTIVE"
    got = call(client, "GetWorkflowVersion", workflowId=wid, versionName="v2")
    assert got["versionName"] == "v2" and got["workflowId"] == wid
    with pytest.raises(client.exceptions.ConflictException):
        client.create_workflow_version(workflowId=wid, versionName="v2", definitionZip=zip_folder("wdl/hello_v11"))
    items = call(client, "ListWorkflowVersions", workflowId=wid)["items"]
    assert [i["versionName"] for i in items] == ["v2"]
    call(client, "UpdateWorkflowVersion", workflowId=wid, versionName="v2", description="second")
    assert call(client, "GetWorkflowVersion", workflowId=wid, versionName="v2")["description"] == "second"

    with pytest.raises(client.exceptions.ConflictException, match="version"):
        client.delete_workflow(id=wid)
    call(client, "DeleteWorkflowVersion", workflowId=wid, versionName="v2")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_workflow_version(workflowId=wid, versionName="v2")
    call(client, "DeleteWorkflow", id=wid)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_workflow(id=wid)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_workflow(id=wid)


def test_version_of_missing_workflow(client: Any) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.create_workflow_version(workflowId="7654321", versionName="v1", definitionZip=b"PK")


def test_request_id_idempotency(client: Any) -> None:
    archive = zip_folder("wdl/hello_v11")
    first = create(client, definitionZip=archive, name="same", requestId="req-1")
    again = call(client, "CreateWorkflow", definitionZip=archive, name="same", requestId="req-1")
    assert (again["id"], again["uuid"], again["arn"]) == (first["id"], first["uuid"], first["arn"])
    with pytest.raises(client.exceptions.ConflictException, match="req-1"):
        client.create_workflow(definitionZip=archive, name="different", requestId="req-1")
    assert len(client.list_workflows()["items"]) == 1


def test_tags_on_workflows_and_versions(client: Any) -> None:
    created = create(client, "wdl/hello_v11", tags={"a": "1"})
    wait_workflow(client, created["id"])
    arn = created["arn"]
    call(client, "TagResource", resourceArn=arn, tags={"b": "2", "a": "3"})
    assert call(client, "ListTagsForResource", resourceArn=arn)["tags"] == {"a": "3", "b": "2"}
    call(client, "UntagResource", resourceArn=arn, tagKeys=["a", "missing"])
    assert call(client, "ListTagsForResource", resourceArn=arn)["tags"] == {"b": "2"}
    with pytest.raises(client.exceptions.ValidationException, match="50"):
        client.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
    version = call(
        client,
        "CreateWorkflowVersion",
        workflowId=created["id"],
        versionName="v1",
        definitionZip=zip_folder("wdl/hello_v11"),
        tags={"v": "1"},
    )
    assert call(client, "ListTagsForResource", resourceArn=version["arn"])["tags"] == {"v": "1"}
    missing = arn.rsplit("/", 1)[0] + "/7654321"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.list_tags_for_resource(resourceArn=missing)
    with pytest.raises(client.exceptions.ValidationException):
        client.tag_resource(resourceArn="arn:aws:s3:::bucket", tags={"a": "b"})


@pytest.mark.parametrize(
    ("operation", "kwargs", "member"),
    [
        ("create_workflow", {"definitionZip": b"x", "engine": "COBOL"}, "engine"),
        ("create_workflow", {"definitionZip": b"x", "storageCapacity": 100001}, "storageCapacity"),
        ("create_workflow", {"definitionZip": b"x", "name": "n" * 129}, "name"),
        ("get_workflow", {"id": "abc"}, "id"),
        ("list_workflows", {"maxResults": 1000}, "maxResults"),
        ("get_workflow", {"id": "1234567", "export": ["EVERYTHING"]}, "export"),
    ],
)
def test_bad_input_is_a_validation_exception(client: Any, operation: str, kwargs: dict[str, Any], member: str) -> None:
    with pytest.raises(client.exceptions.ValidationException, match=member):
        getattr(client, operation)(**kwargs)


def test_create_without_source(client: Any) -> None:
    with pytest.raises(client.exceptions.ValidationException, match="definitionZip"):
        client.create_workflow(name="nothing")


def test_ready2run_is_an_empty_catalogue(client: Any) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_workflow(id="1234567", type="READY2RUN")


def test_out_of_scope_operation_is_typed(client: Any) -> None:
    with pytest.raises(ClientError) as info:
        client.list_sequence_stores()
    error = info.value.response["Error"]
    assert error["Code"] == "NotSupportedOperationException"
    assert "ListSequenceStores" in error["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500


def test_zip_text_helper_single_cwl(client: Any) -> None:
    cwl = (
        "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\n"
        "inputs:\n  message: {type: string, inputBinding: {position: 1}}\n"
        "  times: {type: 'int?'}\noutputs: []\n"
    )
    created = create(client, definitionZip=zip_text({"tool.cwl": cwl}))
    got = wait_workflow(client, created["id"])
    assert got["status"] == "ACTIVE", got.get("statusMessage")
    assert got["parameterTemplate"]["message"]["optional"] is False
    assert got["parameterTemplate"]["times"]["optional"] is True
