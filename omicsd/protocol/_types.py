"""Values and interfaces shared by the wire layer: the request context, the handler signature, ASGI aliases.

Owns: :class:`RequestContext` (what a handler may know about the HTTP request besides its parameters), the
:class:`Handler` protocol and the ASGI type aliases.

Must not: import any other omicsd module or know about a particular service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What a handler may know about the request besides its parsed parameters."""

    request_id: str
    """The ``x-amzn-RequestId`` sent back with the response (a UUID4 string)."""
    operation: str
    """The model's operation name, e.g. ``"GetRun"``."""
    access_key_id: str | None
    """Access key id from the SigV4 ``Authorization`` header's credential scope (not verified)."""
    region: str | None
    """Region from the SigV4 credential scope, if the request was signed."""
    headers: Mapping[str, str]
    """Request headers, names in lower case."""
    base_url: str
    """``scheme://host[:port]`` the client used to reach the server (from the ``Host`` header)."""


class Handler(Protocol):
    """Maps one operation's parsed input (wire member names) to its output (wire member names)."""

    def __call__(self, ctx: RequestContext, params: dict[str, Any], /) -> Mapping[str, Any] | None:
        """Handle one request.

        Args:
            ctx: The request context.
            params: The validated input, keyed by the model's member names.

        Returns:
            The output members keyed by the model's member names, or None for an empty output.
        """
        ...
