"""WDL values at the edges of a run: HealthOmics parameters in, exported outputs out.

Owns: :func:`load_executable` (the definition's workflow, or its only task), :func:`parse_inputs`
(un-namespaced HealthOmics parameters → typed miniwdl inputs), :func:`stage_inputs` (every File /
Directory value, however nested, replaced by its staged local path) and :func:`neutral_outputs`
(miniwdl outputs → the JSON-like values :func:`omicsd.engines._staging.export_outputs` takes).

Must not: move data itself (the stager does) or run anything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import WDL
from WDL import Env, Tree, Value

from omicsd.engines._staging import LocalDirectory, LocalFile


class WorkflowError(Exception):
    """The definition or the inputs are not acceptable to the engine (WORKFLOW_RUN_FAILED)."""


def load_executable(main_path: Path) -> Tree.Workflow | Tree.Task:
    """Parse and type-check the main WDL document and return what a run executes.

    Raises:
        WorkflowError: the document does not load, or has neither a workflow nor exactly one task.
    """
    try:
        doc = WDL.load(str(main_path))
    except WDL.Error.MultipleValidationErrors as exn:
        raise WorkflowError("; ".join(_located(e) for e in exn.exceptions)) from exn
    except (WDL.Error.SyntaxError, WDL.Error.ValidationError, WDL.Error.ImportError) as exn:
        raise WorkflowError(_located(exn)) from exn
    except OSError as exn:
        raise WorkflowError(f"cannot read {main_path.name}: {exn}") from exn
    if doc.workflow is not None:
        return doc.workflow
    if len(doc.tasks) == 1:
        return doc.tasks[0]
    raise WorkflowError(f"{main_path.name} has no workflow (and {len(doc.tasks)} tasks)")


def parse_inputs(exe: Tree.Workflow | Tree.Task, parameters: dict[str, Any]) -> Env.Bindings[Value.Base]:
    """Typed inputs from HealthOmics parameters (``input_file``; ``wf.input_file`` is accepted too).

    Raises:
        WorkflowError: unknown names, wrong value types or missing required inputs, with miniwdl's message.
    """
    try:
        return WDL.values_from_json(parameters, exe.available_inputs, exe.required_inputs, namespace=exe.name)
    except WDL.Error.InputError as exn:
        raise WorkflowError(f"invalid run parameters: {exn}") from exn


def stage_inputs(inputs: Env.Bindings[Value.Base], stage: Callable[[str, bool], str]) -> Env.Bindings[Value.Base]:
    """Replace every File / Directory value (URI) with ``stage(uri, is_directory)``."""

    def rewrite(value: Value.File | Value.Directory) -> str:
        return stage(str(value.value), isinstance(value, Value.Directory))

    staged: Env.Bindings[Value.Base] = Value.rewrite_env_paths(inputs, rewrite)
    return staged


def neutral_outputs(outputs: Env.Bindings[Value.Base]) -> dict[str, Any]:
    """Output name → JSON-like value with :class:`LocalFile` / :class:`LocalDirectory` leaves."""
    return {binding.name: _neutral(binding.value) for binding in outputs}


def _neutral(value: Value.Base) -> Any:
    if isinstance(value, Value.File):
        return LocalFile(_resolved(value.value))
    if isinstance(value, Value.Directory):
        return LocalDirectory(_resolved(value.value))
    if isinstance(value, Value.Array):
        return [_neutral(item) for item in value.value]
    if isinstance(value, Value.Map):
        return {_map_key(k): _neutral(v) for k, v in value.value}
    if isinstance(value, Value.Pair):
        return {"left": _neutral(value.value[0]), "right": _neutral(value.value[1])}
    if isinstance(value, Value.Struct):
        return {k: _neutral(v) for k, v in value.value.items()}
    if isinstance(value, Value.Null):
        return None
    return value.json


def _resolved(path: str) -> str:
    """``path`` with a symlink at its end resolved (an output that is an input keeps the input's real name).

    Only the last component decides the exported object's name; resolving every parent directory as well
    (``realpath``: one ``lstat`` per component) cost about as much as exporting the file.
    """
    if os.path.isabs(path) and not os.path.islink(path.rstrip("/")):
        return path
    return os.path.realpath(path)


def _map_key(key: Value.Base) -> str:
    if isinstance(key, Value.String | Value.File | Value.Directory):
        return str(key.value)
    return json.dumps(key.json)


def _located(exn: BaseException) -> str:
    pos = getattr(exn, "pos", None)
    where = f"{os.path.basename(pos.uri)}:{pos.line}:{pos.column}: " if pos is not None else ""
    return f"{where}{exn}"
