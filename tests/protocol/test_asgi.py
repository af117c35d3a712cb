from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import uuid
from collections.abc import Mapping
from typing import Any

import botocore.exceptions
import pytest

from omicsd.errors import ConflictError, NotFoundError
from omicsd.protocol import asgi, model
from omicsd.protocol._types import Handler, RequestContext
from tests.support.boto_asgi import ACCESS_KEY_ID, call_asgi, client_for_app
from tests.support.shapes import assert_matches_output_shape

ARN = "arn:aws:omics:us-east-1:123456789012:run/1234567"
CREATED = dt.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=dt.UTC)


class Fake:
    """Canned handlers that record what they were called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[RequestContext, dict[str, Any]]] = []
        self.tags: dict[str, dict[str, str]] = {}

    def handlers(self) -> dict[str, Handler]:
        return {
            "GetRun": self.get_run,
            "ListRuns": self.list_runs,
            "StartRun": self.start_run,
            "CancelRunBatch": self.record,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags,
            "DeleteRun": self.delete_run,
        }

    def record(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        self.calls.append((ctx, params))

    def get_run(self, ctx: RequestContext, params: dict[str, Any]) -> Mapping[str, Any]:
        self.record(ctx, params)
        if params["id"] == "404":
            raise NotFoundError(f"Run {params['id']} not found")
        if params["id"] == "500":
            raise RuntimeError("database exploded")
        if params["id"] == "666":
            return {"id": "666", "stauts": "RUNNING"}
        return {"arn": ARN, "id": params["id"], "status": "RUNNING", "creationTime": CREATED, "tags": {"k": "v"}}

    def list_runs(self, ctx: RequestContext, params: dict[str, Any]) -> Mapping[str, Any]:
        self.record(ctx, params)
        return {"items": [{"id": "1234567", "status": "COMPLETED", "stopTime": CREATED}], "nextToken": "n/2+="}

    def start_run(self, ctx: RequestContext, params: dict[str, Any]) -> Mapping[str, Any]:
        self.record(ctx, params)
        return {"arn": ARN, "id": "1234567", "status": "PENDING", "tags": params.get("tags", {})}

    def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        self.tags.setdefault(params["resourceArn"], {}).update(params["tags"])

    def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        for key in params["tagKeys"]:
            self.tags.get(params["resourceArn"], {}).pop(key, None)

    def list_tags(self, ctx: RequestContext, params: dict[str, Any]) -> Mapping[str, Any]:
        if params["resourceArn"] not in self.tags:
            raise NotFoundError(f"Resource {params['resourceArn']} not found")
        return {"tags": self.tags[params["resourceArn"]]}

    def delete_run(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        raise ConflictError(f"Run {params['id']} is RUNNING")


@pytest.fixture
def fake() -> Fake:
    return Fake()


@pytest.fixture
def app(fake: Fake) -> asgi.ProtocolApp:
    return asgi.new(model=model.load("omics"), handlers=fake.handlers(), strict=True)


@pytest.fixture
def client(app: asgi.ProtocolApp) -> Any:
    return client_for_app(app)


def test_get_run_success_and_context(client: Any, fake: Fake) -> None:
    response = client.get_run(id="1234567", export=["DEFINITION"])
    assert response["status"] == "RUNNING"
    assert response["creationTime"] == CREATED
    assert_matches_output_shape("GetRun", response)
    ctx, params = fake.calls[-1]
    assert params == {"id": "1234567", "export": ["DEFINITION"]}
    assert ctx.operation == "GetRun"
    assert ctx.request_id == response["ResponseMetadata"]["RequestId"]
    assert uuid.UUID(ctx.request_id).version == 4
    assert (ctx.access_key_id, ctx.region) == (ACCESS_KEY_ID, "us-east-1")
    assert ctx.base_url == "http://omicsd.test"
    assert ctx.headers["host"] == "omicsd.test"
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-requestid"] == ctx.request_id
    assert int(headers["content-length"]) > 0


def test_list_runs_query_parameters_round_trip(client: Any, fake: Fake) -> None:
    response = client.list_runs(name="my run", status="RUNNING", maxResults=10, startingToken="a/b+c=")
    assert response["items"] == [{"id": "1234567", "status": "COMPLETED", "stopTime": CREATED}]
    assert response["nextToken"] == "n/2+="
    assert_matches_output_shape("ListRuns", response)
    assert fake.calls[-1][1] == {"name": "my run", "status": "RUNNING", "maxResults": 10, "startingToken": "a/b+c="}


def test_start_run_gets_the_idempotency_token_and_201(client: Any, fake: Fake) -> None:
    response = client.start_run(
        workflowId="1234567",
        roleArn="arn:aws:iam::123456789012:role/OmicsRole",
        outputUri="s3://bucket/out/",
        parameters={"in": "s3://b/k", "n": 3},
        tags={"proj": "x"},
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert response["tags"] == {"proj": "x"}
    params = fake.calls[-1][1]
    assert uuid.UUID(params["requestId"])
    assert params["parameters"] == {"in": "s3://b/k", "n": 3}


def test_modeled_exceptions_are_raised_client_side(client: Any) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.get_run(id="404")
    assert info.value.response["Error"]["Message"] == "Run 404 not found"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(client.exceptions.ConflictException):
        client.delete_run(id="1")


def test_unimplemented_operation_names_itself(client: Any) -> None:
    with pytest.raises(client.exceptions.NotSupportedOperationException) as info:
        client.create_sequence_store(name="store")
    assert info.value.response["Error"]["Message"] == "Operation CreateSequenceStore is not supported by omicsd"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405


def test_bad_enum_sent_by_boto3_is_a_validation_exception(client: Any, fake: Fake) -> None:
    with pytest.raises(client.exceptions.ValidationException) as info:
        client.list_runs(status="LOUD")
    assert info.value.response["Error"]["Message"] == (
        "1 validation error detected: Value 'LOUD' at 'status' failed to satisfy constraint: Member must satisfy "
        "enum value set: [PENDING, STARTING, RUNNING, STOPPING, COMPLETED, DELETED, CANCELLED, FAILED]"
    )
    assert fake.calls == []
    with pytest.raises(client.exceptions.ValidationException, match="regular expression pattern"):
        client.get_run(id="abc")


def test_percent_encoded_tag_arn_round_trip(client: Any, fake: Fake) -> None:
    client.tag_resource(resourceArn=ARN, tags={"k1": "v1", "k 2": "v2", "k3": "v3"})
    assert fake.tags == {ARN: {"k1": "v1", "k 2": "v2", "k3": "v3"}}
    response = client.untag_resource(resourceArn=ARN, tagKeys=["k1", "k 2"])
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    response = client.list_tags_for_resource(resourceArn=ARN)
    assert response["tags"] == {"k3": "v3"}
    assert_matches_output_shape("ListTagsForResource", response)


def test_cancel_run_batch_answers_an_empty_object(client: Any, fake: Fake) -> None:
    response = client.cancel_run_batch(batchId="1234567")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert fake.calls[-1][1] == {"batchId": "1234567"}


def test_unexpected_handler_error_is_a_500_with_a_generic_message(client: Any) -> None:
    with pytest.raises(client.exceptions.InternalServerException) as info:
        client.get_run(id="500")
    assert "database exploded" not in info.value.response["Error"]["Message"]


def test_strict_mode_catches_handler_mistakes(client: Any) -> None:
    with pytest.raises(client.exceptions.InternalServerException, match=r"GetRun returned .*'stauts'"):
        client.get_run(id="666")


def test_unknown_route_is_a_typed_404(app: asgi.ProtocolApp) -> None:
    status, headers, body = call_asgi(app, "GET", "http://omicsd.test/nope/1")
    assert status == 404
    assert headers["x-amzn-errortype"] == "UnknownOperationException"
    assert json.loads(body) == {"message": "No operation matches GET /nope/1", "__type": "UnknownOperationException"}
    assert uuid.UUID(headers["x-amzn-requestid"])


def test_raw_http_request_without_signature(app: asgi.ProtocolApp, fake: Fake) -> None:
    status, _, body = call_asgi(
        app, "POST", "http://127.0.0.1:8765/run", [("content-type", "application/json")], b'{"roleArn": "x"}'
    )
    assert status == 400
    assert "Value null at 'outputUri'" in json.loads(body)["message"]
    status, _, body = call_asgi(app, "GET", "http://127.0.0.1:8765/run/7?export=DEFINITION")
    assert status == 200
    ctx = fake.calls[-1][0]
    assert (ctx.access_key_id, ctx.region, ctx.base_url) == (None, None, "http://127.0.0.1:8765")
    credential = "AKIDPRESIGNED%2F20240101%2Feu-west-1%2Fomics%2Faws4_request"
    status, _, body = call_asgi(app, "GET", f"http://127.0.0.1:8765/run/7?X-Amz-Credential={credential}")
    assert status == 200
    assert (fake.calls[-1][0].access_key_id, fake.calls[-1][0].region) == ("AKIDPRESIGNED", "eu-west-1")


def test_path_without_raw_path_still_routes(app: asgi.ProtocolApp) -> None:
    async def run() -> tuple[int, bytes]:
        messages: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: Any) -> None:
            messages.append(message)

        scope = {"type": "http", "method": "GET", "path": f"/tags/{ARN}", "query_string": b"", "headers": []}
        await app(scope, receive, send)
        return messages[0]["status"], messages[1]["body"]

    status, body = asyncio.run(run())
    assert status == 404  # routed to ListTagsForResource, whose fake raises NotFound for unknown ARNs
    assert json.loads(body)["__type"] == "ResourceNotFoundException"


def test_lifespan_is_acknowledged(app: asgi.ProtocolApp) -> None:
    sent: list[str] = []
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> Any:
        return next(incoming)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_handlers_run_in_worker_threads_with_a_cap(fake: Fake) -> None:
    threads: list[int] = []

    def get_run(ctx: RequestContext, params: dict[str, Any]) -> Mapping[str, Any]:
        threads.append(threading.get_ident())
        return {"id": params["id"]}

    app = asgi.new(model=model.load("omics"), handlers={"GetRun": get_run}, strict=True, max_threads=1)
    assert client_for_app(app).get_run(id="1")["id"] == "1"
    assert threads and threads[0] != threading.get_ident()


def test_handlers_for_operations_not_in_the_model_are_refused() -> None:
    with pytest.raises(ValueError, match="GetRunn"):
        asgi.new(model=model.load("omics"), handlers={"GetRunn": lambda ctx, p: None})
    with pytest.raises(ValueError, match="not rest-json"):
        asgi.new(model=model.load("logs"), handlers={})


def test_json_rpc_service_on_the_same_port(fake: Fake) -> None:
    seen: list[dict[str, Any]] = []

    def get_log_events(ctx: RequestContext, params: dict[str, Any]) -> Mapping[str, Any]:
        seen.append(params)
        if params["logStreamName"] == "missing":
            raise NotFoundError("The specified log stream does not exist.")
        return {"events": [{"timestamp": 1704164645000, "message": "hello", "ingestionTime": 1704164645001}]}

    logs = asgi.ServiceBinding(model.load("logs"), {"GetLogEvents": get_log_events})
    app = asgi.new(model=model.load("omics"), handlers=fake.handlers(), strict=True, json_services=[logs])
    client = client_for_app(app, "logs")
    response = client.get_log_events(logGroupName="/aws/omics/WorkflowLog", logStreamName="run/1", startFromHead=True)
    assert response["events"] == [{"timestamp": 1704164645000, "message": "hello", "ingestionTime": 1704164645001}]
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
    assert_matches_output_shape("GetLogEvents", response, service="logs")
    assert seen[-1] == {"logGroupName": "/aws/omics/WorkflowLog", "logStreamName": "run/1", "startFromHead": True}
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_log_events(logGroupName="g", logStreamName="missing")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.describe_log_groups()
    assert info.value.response["Error"]["Code"] == "NotSupportedOperationException"
    status, _, body = call_asgi(
        app,
        "POST",
        "http://omicsd.test/",
        [("x-amz-target", "Logs_20140328.GetLogEvents"), ("content-type", "application/x-amz-json-1.1")],
        b'{"logStreamName": "s", "limit": 0}',
    )
    assert status == 400
    assert json.loads(body) == {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    }
    assert client_for_app(app).get_run(id="1")["id"] == "1"  # omics still routed by path


def test_unknown_json_target(fake: Fake) -> None:
    logs = asgi.ServiceBinding(model.load("logs"), {})
    app = asgi.new(model=model.load("omics"), handlers=fake.handlers(), json_services=[logs])
    status, headers, body = call_asgi(
        app, "POST", "http://omicsd.test/", [("x-amz-target", "Logs_20140328.NoSuchThing")], b"{}"
    )
    assert status == 400
    assert json.loads(body)["__type"] == "UnknownOperationException"
    assert headers["content-type"] == "application/x-amz-json-1.1"
