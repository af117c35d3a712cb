"""Loading a CWL definition for a run, and the host ``node`` that evaluates its JavaScript.

Owns: :func:`load_process` (the main process of the unpacked definition, loaded offline with every reference
confined to the definition, updated to cwltool's internal CWL version, command-line tools built by
:func:`omicsd.engines.cwl._tool.make_tool`), :class:`WorkflowError` (WORKFLOW_RUN_FAILED with cwltool's
message, paths relative to the definition), :func:`relative_message` and :class:`HostNodeEngine` with
:func:`host_javascript`: expressions (``InlineJavascriptRequirement``) are evaluated by the host's ``node``,
one process shared by the run's threads, and never by a ``node`` container image.

Must not: run jobs, or fetch anything over the network.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cwl_utils import sandboxjs
from cwl_utils.errors import JavascriptException

from omicsd.engines.cwl import inspect as cwl_inspect
from omicsd.engines.cwl._tool import install_host_runner, make_tool

logger = logging.getLogger(__name__)

#: CWL versions a run accepts (cwltool updates older ones to its internal version).
CWL_VERSIONS = ("v1.0", "v1.1", "v1.2")


class WorkflowError(Exception):
    """The definition or the inputs are not acceptable to the engine (WORKFLOW_RUN_FAILED)."""


def load_process(root: Path, main: str) -> Any:
    """Load and validate the main process of the definition unpacked in ``root``.

    Raises:
        WorkflowError: the document does not load or validate (cwltool's message).
    """
    from cwltool.context import LoadingContext  # delay heavy import
    from cwltool.load_tool import load_tool

    install_host_runner()
    root = root.resolve()
    context = LoadingContext(
        {
            "construct_tool_object": make_tool,
            "fetcher_constructor": cwl_inspect._confined_fetcher(root),
            "disable_js_validation": True,
            "do_update": True,
            "relax_path_checks": True,
        }
    )
    try:
        return load_tool((root / main).as_uri(), context)
    except Exception as exn:  # the validator raises many unrelated types; all mean "invalid definition"
        logger.debug("cwl.invalid main=%s", main, exc_info=True)
        raise WorkflowError(cwl_inspect._message(root, exn)) from exn


def relative_message(root: Path, message: str) -> str:
    """``message`` with the definition directory's paths and URIs made relative to it."""
    root = root.resolve()
    prefixes = {root.as_uri() + "/", str(root) + os.sep}
    try:
        prefixes.add(os.path.relpath(root) + os.sep)
    except ValueError:
        pass
    for prefix in sorted(prefixes, key=len, reverse=True):
        message = message.replace(prefix, "")
    return "\n".join(line.rstrip() for line in message.strip().splitlines())


def preload_schemas() -> None:
    """Build cwltool's schemas for every accepted CWL version (the slow part of a first load)."""
    from cwltool.process import get_schema  # delay heavy import

    for version in CWL_VERSIONS:
        get_schema(version)


class HostNodeEngine(sandboxjs.NodeJSEngine):
    """cwl-utils' Node.js engine bound to the host's ``node``: one process for the run, calls serialized."""

    def __init__(self, node: str | None) -> None:
        """Use the ``node`` executable at ``node`` (``None``: JavaScript expressions fail with a clear message)."""
        super().__init__()
        self.node = node
        self.localdata = SimpleNamespace()  # type: ignore[assignment]  # shared by all threads, unlike the base class's thread-local
        self._lock = threading.RLock()

    def exec_js_process(self, *args: Any, **kwargs: Any) -> tuple[int, str, str]:
        """Evaluate one expression (one caller at a time: the node process reads one request at a time)."""
        with self._lock:
            result: tuple[int, str, str] = super().exec_js_process(*args, **kwargs)
            return result

    def new_js_proc(
        self, js_text: str, force_docker_pull: bool = False, container_engine: str = "docker"
    ) -> subprocess.Popen[str]:
        """Start ``node --eval js_text`` on the host (never a container)."""
        if self.node is None:
            raise JavascriptException(
                "InlineJavascriptRequirement needs Node.js: install node (or nodejs) on the omicsd host's PATH"
            )
        process = subprocess.Popen(
            [self.node, "--eval", js_text],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
        )
        self.processes_to_kill.append(process)
        return process

    def close(self) -> None:
        """Stop every node process this engine started."""
        while self.processes_to_kill:
            process = self.processes_to_kill.popleft()
            if process.poll() is None:
                process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


@contextmanager
def host_javascript() -> Iterator[HostNodeEngine]:
    """Evaluate CWL expressions with the host's ``node`` while open; its processes stop at the end."""
    engine = HostNodeEngine(shutil.which("node") or shutil.which("nodejs"))
    previous = sandboxjs.get_js_engine()
    sandboxjs.set_js_engine(engine)
    try:
        yield engine
    finally:
        sandboxjs.set_js_engine(previous)
        engine.close()
