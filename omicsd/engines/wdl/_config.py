"""The miniwdl configuration of an omicsd run, built in code.

Owns: :func:`miniwdl_config` (a :class:`RunConfig`), :func:`memoized_plugin_lookups` and
:func:`warm_plugin_lookups`. No configuration file is read
(``filenames=[]``) and every option that matters is an explicit override, so neither
``~/.config/miniwdl.cfg`` nor ``MINIWDL__*`` variables change how a run behaves (the driver also drops
``MINIWDL_*`` variables from its environment).

Must not: run anything.

One deliberate exception to "use miniwdl's seams, never patch it": miniwdl looks its plugins up through
``importlib.metadata.entry_points`` again for *every* task (``WDL.runtime.config.load_plugins``), which reads
every installed distribution's metadata and cost about a fifth of each task's time in measurements. The answer
depends only on the group and the plugin patterns of the configuration, so :func:`memoized_plugin_lookups`
remembers it per (group, patterns) for the life of the process, and puts miniwdl's function back after each
run. A fork-server helper warms it once (:func:`warm_plugin_lookups`), so forked drivers skip the scan; a
plugin installed while the helper lives is seen after a restart.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from WDL.runtime import config

logger = logging.getLogger(__name__)

#: Plugins a run loads: omicsd's backend and observers, and miniwdl's built-in call cache (kept off).
ENABLED_PLUGINS = ["omicsd.engines.wdl.*", "WDL.runtime.cache:CallCache"]


def miniwdl_config(run_dir: Path, *, task_concurrency: int) -> config.Loader:
    """A miniwdl ``Loader`` for one run.

    Args:
        run_dir: the run directory; miniwdl's caches (unused) point inside it.
        task_concurrency: miniwdl's task thread pool size. Tasks beyond the executor's capacity wait
            in the executor (as STARTING), so this only bounds how many attempts exist at once.
    """
    for key in [k for k in os.environ if k.startswith("MINIWDL_")]:
        del os.environ[key]
    overrides: dict[str, dict[str, Any]] = {
        "scheduler": {
            "container_backend": "omicsd_local",
            "task_concurrency": task_concurrency,
            "subworkflow_concurrency": task_concurrency,
            "download_concurrency": 0,
            "fail_fast": True,
            "scatter_tag_max": 0,  # call-x-3, never call-x-3-<value tag>
        },
        "file_io": {
            "root": "/",
            "allow_any_input": False,
            "copy_input_files": False,
            "output_hardlinks": False,
            "use_relative_output_paths": False,
            "delete_work": "false",
            "mount_tmpdir": False,
        },
        "task_runtime": {
            "cpu_max": 0,  # 0: clamp to detect_resource_limits, i.e. the executor's capacity
            "memory_max": "0",
            "memory_limit_multiplier": 0.0,
            "defaults": {},  # no default image: TaskCreated.image stays empty unless the task names one
            "command_shell": "/bin/bash",
            "command_preamble": "",
            "env": {},
            "as_user": False,
            "allow_privileged": False,
        },
        "call_cache": {"get": False, "put": False, "dir": str(run_dir / ".miniwdl" / "call_cache")},
        "download_cache": {"get": False, "put": False, "dir": str(run_dir / ".miniwdl" / "download_cache")},
        "plugins": {"enable_patterns": ENABLED_PLUGINS, "disable_patterns": []},
        "logging": {"json": False},
    }
    return RunConfig(logging.getLogger("wdl.config"), filenames=[], overrides=overrides)


class RunConfig(config.Loader):
    """miniwdl's ``Loader`` that remembers each option once read.

    miniwdl reads about twenty options per task (``cfg["file_io"].get_bool(...)`` and the like), and each read
    goes through three ``configparser`` lookups, the environment and variable expansion. A run's options
    cannot change once it started (no file, ``MINIWDL_*`` variables dropped), so each (section, key) is
    resolved once; :meth:`override` and :meth:`plugin_defaults` forget what was remembered.
    """

    _MISSING = object()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._memo: dict[tuple[str, str], object] = {}
        super().__init__(*args, **kwargs)

    def get(self, section: str, key: str, default: str | None = None) -> str:
        """The option's value, as ``Loader.get`` gives it (``default`` when it is missing)."""
        memo_key = (str(section).lower(), str(key).lower())
        value = self._memo.get(memo_key)
        if value is None:
            try:
                value = super().get(section, key)
            except config.ConfigMissing:
                value = self._MISSING
            self._memo[memo_key] = value
        if value is self._MISSING:
            return super().get(section, key, default)  # the default, or miniwdl's own ConfigMissing
        return str(value)

    def override(self, options: dict[str, dict[str, Any]]) -> None:
        """Apply ``options`` (forgetting every remembered value)."""
        self._memo = {}
        super().override(options)

    def plugin_defaults(self, options: dict[str, dict[str, Any]]) -> None:
        """Add plugin defaults (forgetting every remembered value)."""
        self._memo = {}
        super().plugin_defaults(options)


_PLUGINS: dict[tuple[str, str, str], list[tuple[str, Any]]] = {}
"""(group, enable patterns, disable patterns) → the plugins miniwdl loads, for the life of the process."""
_PLUGINS_LOCK = threading.Lock()


@contextmanager
def memoized_plugin_lookups() -> Iterator[None]:
    """While open, ``WDL.runtime.config.load_plugins`` answers each (group, plugin patterns) from memory after once.

    The answers are kept for the life of the process, so a driver forked from a helper that called
    :func:`warm_plugin_lookups` never scans the installed distributions at all.
    """
    original: Callable[[config.Loader, str], Iterable[tuple[str, Any]]] = config.load_plugins

    def load_plugins(cfg: config.Loader, group: str) -> list[tuple[str, Any]]:
        return _plugins(original, cfg, group)

    setattr(config, "load_plugins", load_plugins)  # noqa: B010
    try:
        yield
    finally:
        setattr(config, "load_plugins", original)  # noqa: B010


def warm_plugin_lookups() -> None:
    """Look up (and import) every plugin group a run uses, for :func:`memoized_plugin_lookups` to reuse."""
    cfg = miniwdl_config(Path("/nonexistent"), task_concurrency=1)
    for group in config.default_plugins():
        _plugins(config.load_plugins, cfg, group)


def _plugins(
    lookup: Callable[[config.Loader, str], Iterable[tuple[str, Any]]], cfg: config.Loader, group: str
) -> list[tuple[str, Any]]:
    patterns = cfg["plugins"]
    key = (group, patterns.get("enable_patterns"), patterns.get("disable_patterns"))
    with _PLUGINS_LOCK:
        if key not in _PLUGINS:
            _PLUGINS[key] = list(lookup(cfg, group))
        return _PLUGINS[key]
