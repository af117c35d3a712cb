"""The receiving end of Nextflow's ``-with-weblog``: a tiny HTTP endpoint on the loopback interface.

Owns: :class:`WeblogMessage` (one POSTed event), :func:`parse_message` and :class:`WeblogServer` (a stdlib
:mod:`http.server` handler on ``127.0.0.1`` and an ephemeral port, serving in a daemon thread).

Must not: interpret the events (:mod:`omicsd.engines.nextflow._tasks` does) or listen beyond the loopback
interface.

Nextflow POSTs one JSON object per event::

    {"runName": "...", "runId": "<uuid>", "event": "started|process_submitted|process_started|
     process_completed|error|completed", "utcTime": "2024-01-02T10:11:12Z", "trace": {...}, "metadata": {...}}

``trace`` (a task's trace record) comes with the ``process_*`` and ``error`` events, ``metadata`` (the
workflow, its parameters and statistics) with ``started`` and ``completed``. The server handles one
request at a time and closes each connection after its response, so messages reach the callback in the
order Nextflow sent them.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from socketserver import TCPServer
from types import TracebackType
from typing import Any, Final

logger = logging.getLogger(__name__)

EVENTS: Final = ("started", "process_submitted", "process_started", "process_completed", "error", "completed")

_MAX_BODY = 16 << 20


@dataclass(frozen=True)
class WeblogMessage:
    """One weblog event."""

    event: str
    time: float | None
    """``utcTime`` in epoch seconds, when it parses."""
    run_name: str = ""
    trace: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] | None = None


def parse_message(body: bytes | str) -> WeblogMessage:
    """Parse one POSTed body.

    Raises:
        ValueError: not a JSON object, or no ``event`` string.
    """
    doc = json.loads(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("event"), str):
        raise ValueError("a weblog message is a JSON object with an 'event' string")
    trace = doc.get("trace")
    metadata = doc.get("metadata")
    return WeblogMessage(
        event=doc["event"],
        time=_utc(doc.get("utcTime")),
        run_name=str(doc.get("runName") or ""),
        trace=trace if isinstance(trace, dict) else None,
        metadata=metadata if isinstance(metadata, dict) else None,
    )


class WeblogServer:
    """Receives weblog POSTs and hands each parsed message to a callback."""

    def __init__(self, on_message: Callable[[WeblogMessage], None], *, host: str = "127.0.0.1") -> None:
        """Bind an ephemeral port on ``host`` (nothing is served until :meth:`start`).

        Args:
            on_message: called from the server thread with each message, in arrival order.
            host: the interface to listen on (loopback).
        """
        self.on_message = on_message
        self.received = 0
        """Messages handed to the callback so far."""
        self._server = TCPServer((host, 0), _handler(self))  # not HTTPServer: no reverse DNS lookup on bind
        self._thread = threading.Thread(target=self._serve, name="omicsd-weblog", daemon=True)

    @property
    def url(self) -> str:
        """The URL to give ``-with-weblog``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> WeblogServer:
        """Serve in a daemon thread; returns ``self``."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (a request being handled completes first)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> WeblogServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=0.05)

    def _deliver(self, body: bytes) -> int:
        try:
            message = parse_message(body)
        except ValueError as exn:
            logger.warning("weblog.bad_message error=%s", exn)
            return 400
        try:
            self.on_message(message)
        except Exception:
            logger.exception("weblog.callback_failed event=%s", message.event)
            return 500
        self.received += 1
        return 200


def _handler(server: WeblogServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so an idle keep-alive connection never holds the server.

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0 or length > _MAX_BODY:
                self._reply(413)
                return
            self._reply(server._deliver(self.rfile.read(length)))

        def do_GET(self) -> None:
            self._reply(200)

        def _reply(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("weblog.request " + format, *args)

    return Handler


def _utc(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
