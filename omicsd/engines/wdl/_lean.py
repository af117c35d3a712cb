"""Run-directory bookkeeping that ``miniwdl run`` does for its user and an omicsd run never reads.

Owns: :func:`lean_bookkeeping` (while open, miniwdl's task and workflow runners skip that bookkeeping),
:data:`SKIPPED` (what is skipped, by module) and :func:`cheap_log_records`.

Must not: change what a run computes or journals. Everything skipped here is a by-product miniwdl leaves in
its run directory for a person browsing it after ``miniwdl run``; an omicsd run reports through the journal,
the engine log stream, the task log streams and the exported outputs instead.

The second deliberate exception to "use miniwdl's seams, never patch it" (the first is
:func:`omicsd.engines.wdl._config.memoized_plugin_lookups`). For every task, ``run_local_task`` also

- opens ``task.log`` with a ``logging.FileHandler`` that formats and flushes every record of the task, and
  every task record propagates to the workflow's ``workflow.log`` handler too: two file writes per record on
  top of the engine log stream, which already holds the same records;
- writes ``inputs.json`` and ``outputs.json`` (an atomic write each: a uuid1, a temporary file, a rename);
- builds ``out/`` with a symlink per output file (``link_outputs``: a uuid1, a symlink and a rename per file,
  a realpath per file, and a deep copy of the outputs), and the workflow builds its own ``out/`` at the end;
- walks the task directory to add group permission bits (``chmod_R_plus``), for containers that run as
  another user; omicsd runs every task as the driver's own user;
- at the end of every task and of the workflow, resolves every output file (a ``realpath``, one ``lstat`` per
  path component) to warn when two share a basename, which only matters to the layout of ``out/`` (omicsd
  exports each output under its own name and index);
- digests every call's inputs into a key for miniwdl's own call cache (``call_cache_key``, twice per task: in
  the task runner and in the workflow's loop), which omicsd keeps off (``[call_cache] get/put = false``): the
  run cache keys tasks itself (:func:`omicsd.engines.wdl.cache.task_key`). Under the key miniwdl also files the
  paths a call read, for the cache entry of the workflow around it; only that cache reads them.

Measured on the 200-task scatter, these were about a third of miniwdl's per-task work. miniwdl reads these
names from its modules' globals when it calls them, so :func:`lean_bookkeeping` swaps the module attributes
for the length of a run (one run per driver process) and puts miniwdl's functions back afterwards. A name
that a future miniwdl no longer has (or no longer calls) is left alone with a warning, and
``tests/engines/wdl/test_lean.py`` fails, so an upgrade cannot silently change what is skipped.

The top-level call's ``workflow.log`` (or ``task.log``) is still created, empty, because miniwdl flocks it.
With logLevel OFF, where the engine log stream is off and those files are the only place warnings go, the
handlers are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import ModuleType
from typing import Any

import WDL.runtime.task
import WDL.runtime.workflow
from WDL import Env, Value

from omicsd._logging import cheap_log_records

logger = logging.getLogger(__name__)

LOG_FILE_HANDLERS = "LoggingFileHandler"
_COLLISIONS = "_warn_output_basename_collisions"
CALL_CACHE_KEY = "call_cache_key"

SKIPPED: dict[str, tuple[str, ...]] = {
    "WDL.runtime.task": (
        LOG_FILE_HANDLERS,
        "write_values_json",
        "link_outputs",
        "chmod_R_plus",
        _COLLISIONS,
        CALL_CACHE_KEY,
    ),
    "WDL.runtime.workflow": (LOG_FILE_HANDLERS, "write_values_json", "link_outputs", _COLLISIONS, CALL_CACHE_KEY),
}
"""Module → the names :func:`lean_bookkeeping` replaces in it."""

CALLERS: dict[str, tuple[str, ...]] = {
    "WDL.runtime.task": ("run_local_task",),
    "WDL.runtime.workflow": ("run_local_workflow", "_workflow_main_loop"),
}
"""Module → the functions that must call the replaced names (else the patch would do nothing)."""

_MODULES: dict[str, ModuleType] = {"WDL.runtime.task": WDL.runtime.task, "WDL.runtime.workflow": WDL.runtime.workflow}


@contextmanager
def _log_file_created(logger: logging.Logger, filename: str, json: bool = False) -> Iterator[None]:
    """Stands in for miniwdl's ``LoggingFileHandler``: no handler; the file of the top-level call exists.

    miniwdl flocks the log file of the call it was asked to run (``wdl.w:<name>`` or ``wdl.t:<name>``, the
    only loggers one level below ``wdl``); calls inside it only ever write theirs.
    """
    if logger.name.count(".") == 1:
        with open(filename, "a", encoding="utf-8"):
            pass
    yield None


def _json_not_written(values_env: Env.Bindings[Value.Base], filename: str, namespace: str = "") -> None:
    """Stands in for ``write_values_json``: the values are in the journal and the outputs already."""


def _outputs_unlinked(
    cache: Any,
    outputs: Env.Bindings[Value.Base],
    run_dir: str,
    hardlinks: bool = False,
    use_relative_output_paths: bool = False,
) -> Env.Bindings[Value.Base]:
    """Stands in for ``link_outputs``: outputs keep their paths in the task's working directory."""
    return outputs


