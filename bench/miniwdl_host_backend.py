"""A miniwdl container backend that runs task commands on the host, for the benchmark's bare-miniwdl rows.

Owns: :class:`HostContainer` (backend name ``bench_host``) and :func:`main`, a ``miniwdl`` command line with
that backend registered. It is not installed as an entry point: ``python -m bench.miniwdl_host_backend run
WORKFLOW.wdl ...`` puts the class into miniwdl's backend registry, selects it and hands the arguments to
``WDL.CLI.main``, so the benchmark measures plain ``miniwdl run`` with nothing but the container swapped.

Must not: be used by omicsd (omicsd's own backend is ``omicsd_local``, which only runs inside a run driver),
or add work a real backend would not do: no isolation, no resource accounting beyond miniwdl's own task
thread pool (``[scheduler] task_concurrency``, the CPU count by default).

What it does per attempt: the "container" directory is the task's host directory, so the paths miniwdl writes
into commands are host paths; inputs are symlinked where miniwdl expects them (``work/_miniwdl_inputs/...``);
the command runs under ``bash`` in its own session with stdout/stderr to miniwdl's files; on exit (or on a
termination signal) the whole process group is killed, as a container teardown would.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

from WDL.runtime import config
from WDL.runtime.task_container import TaskContainer

BACKEND = "bench_host"
_POLL_SECONDS = 0.1


class HostContainer(TaskContainer):
    """Runs each task attempt as a host process group."""

    @classmethod
    def global_init(cls, cfg: config.Loader, logger: logging.Logger) -> None:
        """Nothing to set up."""

    @classmethod
    def detect_resource_limits(cls, cfg: config.Loader, logger: logging.Logger) -> dict[str, int]:
        """The machine's CPUs and memory."""
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return {"cpu": os.cpu_count() or 1, "mem_bytes": int(pages)}

    def __init__(self, cfg: config.Loader, run_id: str, host_dir: str) -> None:
        super().__init__(cfg, run_id, host_dir)
        self.container_dir = host_dir

    def _run(self, logger: logging.Logger, terminating: Callable[[], bool], command: str) -> int:
        for host_path, container_path in self.input_path_map.items():
            link = self.host_work_path(container_path).rstrip("/")
            os.makedirs(os.path.dirname(link), exist_ok=True)
            if not os.path.islink(link):
                os.symlink(host_path.rstrip("/"), link)
        script = os.path.join(self.host_dir, "command")
        with open(script, "w") as fh:
            fh.write(command)
        env = dict(os.environ)
        env.update({str(k): str(v) for k, v in (self.runtime_values.get("env") or {}).items()})
        shell = self.cfg["task_runtime"]["command_shell"] or "/bin/bash"
        with (
            open(self.host_stdout_txt(), "wb") as stdout,  # type: ignore[no-untyped-call]
            open(self.host_stderr_txt(), "wb") as stderr,  # type: ignore[no-untyped-call]
            self.poll_stderr_context(logger) as poll_stderr,
            self.task_running_context(),
        ):
            proc = subprocess.Popen(
                [shell, script],
                cwd=self.host_work_dir(),  # type: ignore[no-untyped-call]
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
            try:
                while True:
                    try:
                        code = proc.wait(timeout=_POLL_SECONDS)
                        break
                    except subprocess.TimeoutExpired:
                        poll_stderr()
                        if terminating():
                            _kill_group(proc.pid)
                            return proc.wait()
                poll_stderr()
            finally:
                _kill_group(proc.pid)
        return int(code)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def register() -> None:
    """Put :class:`HostContainer` into miniwdl's backend registry as ``bench_host`` and select it."""
    from WDL.runtime import task_container

    registry: dict[str, Any] = task_container._backends
    registry[BACKEND] = HostContainer
    os.environ["MINIWDL__SCHEDULER__CONTAINER_BACKEND"] = BACKEND
    os.environ.setdefault("MINIWDL__PLUGINS__DISABLE_PATTERNS", '["omicsd.*"]')


def main(argv: Sequence[str] | None = None) -> int:
    """``miniwdl`` with the host backend: ``python -m bench.miniwdl_host_backend run WORKFLOW.wdl ...``."""
    register()
    from WDL import CLI

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        CLI.main(args)  # type: ignore[no-untyped-call]
    except SystemExit as exit_:
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
