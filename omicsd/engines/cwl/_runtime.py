"""cwltool's ``RuntimeContext`` for an omicsd run, with job directories that are named cheaply and made when used.

Owns: :func:`runtime_context` (what a run hands cwltool: commands on the host, job directories under the run
directory's ``cwl/out`` and ``cwl/tmp``, outputs left where the jobs wrote them, no checksums, stop at the first
error) and :class:`RunRuntimeContext`. cwltool asks the context for an output, a temporary and a staging
directory for every command-line job, on the loop thread that holds the workflow lock, and copies the
context for every step job. Here

- each directory is named with the run's counter (``cwl/out/17``, ``cwl/tmp/18``) and is not created when it
  is handed out: cwltool creates a job's output and temporary directories when the job starts on its worker
  thread (``JobBase._setup`` / ``CommandLineJob.run``), and the directories it stages inputs into when it
  stages them (``stage_files``). A job that stages nothing never has a staging directory, a job served from the
  run cache has none at all, and neither has a workflow's own output directory, which cwltool only uses to move
  outputs (omicsd leaves them in place);
- the file-system access class answers ``realpath`` at once for the directories handed out: they are named
  under roots resolved once, so they are already real paths (cwltool resolves all three for every job);
- :meth:`RunRuntimeContext.copy` copies the attributes directly, as ``copy.copy`` does without its generic
  protocol;
- step jobs are named by :class:`StepJobNames` (cwltool's ``workflow_job_step_name_callback``) with the names
  cwltool gives them (``echo``, ``echo_2``, ``echo_3`` …) without cwltool's search from the bare stem, which
  tries every name taken before and makes naming a scatter of n jobs cost n² set lookups.

The names are unique within the run: the counter is the run's, and a name the roots held already when the run
began (a directory left from elsewhere) is skipped. The roots are listed once, not probed for every name: the
thread that hands names out is the one that generates the jobs, and every probe is a system call.

Must not: create anything outside the run directory's ``cwl/`` tree, or change what a job's paths mean to it
(``$(runtime.outdir)`` and ``$(runtime.tmpdir)`` are the directories the command runs in and with).
"""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path
from typing import Any

from cwltool.context import RuntimeContext
from cwltool.process import shortname
from cwltool.secrets import SecretStore
from cwltool.stdfsaccess import StdFsAccess


class _JobDirs:
    """Hands out unique directory paths under the run's roots, and remembers them."""

    def __init__(self, out_root: Path, tmp_root: Path) -> None:
        self.out_root = os.path.realpath(out_root)
        self.tmp_root = os.path.realpath(tmp_root)
        self.handed_out: set[str] = set()
        self._existing = {os.path.join(root, name) for root in (self.out_root, self.tmp_root) for name in _names(root)}
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new(self, root: str) -> str:
        """A path under ``root`` that nothing uses yet (not created)."""
        with self._lock:
            while True:
                path = os.path.join(root, str(next(self._counter)))
                if path not in self._existing:
                    self.handed_out.add(path)
                    return path


def _names(root: str) -> list[str]:
    try:
        return os.listdir(root)
    except FileNotFoundError:
        return []


class StepJobNames:
    """Proposes the next free-looking name for each step's next job, in the order cwltool would pick them.

    cwltool passes the proposal through its ``uniquename`` (the run's set of taken names), which keeps it when it
    is free, as it is unless another step is literally named like a numbered job of this one; then cwltool's own
    search from the proposal finds the next free name. Names stay unique either way.
    """

    def __init__(self) -> None:
        self._next: dict[str, int] = {}
        self._stems: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, step: Any, inputs: object) -> str:
        """The name for the next job of ``step`` (a cwltool ``WorkflowJobStep``; ``inputs`` are not used)."""
        with self._lock:
            stem = self._stems.get(step.id)
            if stem is None:
                stem = self._stems[step.id] = shortname(step.id)
            number = self._next.get(stem, 1)
            self._next[stem] = number + 1
        return stem if number == 1 else f"{stem}_{number}"


class RunRuntimeContext(RuntimeContext):
    """A ``RuntimeContext`` whose job directories come from the run's :class:`_JobDirs` (see the module)."""

    job_dirs: _JobDirs | None = None

    def get_outdir(self) -> str:
        """The context's output directory, else a new job output directory (created when the job starts)."""
        if self.outdir:
            return self.outdir
        return self.create_outdir()

    def get_tmpdir(self) -> str:
        """The context's temporary directory, else a new one (created when the job starts)."""
        if self.tmpdir:
            return self.tmpdir
        return self.create_tmpdir()

    def get_stagedir(self) -> str:
        """The context's staging directory, else a new one (created if the job stages anything into it)."""
        if self.stagedir:
            return self.stagedir
        return self.create_tmpdir()

    def create_tmpdir(self) -> str:
        """A new directory path under ``cwl/tmp``."""
        dirs = self._dirs()
        return dirs.new(dirs.tmp_root)

    def create_outdir(self) -> str:
        """A new directory path under ``cwl/out``."""
        dirs = self._dirs()
        return dirs.new(dirs.out_root)

    def copy(self) -> RunRuntimeContext:
        """A shallow copy (what ``copy.copy`` makes)."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def _dirs(self) -> _JobDirs:
        if self.job_dirs is None:
            raise RuntimeError("RunRuntimeContext used without job directories")
        return self.job_dirs


def runtime_context(cwl_root: Path, *, basedir: Path, name: str) -> RunRuntimeContext:
    """The context a run hands cwltool; ``cwl_root`` (``<run_dir>/cwl``) gets its ``out`` and ``tmp`` roots.

    Args:
        cwl_root: the run's cwltool directory.
        basedir: where relative input paths resolve (the staged inputs).
        name: the name cwltool gives a bare tool's single job.
    """
    out_root, tmp_root = cwl_root / "out", cwl_root / "tmp"
    out_root.mkdir(parents=True, exist_ok=True)
    tmp_root.mkdir(parents=True, exist_ok=True)
    dirs = _JobDirs(out_root, tmp_root)
    runtime = RunRuntimeContext(
        {
            "use_container": False,
            "basedir": str(basedir),
            "tmp_outdir_prefix": dirs.out_root + os.sep,
            "tmpdir_prefix": dirs.tmp_root + os.sep,
            "rm_tmpdir": False,
            "move_outputs": "leave",
            "compute_checksum": False,
            "on_error": "stop",
            "secret_store": SecretStore(),
            "name": name,
            "make_fs_access": _fs_access(dirs),
            "workflow_job_step_name_callback": StepJobNames(),
        }
    )
    runtime.job_dirs = dirs
    return runtime


def _fs_access(dirs: _JobDirs) -> type[StdFsAccess]:
    handed_out = dirs.handed_out

    class RunFsAccess(StdFsAccess):
        """cwltool's local file-system access; the run's job directories are real paths already."""

        def realpath(self, path: str) -> str:
            if path in handed_out:
                return path
            return super().realpath(path)

    return RunFsAccess
