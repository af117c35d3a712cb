"""What an omicsd WDL run skips of miniwdl's run-directory bookkeeping, and that miniwdl still has it to skip."""

import logging
from pathlib import Path

import pytest
import WDL.runtime.task
import WDL.runtime.workflow
from WDL import Env, Value

from omicsd.engines.events import TaskFinished
from omicsd.engines.wdl import _lean
from omicsd.engines.wdl._lean import CALLERS, SKIPPED, cheap_log_records, lean_bookkeeping, patchable
from tests.engines.wdl.driver_support import make_run, outputs_json

MODULES = {"WDL.runtime.task": WDL.runtime.task, "WDL.runtime.workflow": WDL.runtime.workflow}

PIPELINE = """
version 1.0
workflow w {
  scatter (i in range(3)) {
    call part { input: i = i }
  }
  call gather { input: parts = part.out }
  output {
    Array[File] parts = part.out
    File all = gather.all
  }
}
task part {
  input { Int i }
  command <<< echo ~{i} > part.txt >>>
  output { File out = "part.txt" }
}
task gather {
  input { Array[File] parts }
  command <<< cat ~{sep=" " parts} > all.txt >>>
  output { File all = "all.txt" }
}
"""


@pytest.mark.parametrize(("module", "name"), [(m, n) for m, names in SKIPPED.items() for n in names])
def test_installed_miniwdl_still_calls_every_skipped_name(module: str, name: str) -> None:
    # fails when a miniwdl upgrade renames or stops calling something lean_bookkeeping replaces
    assert patchable(module, name), f"{module}.{name} is gone or no longer called by {CALLERS[module]}"


def test_replacements_are_in_effect_only_while_open() -> None:
    originals = {(m, n): getattr(MODULES[m], n) for m, names in SKIPPED.items() for n in names}
    with lean_bookkeeping() as applied:
        assert sorted(applied) == sorted(f"{m}.{n}" for m, n in originals)
        for (module, name), original in originals.items():
            assert getattr(MODULES[module], name) is not original
    for (module, name), original in originals.items():
        assert getattr(MODULES[module], name) is original


def test_log_files_are_kept_when_the_run_ships_no_engine_log() -> None:
    handler = WDL.runtime.task.LoggingFileHandler
    with lean_bookkeeping(keep_log_files=True) as applied:
        assert WDL.runtime.task.LoggingFileHandler is handler
        assert "WDL.runtime.task.LoggingFileHandler" not in applied
        assert "WDL.runtime.task.write_values_json" in applied


def test_a_name_miniwdl_no_longer_calls_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CALLERS, "WDL.runtime.task", ("_eval_task_inputs",))  # calls none of the names
    original = WDL.runtime.task.write_values_json
    with lean_bookkeeping() as applied:
        assert WDL.runtime.task.write_values_json is original
        assert not any(name.startswith("WDL.runtime.task.") for name in applied)
        assert "WDL.runtime.workflow.write_values_json" in applied


def test_only_the_top_level_call_gets_its_log_file(tmp_path: Path) -> None:
    with _lean._log_file_created(logging.getLogger("wdl.w:main"), str(tmp_path / "workflow.log")):
        pass
    with _lean._log_file_created(logging.getLogger("wdl.w:main.t:call-x"), str(tmp_path / "task.log")):
        pass
    assert (tmp_path / "workflow.log").read_text() == ""
    assert not (tmp_path / "task.log").exists()


def test_outputs_keep_their_paths() -> None:
    outputs = Env.Bindings().bind("f", Value.File("/runs/r/wdl/call-x/work/out.txt"))
    assert _lean._outputs_unlinked(None, outputs, "/runs/r/wdl/call-x") is outputs


def test_cheap_log_records_restores_the_logging_switches() -> None:
    before = (logging._srcfile, logging.logProcesses, logging.logMultiprocessing)
    with cheap_log_records():
        assert logging._srcfile is None
        record = logging.getLogger("wdl.test").makeRecord("wdl.test", logging.INFO, "", 0, "m", (), None)
        assert record.getMessage() == "m" and record.processName is None
    assert (logging._srcfile, logging.logProcesses, logging.logMultiprocessing) == before


@pytest.mark.slow
def test_a_run_leaves_only_what_omicsd_reads_in_its_task_directories(tmp_path: Path) -> None:
    run = make_run(tmp_path, PIPELINE).run()
    assert run.finished().status == "COMPLETED", run.stderr
    wdl = run.run_dir / "wdl"
    assert (wdl / "workflow.log").read_text() == ""
    leftovers = {p.name for p in wdl.rglob("*") if p.name in ("inputs.json", "outputs.json", "out", "task.log")}
    assert leftovers == set()
    assert sorted(p.name for p in wdl.glob("call-*")) == ["call-gather", "call-part-0", "call-part-1", "call-part-2"]
    assert (wdl / "call-gather" / "work" / "all.txt").read_text() == "0\n1\n2\n"
    assert all(e.status == "COMPLETED" for e in run.events() if isinstance(e, TaskFinished))
    summary = outputs_json(run)
    base = run.spec.run_output_uri
    assert summary["w.all"] == f"{base}/out/all/all.txt"
    assert summary["w.parts"] == [f"{base}/out/parts/{i}/part.txt" for i in range(3)]
    log = run.engine_log()
    assert any("task setup" in m for m in log) and any("NOTICE wdl.w:w done" in m for m in log), log
    assert not any("share the same basename" in m for m in log)


@pytest.mark.slow
def test_log_level_off_keeps_miniwdl_log_files(tmp_path: Path) -> None:
    run = make_run(tmp_path, PIPELINE, log_level="OFF").run()
    assert run.finished().status == "COMPLETED", run.stderr
    assert (run.run_dir / "wdl" / "call-gather" / "task.log").exists()
    assert run.engine_log() == []
