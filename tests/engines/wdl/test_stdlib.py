"""Lazy task standard libraries: built on first use, identical once built, and miniwdl still builds them by name."""

import logging
from pathlib import Path
from typing import Any

import pytest
import WDL
import WDL.runtime.task
from WDL import Env, StdLib, Value
from WDL.runtime._stdlib import TaskInputStdLib, TaskOutputStdLib

from omicsd.engines.wdl import _stdlib
from omicsd.engines.wdl._stdlib import (
    CALLERS,
    REPLACED,
    LazyTaskInputStdLib,
    LazyTaskOutputStdLib,
    lazy_task_stdlibs,
    replaceable,
)

LOGGER = logging.getLogger("test")


class _Container:
    """What a task library reads of its container, for evaluating expressions outside a run."""

    def __init__(self, root: Path) -> None:
        self.host_dir = str(root)
        self.container_dir = str(root)
        self.cfg: Any = None
        self.input_path_map: dict[str, str] = {}

    def host_path(self, path: str, inputs_only: bool = False) -> str | None:
        return path if path.startswith(self.host_dir) else None

    def host_work_dir(self) -> str:
        return str(Path(self.host_dir) / "work")


def _expr(text: str, env: Env.Bindings[Value.Base]) -> WDL.Expr.Base:
    expr = WDL.parse_expr(text, "1.0")
    type_env: Env.Bindings[WDL.Type.Base] = Env.Bindings()
    for binding in env:
        type_env = type_env.bind(binding.name, binding.value.type)
    return expr.infer_type(type_env, StdLib.Base("1.0"))


@pytest.mark.parametrize("name", sorted(REPLACED))
def test_installed_miniwdl_still_builds_task_libraries_by_these_names(name: str) -> None:
    # fails when a miniwdl upgrade renames the classes or stops calling them from its task runner
    assert replaceable(name), f"WDL.runtime.task.{name} is gone or no longer called by {CALLERS}"


def test_the_lazy_classes_stand_in_only_while_open() -> None:
    with lazy_task_stdlibs() as applied:
        assert sorted(applied) == sorted(REPLACED)
        assert WDL.runtime.task.TaskInputStdLib is LazyTaskInputStdLib
        assert WDL.runtime.task.TaskOutputStdLib is LazyTaskOutputStdLib
    assert WDL.runtime.task.TaskInputStdLib is TaskInputStdLib
    assert WDL.runtime.task.TaskOutputStdLib is TaskOutputStdLib


def test_a_placeholder_needs_no_functions(tmp_path: Path) -> None:
    lib = LazyTaskInputStdLib("1.0", LOGGER, _Container(tmp_path))
    env = Env.Bindings().bind("i", Value.Int(7))
    command = WDL.parse_document("version 1.0\ntask t { input { Int i } command <<< echo ~{i} >>> }").tasks[0]
    command.command.infer_type(Env.Bindings().bind("i", WDL.Type.Int()), StdLib.Base("1.0"))  # type: ignore[union-attr]
    assert command.command.eval(env, lib).value.strip() == "echo 7"  # type: ignore[union-attr]
    assert not lib.built and isinstance(lib, TaskInputStdLib)


@pytest.mark.parametrize(
    "text",
    [
        'basename("/a/b/c.txt", ".txt")',
        'sub("a-b-c", "-", "_")',
        "length(range(4))",
        "select_first([n, 3])",
        "defined(n)",
        "read_string(f)",
        "read_lines(f)",
        "floor(2.7) + ceil(2.1)",
        'sep(",", ["x", "y"])',
    ],
)
def test_functions_evaluate_as_in_miniwdls_own_library(tmp_path: Path, text: str) -> None:
    data = tmp_path / "data.txt"
    data.write_text("one\ntwo\n")
    env: Env.Bindings[Value.Base] = (
        Env.Bindings().bind("f", Value.File(str(data))).bind("n", Value.Null().coerce(WDL.Type.Int(optional=True)))
    )
    expr = _expr(text, env)
    lazy = LazyTaskInputStdLib("1.0", LOGGER, _Container(tmp_path))
    eager = TaskInputStdLib("1.0", LOGGER, _Container(tmp_path))
    assert expr.eval(env, lazy).json == expr.eval(env, eager).json
    assert lazy.built


def test_a_built_library_is_miniwdls_own(tmp_path: Path) -> None:
    context = StdLib.EvalContext()
    container = _Container(tmp_path)
    lazy = LazyTaskOutputStdLib("1.1", LOGGER, container, eval_context=context)
    eager = TaskOutputStdLib("1.1", LOGGER, container, eval_context=context)
    assert lazy.eval_context is context and lazy.wdl_version == "1.1" and not lazy.built
    assert lazy.container is container and lazy.built, "reading state builds the library"
    assert lazy.eval_context is context, "the context given stays the one in use"
    assert set(vars(lazy)) - {"built"} == set(vars(eager))
    for name, value in vars(eager).items():
        assert type(getattr(lazy, name)) is type(value), name
    stdout = WDL.parse_expr("stdout()", "1.1").infer_type(Env.Bindings(), eager)
    assert stdout.eval(Env.Bindings(), lazy).value == str(tmp_path / "stdout.txt")
    with pytest.raises(AttributeError):
        lazy.no_such_function  # noqa: B018


def test_the_eager_attributes_match_what_miniwdl_sets(tmp_path: Path) -> None:
    # the attributes answered before the build must be those miniwdl's __init__ would set
    eager = TaskInputStdLib("1.0", LOGGER, _Container(tmp_path))
    for name in _stdlib.EAGER - {_stdlib._PENDING}:
        assert hasattr(eager, name), name
    assert eager.eval_context.placeholder_regex is None
    assert LazyTaskInputStdLib("1.0", LOGGER, _Container(tmp_path)).eval_context.placeholder_regex is None
