"""Inline reads: listed operations are answered on the event loop, and run on a worker when they would wait."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import botocore.exceptions
import pytest

from omicsd.errors import NotFoundError, WouldBlockError
from omicsd.protocol import asgi, model
from omicsd.protocol._types import Handler, RequestContext
from tests.support.boto_asgi import client_for_app

ARN = "arn:aws:omics:us-east-1:123456789012:run/{}"


class Handlers:
    def __init__(self) -> None:
        self.threads: list[str] = []
        self.block_inline = False
        self.inside = threading.local()

    def all(self) -> dict[str, Handler]:
        return {"GetRun": self.get_run, "ListRuns": self.list_runs}

    @contextmanager
    def context(self) -> Iterator[None]:
        self.inside.active = True
        try:
            yield
        finally:
            self.inside.active = False

    def get_run(self, ctx: RequestContext, params: dict[str, Any]) -> Mapping[str, Any]:
        self.threads.append(threading.current_thread().name)
        if params["id"] == "404":
            raise NotFoundError("Run 404 not found")
        if self.block_inline and getattr(self.inside, "active", False):
            raise WouldBlockError("would wait")
        return {"arn": ARN.format(params["id"]), "id": params["id"], "status": "RUNNING"}

    def list_runs(self, ctx: RequestContext, params: dict[str, Any]) -> Mapping[str, Any]:
        self.threads.append(threading.current_thread().name)
        return {"items": []}


@pytest.fixture
def handlers() -> Handlers:
    return Handlers()


@pytest.fixture
def client(handlers: Handlers) -> Any:
    inline = asgi.InlineReads(frozenset({"GetRun"}), handlers.context)
    return client_for_app(asgi.new(model=model.load("omics"), handlers=handlers.all(), strict=True, inline=inline))


def _on_worker(name: str) -> bool:
    return name.startswith("omicsd-handler")


def test_a_listed_read_is_answered_on_the_event_loop(client: Any, handlers: Handlers) -> None:
    assert client.get_run(id="1234567")["status"] == "RUNNING"
    client.list_runs()
    assert len(handlers.threads) == 2
    assert not _on_worker(handlers.threads[0]), "GetRun ran inline"
    assert _on_worker(handlers.threads[1]), "ListRuns is not listed: a worker thread runs it"


def test_a_read_that_would_wait_runs_again_on_a_worker(client: Any, handlers: Handlers) -> None:
    handlers.block_inline = True
    assert client.get_run(id="1234567")["id"] == "1234567"
    assert len(handlers.threads) == 2
    assert not _on_worker(handlers.threads[0]) and _on_worker(handlers.threads[1])


def test_errors_of_an_inline_read_are_rendered_as_usual(client: Any, handlers: Handlers) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.get_run(id="404")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert len(handlers.threads) == 1 and not _on_worker(handlers.threads[0])
