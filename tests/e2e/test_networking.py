"""Networking modes mean something locally: VPC tasks reach the network, RESTRICTED ones cannot."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import ROLE, register, start, wait_run
from tests.e2e.test_batches import omics_wired, wait_batch

pytestmark = pytest.mark.slow

__all__ = ["omics_wired"]


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP socket listening on the loopback interface; yields its port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def probe(port: int) -> str:
    return f"""version 1.0
workflow probe {{
  call connect
  output {{ String said = connect.said }}
}}
task connect {{
  command <<<
    python3 -c 'import socket; socket.create_connection(("127.0.0.1", {port}), timeout=3); print("connected")'
  >>>
  output {{ String said = read_string(stdout()) }}
}}
"""


def test_vpc_task_reaches_a_local_socket_and_restricted_cannot(omics_wired: Any, listener: int) -> None:
    client = omics_wired
    wid = register(client, {"main.wdl": probe(listener)})
    config = client.create_configuration(
        name="local-net", runConfigurations={"vpcConfig": {"securityGroupIds": ["sg-1"], "subnetIds": ["subnet-1"]}}
    )
    vpc = start(client, wid, networkingMode="VPC", configurationName="local-net")
    assert vpc["networkingMode"] == "VPC" and vpc["configuration"]["arn"] == config["arn"]
    restricted = start(client, wid)
    assert restricted["networkingMode"] == "RESTRICTED"
    batch = client.start_run_batch(
        defaultRunSetting={
            "workflowId": wid,
            "roleArn": ROLE,
            "outputUri": "s3://results/net/",
            "networkingMode": "VPC",
            "configurationName": "local-net",
        },
        batchRunSettings={"inlineSettings": [{"runSettingId": "from-batch"}]},
    )

    done = wait_run(client, vpc["id"])
    assert done["status"] == "COMPLETED", done.get("statusMessage")
    assert done["networkingMode"] == "VPC" and done["configuration"]["name"] == "local-net"
    blocked = wait_run(client, restricted["id"])
    assert blocked["status"] == "FAILED" and blocked["failureReason"] == "RUN_TASK_FAILED"
    got = wait_batch(client, batch["id"], ("PROCESSED", "FAILED"))
    assert got["runSummary"]["completedRunCount"] == 1, got
    (item,) = client.list_runs_in_batch(batchId=batch["id"])["runs"]
    run = client.get_run(id=item["runId"])
    assert run["networkingMode"] == "VPC" and run["configuration"]["name"] == "local-net"
