"""miniwdl task and workflow plugins that tell omicsd what its container backend cannot see.

Owns: :func:`observe_task` (entry point ``miniwdl.plugin.task: omicsd_observer``) and
:func:`observe_workflow` (``miniwdl.plugin.workflow: omicsd_observer``).

Must not: change what miniwdl does. Both are pass-through coroutines; outside an omicsd driver (a plain
``miniwdl run`` in the same environment) they do nothing at all.

What the task observer adds: the backend sees an attempt's exit status, but a task is only COMPLETED once
miniwdl has collected its outputs. The backend therefore holds a successful attempt's TaskFinished, and
the observer releases it as COMPLETED when the outputs arrive, or as FAILED (RUN_TASK_FAILED, with
miniwdl's message) when output collection throws.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

from WDL.runtime.error import Terminated

from omicsd.engines.wdl import _context

logger = logging.getLogger(__name__)

Coroutine = Generator[dict[str, Any], dict[str, Any], None]


def observe_task(
    cfg: Any, logger: logging.Logger, run_id: list[str], run_dir: str, task: Any, **recv: Any
) -> Coroutine:
    """Task plugin: settle the task's last attempt once its outputs are collected (or fail to be).

    Yields, as miniwdl's task plugins do, the inputs, then the command and container, then the outputs,
    each unchanged.
    """
    ctx = _context.current()
    if ctx is None:
        yield from _pass_through(recv)
        return
    try:
        recv = yield recv  # inputs → command and container
        recv = yield recv  # command and container → outputs
        ctx.settle(run_dir)
        yield recv
    except Terminated:
        ctx.settle(run_dir)  # the command itself succeeded before the run was stopped
        raise
    except Exception as exn:
        name = ctx.task_name(run_dir, run_id[-1] if run_id else task.name)
        ctx.settle(run_dir, error=f"Task {name} failed: {_describe(exn)}")
        raise


def observe_workflow(
    cfg: Any, logger: logging.Logger, run_id: list[str], run_dir: str, workflow: Any, **recv: Any
) -> Coroutine:
    """Workflow plugin: pass-through (the driver reads the workflow's outcome from ``WDL.runtime.run``).

    Task cache hits never reach task plugins; :mod:`omicsd.engines.wdl.cache` journals them.
    """
    yield from _pass_through(recv)


def _pass_through(recv: dict[str, Any]) -> Coroutine:
    recv = yield recv
    recv = yield recv
    yield recv


def _describe(exn: BaseException) -> str:
    text = str(exn)
    return f"{type(exn).__name__}: {text}" if text else type(exn).__name__
