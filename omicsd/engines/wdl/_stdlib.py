"""Task standard libraries that build their functions only when an expression first needs one.

Owns: :func:`lazy_task_stdlibs` (while open, miniwdl's task runner builds :class:`LazyTaskInputStdLib` and
:class:`LazyTaskOutputStdLib` instead of its own classes), :data:`REPLACED` and :func:`replaceable`.

Must not: change what any expression evaluates to. A lazy library is an instance of miniwdl's own class; the
first time anything but :attr:`~WDL.StdLib.Base.eval_context` or ``wdl_version`` is read from it, miniwdl's own
``__init__`` runs with the arguments the library was created with, and from then on it *is* miniwdl's library.

Why: miniwdl builds a new standard library (about seventy function objects, their type signatures and the
closures that bind them to the task's container) four times for every task attempt — to evaluate the
runtime section, the inputs, the command and the outputs. On the benchmark's 200-task scatter that was the
largest single item of the driver's own Python time (about 15 % of the samples holding the interpreter lock),
yet most task expressions are literals, identifiers and interpolations that call no function at all: a
placeholder reads only ``eval_context``. Building the functions on first use keeps every library that is used
exactly as miniwdl makes it, and skips the ones that are not.

The third deliberate exception to "use miniwdl's seams, never patch it" (after
:func:`omicsd.engines.wdl._config.memoized_plugin_lookups` and :func:`omicsd.engines.wdl._lean.lean_bookkeeping`):
``WDL.runtime.task`` looks ``TaskInputStdLib`` and ``TaskOutputStdLib`` up in its module globals when it calls
them, so :func:`lazy_task_stdlibs` swaps those two names for the length of a run (one run per driver process)
and puts miniwdl's classes back afterwards. A name that a future miniwdl no longer has (or no longer calls from
the functions in :data:`CALLERS`) is left alone with a warning, and ``tests/engines/wdl/test_stdlib.py`` fails.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import WDL.runtime.task
from WDL import StdLib
from WDL.runtime._stdlib import TaskInputStdLib, TaskOutputStdLib

logger = logging.getLogger(__name__)

_PENDING = "_omicsd_pending_init"
"""Instance attribute holding ``(args, kwargs)`` of a library whose functions are not built yet."""

EAGER = frozenset({"eval_context", "wdl_version", _PENDING})
"""Attributes a lazy library answers without building its functions."""


class _LazyInit:
    """Mixin: record the constructor's arguments; run the real ``__init__`` on the first other attribute read."""

    def __init__(self, wdl_version: str, *args: Any, **kwargs: Any) -> None:
        eval_context = kwargs.get("eval_context")
        self.__dict__.update(
            {
                _PENDING: ((wdl_version, *args), kwargs),
                "wdl_version": wdl_version,
                "eval_context": eval_context or StdLib.EvalContext(),
            }
        )

    def __getattr__(self, name: str) -> Any:
        # only called for names not found the ordinary way: the functions and the state __init__ would set
        pending = self.__dict__.pop(_PENDING, None)
        if pending is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        args, kwargs = pending
        eval_context = self.__dict__["eval_context"]
        super().__init__(*args, **{**kwargs, "eval_context": eval_context})
        return getattr(self, name)

    @property
    def built(self) -> bool:
        """Whether miniwdl's ``__init__`` has run (the functions exist)."""
        return _PENDING not in self.__dict__


class LazyTaskInputStdLib(_LazyInit, TaskInputStdLib):
    """miniwdl's ``TaskInputStdLib``, built on first use."""


class LazyTaskOutputStdLib(_LazyInit, TaskOutputStdLib):
    """miniwdl's ``TaskOutputStdLib``, built on first use."""


REPLACED: dict[str, type] = {"TaskInputStdLib": LazyTaskInputStdLib, "TaskOutputStdLib": LazyTaskOutputStdLib}
"""Name in ``WDL.runtime.task`` → the lazy class that stands in for it."""

CALLERS = ("run_local_task", "_eval_task_inputs", "_eval_task_command", "_eval_task_outputs")
"""The functions of ``WDL.runtime.task`` that build task libraries (at least one must call each name)."""

_ORIGINALS: dict[str, type] = {"TaskInputStdLib": TaskInputStdLib, "TaskOutputStdLib": TaskOutputStdLib}


def replaceable(name: str) -> bool:
    """Whether ``WDL.runtime.task`` still has miniwdl's class ``name`` and one of :data:`CALLERS` calls it."""
    if getattr(WDL.runtime.task, name, None) is not _ORIGINALS[name]:
        return False
    for caller in CALLERS:
        code = getattr(getattr(WDL.runtime.task, caller, None), "__code__", None)
        if code is not None and name in code.co_names:
            return True
    return False


@contextmanager
def lazy_task_stdlibs() -> Iterator[list[str]]:
    """While open, miniwdl's task runner builds lazy task libraries (see the module docstring).

    Yields:
        The names replaced in ``WDL.runtime.task``.
    """
    applied: list[str] = []
    for name, lazy in REPLACED.items():
        if not replaceable(name):
            logger.warning("wdl.lazy_stdlib_skipped name=%s (miniwdl changed)", name)
            continue
        setattr(WDL.runtime.task, name, lazy)
        applied.append(name)
    try:
        yield applied
    finally:
        for name in applied:
            setattr(WDL.runtime.task, name, _ORIGINALS[name])
