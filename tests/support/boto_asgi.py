"""A real boto3 client whose requests go into an in-process ASGI app: no sockets, no network.

``client_for_app(app)`` registers a botocore ``before-send`` handler that turns the signed request into an
ASGI ``http`` scope — ``raw_path`` exactly as botocore percent-encoded it (``/tags/arn%3Aaws%3A...``) — runs
the app to completion and hands botocore an ``AWSResponse``. Everything botocore does around the send
(serialization, signing, response parsing, modeled exceptions) runs for real.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio
import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]

ENDPOINT_URL = "http://omicsd.test"
ACCESS_KEY_ID = "AKIAOMICSDTEST000001"
SECRET_ACCESS_KEY = "omicsd-test-secret"

_session: boto3.session.Session | None = None
_session_lock = threading.Lock()


def client_for_app(
    app: ASGIApp,
    service: str = "omics",
    region: str = "us-east-1",
    *,
    endpoint_url: str = ENDPOINT_URL,
    config: Config | None = None,
    access_key_id: str = ACCESS_KEY_ID,
) -> Any:
    """A boto3 client for ``service`` that sends every request into ``app``.

    Args:
        app: The ASGI application.
        service: The botocore service name.
        region: The client's region (it ends up in the SigV4 credential scope).
        endpoint_url: The endpoint the client believes it talks to (the app sees its host as ``Host``).
        config: Extra botocore config merged over the defaults (host prefix injection off, one attempt).
        access_key_id: The access key id the client signs with.

    Returns:
        The botocore client.
    """
    base = Config(inject_host_prefix=False, retries={"total_max_attempts": 1, "mode": "standard"})
    client = _boto_session().client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=base.merge(config) if config is not None else base,
    )
    client.meta.events.register("before-send", _sender(app))
    return client


def call_asgi(
    app: ASGIApp,
    method: str,
    url: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> tuple[int, dict[str, str], bytes]:
    """Run one request through an ASGI app synchronously.

    Args:
        app: The ASGI application.
        method: HTTP method.
        url: Absolute URL; its path is passed as ``raw_path`` without any decoding.
        headers: Request headers (a ``host`` header is added from the URL if missing).
        body: Request body.

    Returns:
        Status, headers (lower-case names, repeated headers joined with ``,``) and body.
    """
    parts = urlsplit(url)
    raw_path = parts.path or "/"
    header_list = [(k.lower(), v) for k, v in headers or []]
    names = {k for k, _ in header_list}
    if "host" not in names:
        header_list.append(("host", parts.netloc))
    if body and "content-length" not in names:
        header_list.append(("content-length", str(len(body))))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": parts.scheme or "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("ascii"),
        "query_string": parts.query.encode("ascii"),
        "root_path": "",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in header_list],
        "server": (parts.hostname or "localhost", port),
        "client": ("127.0.0.1", 50000),
    }
    return _run(app, scope, body)


def _boto_session() -> boto3.session.Session:
    global _session
    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session


def _sender(app: ASGIApp) -> Callable[..., AWSResponse]:
    def send(request: Any, **_: Any) -> AWSResponse:
        body = request.body
        if body is None:
            body = b""
        elif isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes | bytearray):
            body = body.read()
        headers = [
            (str(k), v.decode("latin-1") if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()
        ]
        status, response_headers, response_body = call_asgi(app, request.method, request.url, headers, bytes(body))
        return AWSResponse(request.url, status, response_headers, _RawResponse(response_body))

    return send


class _RawResponse(io.BytesIO):
    """What botocore expects of ``AWSResponse.raw``: ``stream()`` for whole bodies, ``read()`` for streams."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        contents = self.read()
        while contents:
            yield contents
            contents = self.read()


def _run(app: ASGIApp, scope: dict[str, Any], body: bytes) -> tuple[int, dict[str, str], bytes]:
    async def main() -> tuple[int, dict[str, str], bytes]:
        sent = False
        status = 500
        headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await anyio.sleep_forever()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for key, value in message.get("headers", []):
                    name, text = key.decode("latin-1").lower(), value.decode("latin-1")
                    headers[name] = f"{headers[name]},{text}" if name in headers else text
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, send)
        return status, headers, b"".join(chunks)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(main)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, main).result()
