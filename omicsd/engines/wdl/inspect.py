"""Read a WDL definition with miniwdl and infer its HealthOmics parameter template.

Owns: :class:`WdlEngine` (the ``WDL`` and ``WDL_LENIENT`` adapters' inspect side): loading the main
document and its imports from the unpacked archive only, turning miniwdl errors into
``file:line:column message`` text, and mapping the workflow's inputs to a template.

Template rules: the workflow's ``input {}`` declarations (the whole top-level body for draft-2), or the
task's inputs when the document has one task and no workflow (that is what miniwdl runs). An input is
required when its type is not optional and it has no default expression. Descriptions come from
``parameter_meta`` (a string, or an object's ``description``/``help``). Call inputs (``align.threads``)
are not part of the template: HealthOmics parameters are not namespaced.

WDL_LENIENT is read with miniwdl's relaxed quantifier checks (``check_quant=False``), its equivalent of
Cromwell's implicit conversions.

Must not: run anything, reach the network (``http(s)`` imports are refused), read files outside the
archive root, or import miniwdl at module import time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
from pathlib import Path
from typing import Any

from omicsd.engines.base import Inspection, ParameterTemplate, parameter
from omicsd.errors import DefinitionError

__all__ = ["WDL_ENGINE", "WDL_LENIENT_ENGINE", "WdlEngine"]

logger = logging.getLogger(__name__)


class WdlEngine:
    """The WDL adapter's inspect side, backed by miniwdl."""

    name: str
    """``WDL`` or ``WDL_LENIENT``."""

    def __init__(self, name: str = "WDL", *, lenient: bool = False) -> None:
        self.name = name
        self.lenient = lenient

    def inspect(self, root: Path, main: str) -> Inspection:
        """Load ``main`` (and its imports) and infer the parameter template.

        Args:
            root: The unpacked archive; imports resolve relative to the importing file, then to ``root``.
            main: The main ``.wdl`` file, relative to ``root``.

        Returns:
            The inspection, with ``language_version`` ``draft-2``, ``1.0``, ``1.1`` or ``development``.

        Raises:
            DefinitionError: Syntax, import or type errors, as ``file:line:column message``.
        """
        doc = _load(root.resolve(), main, check_quant=not self.lenient)
        warnings: list[str] = []
        if doc.wdl_version is None:
            warnings.append("The WDL document has no version statement; draft-2 assumed")
        decls, meta = _inputs_of(doc, main)
        template: ParameterTemplate = {
            decl.name: parameter(
                _description(meta.get(decl.name)),
                optional=bool(decl.type.optional) or decl.expr is not None,
            )
            for decl in decls
        }
        if not template:
            warnings.append("no input parameters found")
        return Inspection(
            engine=self.name,
            main=main,
            parameter_template=template,
            warnings=tuple(warnings),
            language_version=doc.wdl_version or "draft-2",
        )


WDL_ENGINE = WdlEngine("WDL")
"""The built-in ``WDL`` engine."""
WDL_LENIENT_ENGINE = WdlEngine("WDL_LENIENT", lenient=True)
"""The built-in ``WDL_LENIENT`` engine."""


# -- loading -----------------------------------------------------------------------------------------------


def _load(root: Path, main: str, *, check_quant: bool) -> Any:
    import WDL  # delay heavy import

    async def read_source(uri: str, path: list[str], importer: Any) -> Any:
        return await _read_confined(root, uri, path, importer)

    def load() -> Any:
        return WDL.load(str(root / main), path=[str(root)], check_quant=check_quant, read_source=read_source)

    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return load()
        # miniwdl runs its own event loop: never inside a caller's loop
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(load).result()
    except (WDL.Error.SyntaxError, WDL.Error.ImportError, WDL.Error.ValidationError) as exn:
        raise DefinitionError(_describe(root, exn)) from exn
    except WDL.Error.MultipleValidationErrors as multi:
        raise DefinitionError("; ".join(_describe(root, exn) for exn in multi.exceptions)) from multi
    except (FileNotFoundError, UnicodeDecodeError) as exn:
        raise DefinitionError(f"{main}: cannot read the WDL document: {_short(exn)}") from exn


async def _read_confined(root: Path, uri: str, path: list[str], importer: Any) -> Any:
    import WDL  # delay heavy import

    if "://" in uri and not uri.startswith("file://"):
        raise FileNotFoundError(f"imports over the network are not supported ({uri})")
    result = await WDL.Tree.read_source_default(uri, path, importer)
    resolved = Path(result.abspath).resolve()
    if not resolved.is_relative_to(root):
        raise FileNotFoundError(f"{uri} is outside the workflow definition archive")
    return result


# -- errors ------------------------------------------------------------------------------------------------


def _describe(root: Path, exn: BaseException) -> str:
    import WDL  # delay heavy import

    if isinstance(exn, WDL.Error.MultipleValidationErrors):
        return "; ".join(_describe(root, inner) for inner in exn.exceptions)
    text = _short(exn)
    pos = getattr(exn, "pos", None)
    where = f"{_relative(root, pos.abspath)}:{pos.line}:{pos.column} " if pos is not None else ""
    if isinstance(exn, WDL.Error.ImportError) and exn.__cause__ is not None:
        text = f"{text}: {_describe(root, exn.__cause__)}"
    return where + text


def _short(exn: BaseException) -> str:
    if isinstance(exn, FileNotFoundError) and exn.filename:
        return f"file not found: {exn.filename}"
    lines = [line.strip() for line in str(exn).splitlines() if line.strip()]
    if not lines:
        return type(exn).__name__
    head = lines[0]
    if "Expected one of:" in lines[1:2]:
        expected = sorted(line.lstrip("* ") for line in lines[2:] if line.startswith("*"))
        head = f"{head} Expected one of: {', '.join(expected[:12])}"
    return head


def _relative(root: Path, abspath: str) -> str:
    try:
        return Path(abspath).resolve().relative_to(root).as_posix()
    except ValueError:
        return os.path.basename(abspath)


# -- template ----------------------------------------------------------------------------------------------


def _inputs_of(doc: Any, main: str) -> tuple[list[Any], dict[str, Any]]:
    import WDL  # delay heavy import

    if doc.workflow is not None:
        wf = doc.workflow
        if wf.inputs is not None:
            decls = list(wf.inputs)
        else:
            decls = [node for node in wf.body if isinstance(node, WDL.Tree.Decl)]
        return decls, dict(wf.parameter_meta or {})
    if len(doc.tasks) == 1:
        task = doc.tasks[0]
        decls = list(task.inputs if task.inputs is not None else task.postinputs)
        return decls, dict(task.parameter_meta or {})
    if not doc.tasks:
        raise DefinitionError(f"{main}: the WDL document has no workflow and no task")
    names = ", ".join(task.name for task in doc.tasks)
    raise DefinitionError(f"{main}: the WDL document has no workflow and several tasks ({names})")


def _description(meta: Any) -> str:
    if isinstance(meta, str):
        return meta
    if isinstance(meta, dict):
        for key in ("description", "help"):
            value = meta.get(key)
            if isinstance(value, str):
                return value
    return ""
