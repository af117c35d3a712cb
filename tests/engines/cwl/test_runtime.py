"""The run's cwltool RuntimeContext: job directories named by a counter and created by cwltool when used."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote

import pytest
from cwltool.context import LoadingContext
from cwltool.executors import SingleJobExecutor
from cwltool.load_tool import load_tool
from cwltool.process import uniquename

from omicsd.engines.cwl._runtime import RunRuntimeContext, StepJobNames, runtime_context

STAGING_TOOL = """cwlVersion: v1.2
class: CommandLineTool
baseCommand: [sh, -c, 'cat "$0" > "$TMPDIR/copy" && cp "$TMPDIR/copy" out.txt']
inputs:
  text: {type: File, inputBinding: {position: 1}}
outputs:
  copy: {type: File, outputBinding: {glob: out.txt}}
"""


def _context(tmp_path: Path) -> RunRuntimeContext:
    return runtime_context(tmp_path / "cwl", basedir=tmp_path, name="main")


def test_job_directories_are_numbered_unique_and_not_created(tmp_path: Path) -> None:
    (tmp_path / "cwl" / "tmp" / "2").mkdir(parents=True)  # a name in use when the run begins is skipped
    runtime = _context(tmp_path)
    out_root, tmp_root = (tmp_path / "cwl" / "out").resolve(), (tmp_path / "cwl" / "tmp").resolve()
    paths = [runtime.get_outdir(), runtime.get_tmpdir(), runtime.get_stagedir(), runtime.create_outdir()]
    assert paths == [str(out_root / "1"), str(tmp_root / "3"), str(tmp_root / "4"), str(out_root / "5")]
    assert not any(os.path.exists(path) for path in paths)
    assert runtime.tmp_outdir_prefix == str(out_root) + os.sep and runtime.tmpdir_prefix == str(tmp_root) + os.sep
    assert (runtime.use_container, runtime.move_outputs, runtime.compute_checksum) == (False, "leave", False)


def test_directories_the_context_names_are_returned_as_they_are(tmp_path: Path) -> None:
    runtime = _context(tmp_path)
    runtime.outdir, runtime.tmpdir, runtime.stagedir = "/o", "/t", "/s"
    assert (runtime.get_outdir(), runtime.get_tmpdir(), runtime.get_stagedir()) == ("/o", "/t", "/s")


def test_copy_is_a_shallow_copy_of_the_same_class(tmp_path: Path) -> None:
    runtime = _context(tmp_path)
    clone = runtime.copy()
    assert type(clone) is RunRuntimeContext and clone is not runtime
    assert vars(clone) == vars(runtime) and clone.job_dirs is runtime.job_dirs
    clone.name = "other"
    assert runtime.name == "main"
    assert clone.get_outdir() != runtime.get_outdir()  # the counter is the run's


def test_realpath_is_immediate_for_handed_out_directories_only(tmp_path: Path) -> None:
    runtime = _context(tmp_path)
    fs = runtime.make_fs_access(str(tmp_path))
    outdir = runtime.get_outdir()
    assert fs.realpath(outdir) == outdir
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert fs.realpath(str(tmp_path / "link")) == str((tmp_path / "real").resolve())


def test_context_without_job_directories_refuses_to_name_one() -> None:
    with pytest.raises(RuntimeError, match="without job directories"):
        RunRuntimeContext().create_outdir()


def test_cwltool_creates_the_directories_a_job_uses_when_it_runs(tmp_path: Path) -> None:
    """The contract the lazy directories rely on: cwltool makes a job's output, temporary and staging
    directories when the job runs (``JobBase._setup``, ``CommandLineJob.run``, ``stage_files``)."""
    (tmp_path / "tool.cwl").write_text(STAGING_TOOL)
    (tmp_path / "in.txt").write_text("data\n")
    tool = load_tool(str(tmp_path / "tool.cwl"), LoadingContext({"relax_path_checks": True}))
    runtime = _context(tmp_path)
    job_order = {"text": {"class": "File", "location": (tmp_path / "in.txt").as_uri()}}
    outputs, status = SingleJobExecutor()(tool, job_order, runtime)
    assert status == "success", outputs
    assert outputs is not None
    out_root, tmp_root = tmp_path / "cwl" / "out", tmp_path / "cwl" / "tmp"
    copy = Path(unquote(outputs["copy"]["location"].removeprefix("file://")))
    assert copy.read_text() == "data\n" and copy.parent.parent == out_root.resolve()
    assert [p.name for p in out_root.iterdir()] == [copy.parent.name]  # the tool's job runs in the executor's
    made = sorted(tmp_root.iterdir())
    assert len(made) == 2, made  # the job's TMPDIR and its staging directory
    temporary, staging = made if (made[0] / "copy").exists() else made[::-1]
    assert (temporary / "copy").read_text() == "data\n"
    (staged,) = staging.glob("*/in.txt")
    assert staged.is_symlink() and staged.resolve() == (tmp_path / "in.txt").resolve()


class _Step:
    def __init__(self, step_id: str) -> None:
        self.id = step_id


def test_step_jobs_get_the_names_cwltool_would_give_them() -> None:
    names = StepJobNames()
    taken: set[str] = set()
    echo, count = _Step("file:///defs/main.cwl#echo"), _Step("file:///defs/main.cwl#count")
    given = [uniquename(names(step, {}), taken) for step in (echo, echo, count, echo, count)]
    assert given == ["echo", "echo_2", "count", "echo_3", "count_2"]


def test_a_proposed_name_that_is_taken_still_ends_unique() -> None:
    names = StepJobNames()
    taken: set[str] = set()
    literal, echo = _Step("file:///defs/main.cwl#echo_2"), _Step("file:///defs/main.cwl#echo")
    given = [uniquename(names(step, {}), taken) for step in (literal, echo, echo, echo)]
    assert len(set(given)) == len(given)
    assert given[:2] == ["echo_2", "echo"]
