"""CloudWatch Logs reads (DescribeLogGroups, DescribeLogStreams, GetLogEvents, FilterLogEvents) over log files.

Owns: :class:`LogsService`, the CloudWatch semantics on top of :class:`~omicsd.logs.files.LogReader`:

- groups and streams listed by name prefix, streams ordered by ``LogStreamName`` or ``LastEventTime``
  (ascending or descending), paged with opaque tokens bound to the request's arguments;
- GetLogEvents pages forward or backward with tokens ``f/<offset>`` and ``b/<offset>`` (byte offsets in the
  stream file); without a token it starts at the head (``startFromHead``) or at the tail; a page that reaches
  the end of the stream in the token's direction echoes the token it was given, so clients that loop "until
  the token repeats" (aws-healthomics-tools, the AWS CLI) stop;
- FilterLogEvents over named streams, a name prefix or the whole group, interleaved in (timestamp, stream)
  order, filtered by a time range and a filter pattern (:mod:`omicsd.services._log_patterns`), paged with a
  token holding the sort key of the last event looked at.

An empty stream reports its ``creationTime`` as ``lastEventTimestamp`` (CloudWatch omits it), so clients
that window or sort on it (``run_analyzer --time``) never meet a stream without one.
Must not: write logs (the run services and engine drivers do) or know the wire format (handlers do).
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from omicsd.domain.pagination import decode_token, encode_token
from omicsd.errors import NotFoundError, ValidationError
from omicsd.logs import streams
from omicsd.logs.files import LogEvent, LogReader, StreamInfo
from omicsd.services._log_patterns import PatternError, compile_pattern

logger = logging.getLogger(__name__)

MAX_EVENTS = 10_000
"""Most events in one GetLogEvents or FilterLogEvents page (also the default)."""
MAX_PAGE_BYTES = 1 << 20
"""A page stops growing once its messages reach 1 MB, as on CloudWatch."""
MAX_SCANNED = 200_000
"""FilterLogEvents returns (with a ``nextToken``) after looking at this many events, matched or not."""
DEFAULT_LIST_LIMIT = 50

_TOKEN = re.compile(r"([fb])/(\d{1,20})")
_GROUP_ARN = re.compile(r"arn:[\w-]+:logs:[\w-]*:\d*:log-group:(?P<name>[^:]+)(?::\*)?")


class InvalidParameterError(ValidationError):
    """A parameter is specified incorrectly."""

    code = "InvalidParameterException"


@dataclass(frozen=True)
class LogGroup:
    """A log group as DescribeLogGroups reports it."""

    name: str
    arn: str
    """``arn:aws:logs:<region>:<account>:log-group:<name>`` (the wire's ``arn`` adds ``:*``)."""


@dataclass(frozen=True)
class GroupPage:
    """One page of :meth:`LogsService.describe_groups`."""

    groups: list[LogGroup]
    next_token: str | None


@dataclass(frozen=True)
class StreamPage:
    """One page of :meth:`LogsService.describe_streams`."""

    streams: list[StreamInfo]
    next_token: str | None


@dataclass(frozen=True)
class EventsPage:
    """One page of :meth:`LogsService.get_events`."""

    events: tuple[LogEvent, ...]
    """Chronological, whichever direction was read."""
    next_forward_token: str
    next_backward_token: str


@dataclass(frozen=True)
class FilteredEvent:
    """One event of :meth:`LogsService.filter_events`."""

    stream: str
    event_id: str
    """Stable across calls: the same event always has the same id."""
    timestamp: int
    ingestion_time: int
    message: str


@dataclass(frozen=True)
class FilterPage:
    """One page of :meth:`LogsService.filter_events`."""

    events: list[FilteredEvent]
    next_token: str | None


class LogsService:
    """CloudWatch Logs reads for one account and Region."""

    def __init__(self, reader: LogReader, *, region: str, account_id: str) -> None:
        """Serve the streams ``reader`` sees, with ARNs in ``region`` and ``account_id``."""
        self.reader = reader
        self.region = region
        self.account_id = account_id

    # -- names and ARNs ---------------------------------------------------------------------------------------

    def group_name(self, name: str | None, identifier: str | None = None) -> str:
        """The group a request names by ``logGroupName`` or ``logGroupIdentifier`` (a name or an ARN).

        Raises:
            InvalidParameterError: both or neither given, or an identifier that is not a log group ARN.
        """
        if bool(name) == bool(identifier):
            raise InvalidParameterError("Specify exactly one of logGroupName and logGroupIdentifier.")
        if name:
            return name
        assert identifier is not None
        if not identifier.startswith("arn:"):
            return identifier
        found = _GROUP_ARN.fullmatch(identifier)
        if found is None:
            raise InvalidParameterError(f"{identifier} is not a log group ARN.")
        return found.group("name")

    def group_arn(self, group: str) -> str:
        """The ARN of a log group."""
        return streams.group_arn(self.region, self.account_id, group)

    def stream_arn(self, group: str, stream: str) -> str:
        """The ARN of a log stream."""
        return streams.stream_arn(self.region, self.account_id, group, stream)

    # -- DescribeLogGroups / DescribeLogStreams ---------------------------------------------------------------

    def describe_groups(
        self,
        *,
        prefix: str | None = None,
        pattern: str | None = None,
        names: list[str] | None = None,
        limit: int | None = None,
        token: str | None = None,
    ) -> GroupPage:
        """DescribeLogGroups: groups by name, filtered by a prefix, a substring (any case) or a name list.

        Raises:
            InvalidParameterError: ``prefix`` together with ``pattern``, or a bad token.
        """
        if prefix and pattern:
            raise InvalidParameterError("logGroupNamePrefix and logGroupNamePattern are mutually exclusive.")
        wanted = {self.group_name(None, n) for n in names} if names else None
        found = [
            g
            for g in self.reader.list_groups()
            if (not prefix or g.startswith(prefix))
            and (not pattern or pattern.lower() in g.lower())
            and (wanted is None or g in wanted)
        ]
        filters = {"op": "groups", "prefix": prefix, "pattern": pattern, "names": sorted(wanted or [])}
        after = _decode(token, filters)
        if after is not None:
            found = [g for g in found if g > after[0]]
        size = limit or DEFAULT_LIST_LIMIT
        page = found[:size]
        next_token = encode_token([page[-1]], filters) if len(found) > size else None
        return GroupPage([LogGroup(g, self.group_arn(g)) for g in page], next_token)

    def describe_streams(
        self,
        group: str,
        *,
        prefix: str | None = None,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        token: str | None = None,
    ) -> StreamPage:
        """DescribeLogStreams: by name (the default) or by last event time, either direction.

        Raises:
            NotFoundError: the group does not exist.
            InvalidParameterError: ``LastEventTime`` order with a prefix, or a bad token.
        """
        by_time = order_by == "LastEventTime"
        if by_time and prefix:
            raise InvalidParameterError("Cannot order by LastEventTime with a logStreamNamePrefix.")
        infos = [_with_last_event(i) for i in self._list_streams(group, prefix)]

        def key(info: StreamInfo) -> list[Any]:
            return [info.last_event_ms or 0, info.name] if by_time else [info.name]

        infos.sort(key=key, reverse=descending)
        filters = {"op": "streams", "group": group, "prefix": prefix, "time": by_time, "desc": descending}
        after = _decode(token, filters)
        if after is not None:
            infos = [i for i in infos if (key(i) < after if descending else key(i) > after)]
        size = limit or DEFAULT_LIST_LIMIT
        page = infos[:size]
        next_token = encode_token(key(page[-1]), filters) if len(infos) > size else None
        return StreamPage(page, next_token)

    # -- GetLogEvents -----------------------------------------------------------------------------------------

    def get_events(
        self,
        group: str,
        stream: str,
        *,
        start_time: int | None = None,
        end_time: int | None = None,
        start_from_head: bool = False,
        limit: int | None = None,
        token: str | None = None,
    ) -> EventsPage:
        """GetLogEvents: one page forward or backward, with CloudWatch's token semantics.

        Raises:
            NotFoundError: the group or the stream does not exist.
            InvalidParameterError: a malformed token.
        """
        forward, offset = start_from_head, None
        if token:
            found = _TOKEN.fullmatch(token)
            if found is None:
                raise InvalidParameterError("The specified nextToken is not valid.")
            forward, offset = found.group(1) == "f", int(found.group(2))
        try:
            page = self.reader.read(
                group,
                stream,
                offset=offset,
                limit=min(limit or MAX_EVENTS, MAX_EVENTS),
                start_time=start_time,
                end_time=end_time,
                forward=forward,
                max_bytes=MAX_PAGE_BYTES,
            )
        except NotFoundError:
            raise self._missing(group, stream) from None
        next_forward, next_backward = f"f/{page.next_forward}", f"b/{page.next_backward}"
        if token and not page.events:
            if forward:
                next_forward = token
            else:
                next_backward = token
        return EventsPage(page.events, next_forward, next_backward)

    # -- FilterLogEvents --------------------------------------------------------------------------------------

    def filter_events(
        self,
        group: str,
        *,
        stream_names: list[str] | None = None,
        stream_prefix: str | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        pattern: str | None = None,
        limit: int | None = None,
        token: str | None = None,
    ) -> FilterPage:
        """FilterLogEvents: matching events of several streams, interleaved by time.

        Raises:
            NotFoundError: the group does not exist.
            InvalidParameterError: names together with a prefix, an unsupported pattern or a bad token.
        """
        if stream_names and stream_prefix:
            raise InvalidParameterError("logStreamNames and logStreamNamePrefix are mutually exclusive.")
        try:
            matches = compile_pattern(pattern)
        except PatternError as exc:
            raise InvalidParameterError(f"Invalid filter pattern: {exc}") from None
        filters = {
            "op": "filter",
            "group": group,
            "names": sorted(stream_names or []),
            "prefix": stream_prefix,
            "start": start_time,
            "end": end_time,
            "pattern": pattern or "",
        }
        after = _decode(token, filters)
        resume = None if after is None else (int(after[0]), str(after[1]), int(after[2]))
        names = self._filter_streams(group, stream_names, stream_prefix, start_time, end_time)
        lower = start_time if resume is None else max(start_time or 0, resume[0])
        merged = heapq.merge(*(self._keyed(group, n, lower, end_time, resume) for n in names))
        events: list[FilteredEvent] = []
        size = 0
        wanted = min(limit or MAX_EVENTS, MAX_EVENTS)
        for scanned, (stamp, name, ordinal, event) in enumerate(merged, start=1):
            last = (stamp, name, ordinal)
            if matches(event.message):
                events.append(
                    FilteredEvent(name, _event_id(stamp, name, ordinal), stamp, event.ingestion_time, event.message)
                )
                size += len(event.message.encode()) + 26
            if len(events) >= wanted or size >= MAX_PAGE_BYTES or scanned >= MAX_SCANNED:
                return FilterPage(events, encode_token(list(last), filters))
        return FilterPage(events, None)

    # -- helpers in call order --------------------------------------------------------------------------------

    def _list_streams(self, group: str, prefix: str | None) -> list[StreamInfo]:
        try:
            return self.reader.list_streams(group, prefix)
        except NotFoundError:
            raise NotFoundError("The specified log group does not exist.") from None

    def _missing(self, group: str, stream: str) -> NotFoundError:
        if group not in self.reader.list_groups():
            return NotFoundError("The specified log group does not exist.")
        return NotFoundError("The specified log stream does not exist.")

    def _filter_streams(
        self,
        group: str,
        names: list[str] | None,
        prefix: str | None,
        start_time: int | None,
        end_time: int | None,
    ) -> list[str]:
        if names:
            if group not in self.reader.list_groups():
                raise NotFoundError("The specified log group does not exist.")
            return sorted({n for n in names if self.reader.exists(group, n)})
        return [
            info.name
            for info in self._list_streams(group, prefix)
            if info.last_event_ms is not None
            and (start_time is None or info.last_event_ms >= start_time)
            and (end_time is None or (info.first_event_ms or 0) <= end_time)
        ]

    def _keyed(
        self,
        group: str,
        name: str,
        start_time: int | None,
        end_time: int | None,
        resume: tuple[int, str, int] | None,
    ) -> Iterator[tuple[int, str, int, LogEvent]]:
        """Events of one stream as ``(timestamp, stream, ordinal among equal timestamps, event)``."""
        offset: int | None = None
        chunk = 64
        previous, ordinal = None, 0
        while True:
            try:
                page = self.reader.read(
                    group, name, offset=offset, limit=chunk, start_time=start_time, end_time=end_time
                )
            except NotFoundError:
                return
            if not page.events:
                return
            for event in page.events:
                ordinal = ordinal + 1 if event.timestamp == previous else 0
                previous = event.timestamp
                if resume is not None and (event.timestamp, name, ordinal) <= resume:
                    continue
                yield event.timestamp, name, ordinal, event
            offset = page.next_forward
            chunk = min(chunk * 4, 4096)


def _with_last_event(info: StreamInfo) -> StreamInfo:
    if info.last_event_ms is not None:
        return info
    return dataclasses.replace(info, last_event_ms=info.creation_ms)


def _decode(token: str | None, filters: dict[str, Any]) -> list[Any] | None:
    try:
        return decode_token(token, filters)
    except ValidationError as exc:
        raise InvalidParameterError(f"The specified nextToken is not valid: {exc.message}") from None


def _event_id(stamp: int, stream: str, ordinal: int) -> str:
    return f"{stamp}{zlib.crc32(stream.encode()):010d}{ordinal:06d}"