def _permissions_kept(path: str, file_bits: int = 0, dir_bits: int = 0) -> None:
    """Stands in for ``chmod_R_plus``: every task runs as the driver's user."""


def _collisions_allowed(logger: logging.Logger, outputs: Env.Bindings[Value.Base]) -> None:
    """Stands in for ``_warn_output_basename_collisions`` (task and workflow): the warning is about ``out/``."""


def _call_cache_key_unused(name: str, digest: str, inputs: Env.Bindings[Value.Base]) -> str:
    """Stands in for ``call_cache_key``: miniwdl's call cache is off, so its key names the task or workflow only."""
    return f"{name}/{digest}"


_REPLACEMENTS: dict[str, Any] = {
    LOG_FILE_HANDLERS: _log_file_created,
    "write_values_json": _json_not_written,
    "link_outputs": _outputs_unlinked,
    "chmod_R_plus": _permissions_kept,
    _COLLISIONS: _collisions_allowed,
    CALL_CACHE_KEY: _call_cache_key_unused,
}


def patchable(module_name: str, name: str) -> bool:
    """Whether miniwdl's ``module_name`` still has ``name`` and one of its runners calls it."""
    module = _MODULES[module_name]
    if not callable(getattr(module, name, None)):
        return False
    for caller in CALLERS[module_name]:
        function = getattr(module, caller, None)
        code = getattr(function, "__code__", None)
        if code is not None and name in code.co_names:
            return True
    return False


@contextmanager
def lean_bookkeeping(*, keep_log_files: bool = False) -> Iterator[list[str]]:
    """While open, miniwdl skips the run-directory bookkeeping listed in :data:`SKIPPED`.

    Args:
        keep_log_files: keep ``task.log`` / ``workflow.log`` handlers (the run ships no engine log).

    Yields:
        ``module.name`` of every replacement in effect.
    """
    applied: list[tuple[ModuleType, str, Any]] = []
    for module_name, names in SKIPPED.items():
        module = _MODULES[module_name]
        for name in names:
            if keep_log_files and name == LOG_FILE_HANDLERS:
                continue
            if not patchable(module_name, name):
                logger.warning("wdl.lean_skipped module=%s name=%s (miniwdl changed)", module_name, name)
                continue
            applied.append((module, name, getattr(module, name)))
            setattr(module, name, _REPLACEMENTS[name])
    try:
        yield [f"{module.__name__}.{name}" for module, name, _ in applied]
    finally:
        for module, name, original in reversed(applied):
            setattr(module, name, original)


@contextmanager
def lean_run(*, keep_log_files: bool = False) -> Iterator[None]:
    """:func:`lean_bookkeeping` and :func:`cheap_log_records` together, for one run."""
    with ExitStack() as stack:
        stack.enter_context(lean_bookkeeping(keep_log_files=keep_log_files))
        stack.enter_context(cheap_log_records())
        yield
