from __future__ import annotations

import pytest

from omicsd.errors import ValidationError
from omicsd.logs import streams


def test_stream_names() -> None:
    assert streams.LOG_GROUP == "/aws/omics/WorkflowLog"
    assert streams.run_stream("1234567") == "run/1234567"
    assert streams.engine_stream("1234567") == "run/1234567/engine"
    assert streams.task_stream("1234567", "7654321") == "run/1234567/task/7654321"
    assert streams.manifest_stream("1234567", "u-u-i-d") == "manifest/run/1234567/u-u-i-d"
    assert streams.run_cache_stream("1111111", "c-u") == "runCache/1111111/c-u"


def test_arns_round_trip() -> None:
    arn = streams.stream_arn("us-east-1", "123456789012", streams.LOG_GROUP, "run/1/task/2")
    assert arn == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/omics/WorkflowLog:log-stream:run/1/task/2"
    assert streams.parse_stream_arn(arn) == ("us-east-1", "123456789012", streams.LOG_GROUP, "run/1/task/2")
    assert streams.group_arn("eu-west-1", "1") == "arn:aws:logs:eu-west-1:1:log-group:/aws/omics/WorkflowLog"
    with pytest.raises(ValidationError):
        streams.parse_stream_arn("arn:aws:omics:us-east-1:1:run/1")
