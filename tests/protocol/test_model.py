from __future__ import annotations

from typing import Any

import pytest

from omicsd.protocol import model
from omicsd.protocol.model import RouteTable, parse_request_uri

ARN = "arn:aws:omics:us-east-1:123456789012:run/1234567"
ENCODED_ARN = "arn%3Aaws%3Aomics%3Aus-east-1%3A123456789012%3Arun%2F1234567"


def _sample_path(template: str) -> tuple[str, dict[str, str]]:
    labels: dict[str, str] = {}
    parts = []
    for index, segment in enumerate(template.split("/")):
        if segment.startswith("{"):
            name = segment.strip("{}+")
            labels[name] = f"9{index}{len(name)}"
            parts.append(labels[name])
        else:
            parts.append(segment)
    return "/".join(parts), labels


def test_load_is_cached_and_generic() -> None:
    assert model.load("omics") is model.load("omics")
    assert model.load("omics").metadata["protocol"] == "rest-json"
    assert model.load("logs").metadata["targetPrefix"] == "Logs_20140328"


def test_every_omics_operation_routes_to_itself(omics: Any) -> None:
    table = RouteTable.from_model(omics)
    assert len(table.routes) == len(omics.operation_names) == 107
    for name in omics.operation_names:
        http = omics.operation_model(name).http
        path, labels = _sample_path(http["requestUri"].partition("?")[0])
        found = table.match(http["method"], path)
        assert found is not None, (name, path)
        assert found.operation == name
        assert found.labels == labels


def test_percent_encoded_arn_label_is_decoded_after_matching(omics: Any) -> None:
    table = RouteTable.from_model(omics)
    found = table.match("POST", f"/tags/{ENCODED_ARN}")
    assert found is not None
    assert found.operation == "TagResource"
    assert found.labels == {"resourceArn": ARN}
    assert table.match("DELETE", f"/tags/{ENCODED_ARN}").operation == "UntagResource"  # type: ignore[union-attr]
    assert table.match("GET", f"/tags/{ENCODED_ARN}").operation == "ListTagsForResource"  # type: ignore[union-attr]


def test_unencoded_arn_is_absorbed_by_a_trailing_label(omics: Any) -> None:
    found = RouteTable.from_model(omics).match("GET", f"/tags/{ARN}")
    assert found is not None
    assert found.operation == "ListTagsForResource"
    assert found.labels == {"resourceArn": ARN}


def test_lenient_match_only_when_nothing_else_matches(omics: Any) -> None:
    table = RouteTable.from_model(omics)
    assert table.match("GET", "/run/1/task").operation == "ListRunTasks"  # type: ignore[union-attr]
    found = table.match("GET", "/run/1/task/2/x")
    assert found is not None
    assert (found.operation, found.labels) == ("GetRunTask", {"id": "1", "taskId": "2/x"})


def test_literal_segment_beats_label(omics: Any) -> None:
    table = RouteTable.from_model(omics)
    assert table.match("POST", "/runBatch/cancel").operation == "CancelRunBatch"  # type: ignore[union-attr]
    assert table.match("POST", "/runBatch/delete").operation == "DeleteRunBatch"  # type: ignore[union-attr]
    found = table.match("GET", "/runBatch/cancel")
    assert found is not None and found.operation == "GetBatch" and found.labels == {"batchId": "cancel"}


def test_labels_with_different_names_at_the_same_position(omics: Any) -> None:
    table = RouteTable.from_model(omics)
    found = table.match("GET", "/referencestore/111/reference/222/metadata")
    assert found is not None
    assert found.operation == "GetReferenceMetadata"
    assert found.labels == {"referenceStoreId": "111", "id": "222"}
    assert table.match("GET", "/referencestore/111").labels == {"id": "111"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nope"), ("PUT", "/run"), ("GET", "/"), ("GET", "/run/")],
)
def test_no_match(omics: Any, method: str, path: str) -> None:
    assert RouteTable.from_model(omics).match(method, path) is None


def test_method_is_case_insensitive(omics: Any) -> None:
    assert RouteTable.from_model(omics).match("get", "/run/1").operation == "GetRun"  # type: ignore[union-attr]


def test_parse_request_uri_with_query_and_greedy_label() -> None:
    route = parse_request_uri("GetObject", "get", "/{Bucket}/{Key+}?x-id=GetObject&versioning")
    assert route.method == "GET"
    assert route.segments == ("{Bucket}", "{Key+}")
    assert route.labels == ("Bucket", "Key")
    assert route.query == (("x-id", "GetObject"), ("versioning", None))


def test_greedy_label_and_query_requirements() -> None:
    table = RouteTable(
        [
            parse_request_uri("GetObject", "GET", "/{Bucket}/{Key+}"),
            parse_request_uri("GetObjectTagging", "GET", "/{Bucket}/{Key+}?tagging"),
            parse_request_uri("ListParts", "GET", "/{Bucket}/{Key+}?x-id=ListParts"),
            parse_request_uri("GetBucket", "GET", "/{Bucket}"),
        ]
    )
    found = table.match("GET", "/b/dir/sub%20dir/file.txt")
    assert found is not None
    assert found.operation == "GetObject"
    assert found.labels == {"Bucket": "b", "Key": "dir/sub dir/file.txt"}
    assert table.match("GET", "/b/k", {"tagging"}).operation == "GetObjectTagging"  # type: ignore[union-attr]
    assert table.match("GET", "/b/k", {"x-id": ["ListParts"]}).operation == "ListParts"  # type: ignore[union-attr]
    assert table.match("GET", "/b/k", {"x-id": ["Other"]}).operation == "GetObject"  # type: ignore[union-attr]
    assert table.match("GET", "/b").operation == "GetBucket"  # type: ignore[union-attr]
