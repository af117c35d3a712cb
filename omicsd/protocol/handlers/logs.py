"""Wire mapping of the CloudWatch Logs operations omicsd serves (json-1.1, ``Logs_20140328.*``).

Owns: turning parsed ``logs`` members into :class:`~omicsd.services.logs.LogsService` calls and its values
into output members (timestamps are epoch milliseconds on this wire).
Must not: hold CloudWatch semantics (the service does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omicsd.logs.files import StreamInfo
from omicsd.protocol._types import Handler, RequestContext
from omicsd.protocol.handlers._common import compact
from omicsd.services.logs import LogsService


def handlers(logs: LogsService) -> dict[str, Handler]:
    """Handlers keyed by ``logs`` operation name."""

    def describe_log_groups(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        page = logs.describe_groups(
            prefix=p.get("logGroupNamePrefix"),
            pattern=p.get("logGroupNamePattern"),
            names=p.get("logGroupIdentifiers"),
            limit=p.get("limit"),
            token=p.get("nextToken"),
        )
        groups = [
            {"logGroupName": g.name, "arn": g.arn + ":*", "logGroupArn": g.arn, "logGroupClass": "STANDARD"}
            for g in page.groups
        ]
        return compact({"logGroups": groups, "nextToken": page.next_token})

    def describe_log_streams(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        group = logs.group_name(p.get("logGroupName"), p.get("logGroupIdentifier"))
        page = logs.describe_streams(
            group,
            prefix=p.get("logStreamNamePrefix"),
            order_by=p.get("orderBy"),
            descending=bool(p.get("descending")),
            limit=p.get("limit"),
            token=p.get("nextToken"),
        )
        return compact({"logStreams": [_stream(logs, group, s) for s in page.streams], "nextToken": page.next_token})

    def get_log_events(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        group = logs.group_name(p.get("logGroupName"), p.get("logGroupIdentifier"))
        page = logs.get_events(
            group,
            p["logStreamName"],
            start_time=p.get("startTime"),
            end_time=p.get("endTime"),
            start_from_head=bool(p.get("startFromHead")),
            limit=p.get("limit"),
            token=p.get("nextToken"),
        )
        events = [
            {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time} for e in page.events
        ]
        return {
            "events": events,
            "nextForwardToken": page.next_forward_token,
            "nextBackwardToken": page.next_backward_token,
        }

    def filter_log_events(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        group = logs.group_name(p.get("logGroupName"), p.get("logGroupIdentifier"))
        page = logs.filter_events(
            group,
            stream_names=p.get("logStreamNames"),
            stream_prefix=p.get("logStreamNamePrefix"),
            start_time=p.get("startTime"),
            end_time=p.get("endTime"),
            pattern=p.get("filterPattern"),
            limit=p.get("limit"),
            token=p.get("nextToken"),
        )
        events = [
            {
                "logStreamName": e.stream,
                "timestamp": e.timestamp,
                "message": e.message,
                "ingestionTime": e.ingestion_time,
                "eventId": e.event_id,
            }
            for e in page.events
        ]
        return compact({"events": events, "nextToken": page.next_token})

    return {
        "DescribeLogGroups": describe_log_groups,
        "DescribeLogStreams": describe_log_streams,
        "GetLogEvents": get_log_events,
        "FilterLogEvents": filter_log_events,
    }


def _stream(logs: LogsService, group: str, info: StreamInfo) -> dict[str, Any]:
    return compact(
        {
            "logStreamName": info.name,
            "creationTime": info.creation_ms,
            "firstEventTimestamp": info.first_event_ms,
            "lastEventTimestamp": info.last_event_ms,
            "lastIngestionTime": info.last_ingestion_ms,
            "arn": logs.stream_arn(group, info.name),
            "storedBytes": info.stored_bytes,
        }
    )
