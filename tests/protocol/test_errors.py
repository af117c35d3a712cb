from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from omicsd import errors
from omicsd.protocol import model
from omicsd.protocol.errors import ErrorRenderer, UnknownOperationError
from omicsd.protocol.serialize import OutputShapeError

OMICS_ERRORS = sorted(
    name for name, shape in model.load("omics")._service_description["shapes"].items() if shape.get("exception")
)


@pytest.fixture(scope="module")
def renderer(omics: Any) -> ErrorRenderer:
    return ErrorRenderer(omics)


@pytest.mark.parametrize("code", OMICS_ERRORS)
def test_status_of_every_omics_error_comes_from_the_model(renderer: ErrorRenderer, omics: Any, code: str) -> None:
    expected = omics.shape_for(code).metadata["error"]["httpStatusCode"]
    assert renderer.status_for(code) == expected


def test_statuses_that_matter(renderer: ErrorRenderer) -> None:
    assert len(OMICS_ERRORS) == 10
    assert renderer.status_for("ServiceQuotaExceededException") == 402
    assert renderer.status_for("NotSupportedOperationException") == 405
    assert renderer.status_for("ValidationException") == 400
    assert renderer.status_for("ResourceNotFoundException") == 404
    assert renderer.status_for("ConflictException") == 409
    assert renderer.status_for("ThrottlingException") == 429
    assert renderer.status_for("RangeNotSatisfiableException") == 416


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.ValidationError("bad"), 400),
        (errors.NotFoundError("Run 1 not found"), 404),
        (errors.ConflictError(), 409),
        (errors.QuotaExceededError(), 402),
        (errors.AccessDeniedError(), 403),
        (errors.ThrottlingError(), 429),
        (errors.InternalError(), 500),
        (errors.NotSupportedError("Operation X is not supported by omicsd"), 405),
        (errors.DefinitionError("broken"), 400),
        (OutputShapeError("GetRun returned ..."), 500),
    ],
)
def test_render_omicsd_errors(renderer: ErrorRenderer, error: errors.OmicsdError, status: int) -> None:
    response = renderer.render(error)
    assert response.status == status
    headers = dict(response.headers)
    assert headers["x-amzn-errortype"] == error.code
    assert headers["content-type"] == "application/json"
    assert json.loads(response.body) == {"message": error.message, "__type": error.code}


def test_unexpected_exception_is_a_generic_500_and_logged(
    renderer: ErrorRenderer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="omicsd.protocol.errors"):
        response = renderer.render(KeyError("secret detail"))
    assert response.status == 500
    body = json.loads(response.body)
    assert body == {"message": errors.InternalError().message, "__type": "InternalServerException"}
    assert "secret detail" not in response.body.decode()
    assert caplog.records and caplog.records[0].exc_info is not None


def test_codes_the_model_does_not_know(renderer: ErrorRenderer) -> None:
    assert renderer.render(UnknownOperationError("No operation matches GET /x")).status == 404
    assert renderer.status_for("SomethingElse") == 400


def test_json_protocol_renderer_for_logs() -> None:
    logs = ErrorRenderer(model.load("logs"))
    response = logs.render(errors.NotFoundError("The specified log stream does not exist."))
    assert response.status == 400
    assert dict(response.headers)["content-type"] == "application/x-amz-json-1.1"
    assert json.loads(response.body)["__type"] == "ResourceNotFoundException"
    assert logs.status_for("UnknownOperationException") == 400
    assert logs.status_for("ServiceUnavailableException") == 500
    assert logs.status_for("InternalServerException") == 500
