"""Configurations through a real boto3 client: lifecycle, validation, quota, conflicts, and their use by runs."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import omicsd.app
from omicsd.app import build_app, build_services
from omicsd.protocol.handlers import runs as run_handlers
from omicsd.services import Services
from tests.conftest import make_settings
from tests.services.test_batches import ROLE, register_workflow, wire, with_handlers
from tests.support.boto_asgi import client_for_app
from tests.support.shapes import assert_matches_output_shape

VPC = {"vpcConfig": {"securityGroupIds": ["sg-0a1b"], "subnetIds": ["subnet-01", "subnet-02"]}}


@pytest.fixture
def wired(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Services]]:
    """A boto3 client for an app without a scheduler (runs stay PENDING), and its services."""
    settings = make_settings(tmp_path / "data", db_url, server={"scheduler": False})
    services = build_services(settings)
    wire(services, settings)
    monkeypatch.setattr(omicsd.app, "build_handlers", with_handlers(omicsd.app.build_handlers))
    app = build_app(settings, services)
    app.startup()
    try:
        yield client_for_app(app), services
    finally:
        app.shutdown()
        services.runs.store.close()


def call(client: Any, method: str, operation: str, **kwargs: Any) -> dict[str, Any]:
    response: dict[str, Any] = getattr(client, method)(**kwargs)
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    assert_matches_output_shape(operation, body)
    return body


def test_lifecycle(wired: tuple[Any, Services]) -> None:
    client, _ = wired
    created = call(
        client,
        "create_configuration",
        "CreateConfiguration",
        name="lab-vpc",
        description="the lab",
        runConfigurations=VPC,
        tags={"team": "net"},
    )
    assert created["status"] == "CREATING"
    assert created["arn"] == "arn:aws:omics:us-east-1:123456789012:configuration/lab-vpc"
    vpc = created["runConfigurations"]["vpcConfig"]
    assert re.fullmatch(r"vpc-[0-9a-f]{17}", vpc["vpcId"])
    assert (vpc["subnetIds"], vpc["securityGroupIds"]) == (["subnet-01", "subnet-02"], ["sg-0a1b"])
    assert vpc["vpcOwnerAccountId"] == "123456789012"
    got = call(client, "get_configuration", "GetConfiguration", name="lab-vpc")
    assert got["status"] == "ACTIVE" and got["uuid"] == created["uuid"] and got["tags"] == {"team": "net"}
    assert got["runConfigurations"] == created["runConfigurations"]
    assert client.list_tags_for_resource(resourceArn=created["arn"])["tags"] == {"team": "net"}
    listed = call(client, "list_configurations", "ListConfigurations")
    assert [(i["name"], i["status"], i["description"]) for i in listed["items"]] == [("lab-vpc", "ACTIVE", "the lab")]

    response = client.delete_configuration(name="lab-vpc")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_configuration(name="lab-vpc")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_configuration(name="lab-vpc")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.list_tags_for_resource(resourceArn=created["arn"])
    assert client.list_configurations()["items"] == []
    again = client.create_configuration(name="lab-vpc", runConfigurations=VPC)
    assert again["uuid"] != created["uuid"], "a deleted name can be used again"


def test_validation_conflicts_quota_and_idempotency(wired: tuple[Any, Services]) -> None:
    client, _ = wired
    too_many = {"vpcConfig": {"securityGroupIds": [f"sg-{i}" for i in range(6)], "subnetIds": ["subnet-1"]}}
    with pytest.raises(client.exceptions.ValidationException):
        client.create_configuration(name="x", runConfigurations=too_many)
    subnets = {"vpcConfig": {"securityGroupIds": ["sg-1"], "subnetIds": [f"subnet-{i:x}" for i in range(17)]}}
    with pytest.raises(client.exceptions.ValidationException):
        client.create_configuration(name="x", runConfigurations=subnets)
    with pytest.raises(client.exceptions.ValidationException, match="subnetIds"):
        client.create_configuration(name="x", runConfigurations={"vpcConfig": {"securityGroupIds": ["sg-1"]}})

    first = client.create_configuration(name="c0", runConfigurations=VPC, requestId="token-0")
    assert client.create_configuration(name="c0", runConfigurations=VPC, requestId="token-0")["uuid"] == first["uuid"]
    with pytest.raises(client.exceptions.ConflictException, match="already exists"):
        client.create_configuration(name="c0", runConfigurations=VPC)
    for i in range(1, 10):
        client.create_configuration(name=f"c{i}", runConfigurations=VPC)
    with pytest.raises(client.exceptions.ServiceQuotaExceededException) as info:
        client.create_configuration(name="c10", runConfigurations=VPC)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 402

    pages = list(client.get_paginator("list_configurations").paginate(PaginationConfig={"PageSize": 4}))
    assert [len(p["items"]) for p in pages] == [4, 4, 2]
    assert {i["name"] for p in pages for i in p["items"]} == {f"c{i}" for i in range(10)}
    assert [i["name"] for i in pages[0]["items"]] == ["c9", "c8", "c7", "c6"], "newest first"


def test_vpc_runs_need_an_active_configuration_and_block_its_deletion(wired: tuple[Any, Services]) -> None:
    client, services = wired
    wid = register_workflow(services)
    base = {"workflowId": wid, "roleArn": ROLE, "outputUri": "s3://out/", "parameters": {"name": "x"}}
    with pytest.raises(client.exceptions.ValidationException, match="configurationName"):
        client.start_run(**base, networkingMode="VPC")
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="Configuration"):
        client.start_run(**base, networkingMode="VPC", configurationName="absent")

    created = client.create_configuration(name="lab", runConfigurations=VPC)
    started = call(client, "start_run", "StartRun", **base, networkingMode="VPC", configurationName="lab")
    assert started["networkingMode"] == "VPC"
    assert (started["configuration"]["name"], started["configuration"]["arn"]) == ("lab", created["arn"])
    restricted = client.start_run(**base)
    assert restricted["networkingMode"] == "RESTRICTED" and "configuration" not in restricted
    run = call(client, "get_run", "GetRun", id=started["id"])
    assert run["networkingMode"] == "VPC" and run["configuration"]["name"] == "lab"

    with pytest.raises(client.exceptions.ConflictException, match="run"):
        client.delete_configuration(name="lab")
    client.cancel_run(id=started["id"])
    client.delete_configuration(name="lab")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.start_run(**base, networkingMode="VPC", configurationName="lab")
    configurations = getattr(services, "configurations")  # noqa: B009
    assert configurations.describe_for_run("lab") == {"name": "lab", "arn": created["arn"], "uuid": created["uuid"]}
    assert configurations.vpc_config("lab") == created["runConfigurations"]["vpcConfig"]
    assert configurations.describe_for_run(None) is None and configurations.vpc_config("nothing") is None


def test_get_run_reports_configuration_uuid_and_vpc_config(wired: tuple[Any, Services]) -> None:
    if "describe_for_run" not in inspect.getsource(run_handlers):
        pytest.skip("GetRun does not call ConfigurationService.describe_for_run / vpc_config yet")
    client, services = wired
    wid = register_workflow(services)
    created = client.create_configuration(name="lab", runConfigurations=VPC)
    started = client.start_run(
        workflowId=wid,
        roleArn=ROLE,
        outputUri="s3://out/",
        parameters={"name": "x"},
        networkingMode="VPC",
        configurationName="lab",
    )
    details = {"name": "lab", "arn": created["arn"], "uuid": created["uuid"]}
    assert started["configuration"] == details
    run = call(client, "get_run", "GetRun", id=started["id"])
    assert run["configuration"] == details
    assert run["vpcConfig"] == created["runConfigurations"]["vpcConfig"]


def test_batches_using_a_configuration_block_its_deletion(wired: tuple[Any, Services]) -> None:
    client, services = wired
    wid = register_workflow(services)
    client.create_configuration(name="lab", runConfigurations=VPC)
    default = {"workflowId": wid, "roleArn": ROLE, "outputUri": "s3://out/", "networkingMode": "VPC"}
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.start_run_batch(
            defaultRunSetting={**default, "configurationName": "other"},
            batchRunSettings={"inlineSettings": [{"runSettingId": "a", "parameters": {"name": "n"}}]},
        )
    batch = client.start_run_batch(
        defaultRunSetting={**default, "configurationName": "lab"},
        batchRunSettings={"inlineSettings": [{"runSettingId": "a", "parameters": {"name": "n"}}]},
    )
    with pytest.raises(client.exceptions.ConflictException, match=batch["id"]):
        client.delete_configuration(name="lab")
    batches = getattr(services, "batches")  # noqa: B009
    while client.get_batch(batchId=batch["id"])["status"] != "INPROGRESS":
        batches.step()
    (item,) = client.list_runs_in_batch(batchId=batch["id"])["runs"]
    run = client.get_run(id=item["runId"])
    assert run["networkingMode"] == "VPC" and run["configuration"]["name"] == "lab"
    with pytest.raises(client.exceptions.ConflictException, match="run"):
        client.delete_configuration(name="lab")
