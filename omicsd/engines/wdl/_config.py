"""The miniwdl configuration of an omicsd run, built in code.

Owns: :func:`miniwdl_config` and :func:`memoized_plugin_lookups`. No configuration file is read
(``filenames=[]``) and every option that matters is an explicit override, so neither
``~/.config/miniwdl.cfg`` nor ``MINIWDL__*`` variables change how a run behaves (the driver also drops
``MINIWDL_*`` variables from its environment).

Must not: run anything.

One deliberate exception to "use miniwdl's seams, never patch it": miniwdl looks its plugins up through
``importlib.metadata.entry_points`` again for *every* task (``WDL.runtime.config.load_plugins``), which reads
every installed distribution's metadata and cost about a fifth of each task's time in measurements. For the
length of a run the answer cannot change, so :func:`memoized_plugin_lookups` remembers it per (config, group)
and puts miniwdl's function back afterwards.
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
    return config.Loader(logging.getLogger("wdl.config"), filenames=[], overrides=overrides)


@contextmanager
def memoized_plugin_lookups() -> Iterator[None]:
    """While open, ``WDL.runtime.config.load_plugins`` answers each (config, group) from memory after once."""
    original: Callable[[config.Loader, str], Iterable[tuple[str, Any]]] = config.load_plugins
    memo: dict[tuple[int, str], list[tuple[str, Any]]] = {}
    lock = threading.Lock()

    def load_plugins(cfg: config.Loader, group: str) -> list[tuple[str, Any]]:
        key = (id(cfg), group)
        with lock:
            if key not in memo:
                memo[key] = list(original(cfg, group))
            return memo[key]

    setattr(config, "load_plugins", load_plugins)  # noqa: B010
    try:
        yield
    finally:
        setattr(config, "load_plugins", original)  # noqa: B010
