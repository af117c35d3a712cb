"""Botocore service models and the route table derived from them.

Owns: loading a botocore service model once per process (``load("omics")``, ``load("logs")``) and turning
every operation's ``http.method`` + ``http.requestUri`` into a :class:`RouteTable` that maps a request's
method and *raw* (still percent-encoded) path to an operation and its decoded path labels.

Must not: look at the Host header, know any operation by name, or parse anything beyond the path and the
names of query keys. Routing is purely data driven: a literal segment beats a ``{label}`` which beats a
greedy ``{label+}`` at every position, so the most specific template wins.

A request path that only matches because a label value contains an unencoded ``/`` (``/tags/arn:aws:...:run/1``
sent by a client that does not percent-encode labels) is matched as a last resort by letting a template's
*trailing* label absorb the rest of the path.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import botocore.session

logger = logging.getLogger(__name__)

ServiceModel = Any
"""A ``botocore.model.ServiceModel`` (botocore ships no type hints)."""


@functools.cache
def load(service: str) -> ServiceModel:
    """Load a botocore service model once per process.

    Args:
        service: The botocore service name (``"omics"``, ``"logs"``, ``"pricing"``).

    Returns:
        The ``botocore.model.ServiceModel``.
    """
    return botocore.session.get_session().get_service_model(service)


@dataclass(frozen=True, slots=True)
class Route:
    """One operation's HTTP binding, parsed from its ``requestUri``."""

    operation: str
    method: str
    template: str
    """The path part of ``requestUri``, e.g. ``/run/{id}/task/{taskId}``."""
    segments: tuple[str, ...]
    """Path segments of the template; labels are kept in braces."""
    query: tuple[tuple[str, str | None], ...] = ()
    """Query keys (and optional literal values) the ``requestUri`` requires, e.g. ``?x-id=GetObject``."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Label names in path order (without braces or the greedy ``+``)."""
        return tuple(s.strip("{}").rstrip("+") for s in self.segments if s.startswith("{"))


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """The result of routing a request."""

    operation: str
    labels: dict[str, str]
    """Path label values, percent-decoded, keyed by label name."""


class RouteTable:
    """Maps (method, raw path, query keys) to an operation; build it with :meth:`from_model`."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes: tuple[Route, ...] = tuple(routes)
        self._root = _Node()
        for route in self.routes:
            self._root.insert(route, 0)

    @classmethod
    def from_model(cls, model: ServiceModel) -> RouteTable:
        """Build the route table of every operation in a service model."""
        routes = []
        for name in model.operation_names:
            http = model.operation_model(name).http
            routes.append(parse_request_uri(name, http.get("method", "POST"), http.get("requestUri", "/")))
        return cls(routes)

    def match(self, method: str, raw_path: str, query: Collection[str] | dict[str, Any] = ()) -> RouteMatch | None:
        """Find the operation for a request.

        Args:
            method: The HTTP method (any case).
            raw_path: The request path exactly as sent, percent-encoding intact, without the query string.
            query: The query keys present (a dict of parsed query parameters works too); only used when a
                ``requestUri`` itself carries a query part.

        Returns:
            The operation and its decoded labels, or None when no template matches.
        """
        method = method.upper()
        parts = raw_path.split("/")[1:] if raw_path.startswith("/") else raw_path.split("/")
        if parts == [""]:
            parts = []
        values: list[str] = []
        found = self._root.find(parts, 0, method, query, values, lenient=False)
        if found is None:
            values = []
            found = self._root.find(parts, 0, method, query, values, lenient=True)
            if found is None:
                return None
        return RouteMatch(found.operation, dict(zip(found.labels, values, strict=True)))


def parse_request_uri(operation: str, method: str, request_uri: str) -> Route:
    """Parse a model ``requestUri`` (``/path/{label}/{greedy+}?key&key2=value``) into a :class:`Route`."""
    path, _, query = request_uri.partition("?")
    segments = tuple(path.split("/")[1:]) if path.startswith("/") else tuple(path.split("/"))
    if segments == ("",):
        segments = ()
    required: list[tuple[str, str | None]] = []
    for pair in filter(None, query.split("&")):
        key, sep, value = pair.partition("=")
        required.append((key, value if sep else None))
    return Route(operation, method.upper(), path, segments, tuple(required))


@dataclass(slots=True)
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    label: _Node | None = None
    greedy: list[Route] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)

    def insert(self, route: Route, index: int) -> None:
        if index == len(route.segments):
            self.routes.append(route)
            self.routes.sort(key=lambda r: -len(r.query))
            return
        segment = route.segments[index]
        if segment.startswith("{") and segment.endswith("+}"):
            self.greedy.append(route)
            self.greedy.sort(key=lambda r: -len(r.query))
            return
        if segment.startswith("{"):
            if self.label is None:
                self.label = _Node()
            self.label.insert(route, index + 1)
            return
        self.literals.setdefault(segment, _Node()).insert(route, index + 1)

    def find(
        self,
        parts: list[str],
        index: int,
        method: str,
        query: Collection[str] | dict[str, Any],
        values: list[str],
        *,
        lenient: bool,
    ) -> Route | None:
        if index == len(parts):
            return _pick(self.routes, method, query)
        segment = parts[index]
        child = self.literals.get(segment)
        if child is not None:
            found = child.find(parts, index + 1, method, query, values, lenient=lenient)
            if found is not None:
                return found
        if self.label is not None and segment:
            values.append(unquote(segment))
            found = self.label.find(parts, index + 1, method, query, values, lenient=lenient)
            if found is not None:
                return found
            values.pop()
            if lenient and index + 1 < len(parts):
                rest = "/".join(parts[index:])
                found = _pick(self.label.routes, method, query)
                if found is not None:
                    values.append(unquote(rest))
                    return found
        if self.greedy and any(parts[index:]):
            found = _pick(self.greedy, method, query)
            if found is not None:
                values.append(unquote("/".join(parts[index:])))
                return found
        return None


def _pick(routes: list[Route], method: str, query: Collection[str] | dict[str, Any]) -> Route | None:
    for route in routes:
        if route.method != method:
            continue
        if all(_query_has(query, key, value) for key, value in route.query):
            return route
    return None


def _query_has(query: Collection[str] | dict[str, Any], key: str, value: str | None) -> bool:
    if key not in query:
        return False
    if value is None:
        return True
    if not isinstance(query, dict):
        return False
    present = query[key]
    return value in present if isinstance(present, list) else present == value
