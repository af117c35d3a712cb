"""Read a CWL definition with cwltool and infer its HealthOmics parameter template.

Owns: :class:`CwlEngine` (the ``CWL`` adapter's inspect side): loading and validating the main process
(``Workflow``, ``CommandLineTool`` or ``ExpressionTool``; a packed ``$graph`` document resolves to
``#main``) fully offline, with every ``run:``/``$import`` reference confined to the unpacked archive, and
mapping the main process's ``inputs`` to a template.

Template rules: an input is optional when its type is nullable (``int?``, ``["null", ...]``) or it has a
``default``; otherwise required. Names are short (no ``file#`` or ``#main/`` prefix). The description is the
input's ``doc``, else its ``label``, else empty.

Must not: fetch anything over the network (remote ``run:`` references and ``$schemas`` are refused or
skipped), run a tool, or import cwltool at module import time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from omicsd.engines.base import Inspection, ParameterTemplate, parameter
from omicsd.errors import DefinitionError

__all__ = ["CWL_ENGINE", "CwlEngine"]

logger = logging.getLogger(__name__)

_ORIGINAL_VERSION = "http://commonwl.org/cwltool#original_cwlVersion"
_RUNNABLE = ("Workflow", "CommandLineTool", "ExpressionTool")


class CwlEngine:
    """The CWL adapter's inspect side, backed by cwltool."""

    name: str = "CWL"
    """Always ``CWL``."""

    def inspect(self, root: Path, main: str) -> Inspection:
        """Load and validate ``main`` and infer the parameter template.

        Args:
            root: The unpacked archive; references resolve inside it only.
            main: The main CWL document, relative to ``root``.

        Returns:
            The inspection, with ``language_version`` as declared (``v1.0``, ``v1.1``, ``v1.2``).

        Raises:
            DefinitionError: The document does not validate (the validator's message, positions relative
                to ``root``), or its main process is not runnable by HealthOmics.
        """
        root = root.resolve()
        process = _load(root, main)
        body = process.tool
        kind = body.get("class")
        if kind not in _RUNNABLE:
            raise DefinitionError(f"{main}: the main CWL process is a {kind}; expected one of {', '.join(_RUNNABLE)}")
        template: ParameterTemplate = {
            _short_name(str(entry["id"])): parameter(_description(entry), optional=_optional(entry))
            for entry in body.get("inputs", [])
        }
        metadata = process.metadata or {}
        version = metadata.get(_ORIGINAL_VERSION) or metadata.get("cwlVersion")
        return Inspection(
            engine=self.name,
            main=main,
            parameter_template=template,
            warnings=() if template else ("no input parameters found",),
            language_version=str(version) if version else None,
        )


CWL_ENGINE = CwlEngine()
"""The built-in ``CWL`` engine."""


# -- loading -----------------------------------------------------------------------------------------------


def _load(root: Path, main: str) -> Any:
    from cwltool.context import LoadingContext  # delay heavy import
    from cwltool.load_tool import load_tool
    from cwltool.workflow import default_make_tool

    context = LoadingContext(
        {
            "construct_tool_object": default_make_tool,
            "fetcher_constructor": _confined_fetcher(root),
            "disable_js_validation": True,
            "do_update": True,
        }
    )
    try:
        return load_tool((root / main).as_uri(), context)
    except Exception as exn:  # the validator raises many unrelated types; all mean "invalid definition"
        logger.debug("cwl.invalid main=%s", main, exc_info=True)
        raise DefinitionError(_message(root, exn)) from exn


def _confined_fetcher(root: Path) -> Callable[[Any, Any], Any]:
    from schema_salad.exceptions import ValidationException  # delay heavy import
    from schema_salad.fetcher import DefaultFetcher

    class ArchiveFetcher(DefaultFetcher):
        """Reads ``file:`` URLs under the archive root only; never opens a network session."""

        def fetch_text(self, url: str, content_types: list[str] | None = None) -> str:
            if url not in self.cache:
                _check(url)
            text: str = super().fetch_text(url, content_types)
            return text

        def check_exists(self, url: str) -> bool:
            if url in self.cache:
                return True
            _check(url)
            exists: bool = super().check_exists(url)
            return exists

    def _check(url: str) -> None:
        split = urlsplit(url)
        if split.scheme in ("http", "https", "ftp"):
            raise ValidationException(
                f"Remote references are not supported ({url}); the definition archive must contain "
                "every document it uses"
            )
        if split.scheme == "file":
            path = Path(url2pathname(split.path)).resolve()
            if not path.is_relative_to(root):
                raise ValidationException(f"{url} is outside the workflow definition archive")

    def new(cache: Any, session: Any) -> Any:
        return ArchiveFetcher(cache, None)

    return new


def _message(root: Path, exn: BaseException) -> str:
    from schema_salad.exceptions import SchemaSaladException  # delay heavy import

    if isinstance(exn, SchemaSaladException):
        lines: list[str] = []
        _salad_lines(root, exn, 0, lines)
        text = "\n".join(lines)
    else:
        text = str(exn) or type(exn).__name__
    return _relative_text(root, text)


def _salad_lines(root: Path, exn: Any, level: int, lines: list[str]) -> None:
    """Render a schema-salad error tree like its ``pretty_str``, without re-wrapping the lines."""
    leaf = not exn.children
    text = (exn.detailed_message if leaf and exn.detailed_message else exn.message) or ""
    if text:
        where = ""
        if exn.file:
            where = _relative_file(root, str(exn.file))
            where += f":{exn.start[0]}:{exn.start[1]}: " if exn.start else ": "
        bullet = f"{exn.bullet} " if exn.bullet else ""
        lines.append(f"{where}{'  ' * level}{bullet}{text}")
    for child in exn.children:
        _salad_lines(root, child, level + 1 if text else level, lines)


def _relative_file(root: Path, name: str) -> str:
    path = Path(url2pathname(urlsplit(name).path)) if name.startswith("file://") else Path(name)
    try:
        return path.absolute().resolve().relative_to(root).as_posix()
    except ValueError:
        return name


def _relative_text(root: Path, message: str) -> str:
    prefixes = {root.as_uri() + "/", str(root) + os.sep}
    try:
        prefixes.add(os.path.relpath(root) + os.sep)
    except ValueError:
        pass
    for prefix in sorted(prefixes, key=len, reverse=True):
        message = message.replace(prefix, "")
    return "\n".join(line.rstrip() for line in message.strip().splitlines())


# -- template ----------------------------------------------------------------------------------------------


def _short_name(identifier: str) -> str:
    fragment = urlsplit(identifier).fragment
    tail = fragment or urlsplit(identifier).path
    return tail.rsplit("/", 1)[-1]


def _optional(entry: Any) -> bool:
    if "default" in entry:
        return True
    kind = entry.get("type")
    if isinstance(kind, str):
        return kind == "null" or kind.endswith("?")
    if isinstance(kind, list):
        return "null" in kind or any(isinstance(item, str) and item.endswith("?") for item in kind)
    return False


def _description(entry: Any) -> str:
    for key in ("doc", "label"):
        value = entry.get(key)
        if isinstance(value, list):
            value = "\n".join(str(item) for item in value)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""
