"""Loading a CWL definition for a run, the host-tool factory, and JavaScript on the host's node."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cwltool.job
import pytest
from cwl_utils import sandboxjs
from cwl_utils.errors import JavascriptException

from omicsd.engines.cwl._load import HostNodeEngine, WorkflowError, host_javascript, load_process, relative_message
from omicsd.engines.cwl._tool import HostCommandLineJob, HostCommandLineTool, install_host_runner

DOCKER_REQUIRED = """cwlVersion: v1.0
class: CommandLineTool
requirements:
  DockerRequirement: {dockerPull: "quay.io/x/y:1"}
baseCommand: echo
inputs: []
outputs: []
"""


def test_container_requirements_still_run_on_the_host(tmp_path: Path) -> None:
    (tmp_path / "main.cwl").write_text(DOCKER_REQUIRED)
    process = load_process(tmp_path, "main.cwl")
    assert isinstance(process, HostCommandLineTool)
    assert process.metadata.get("http://commonwl.org/cwltool#original_cwlVersion") == "v1.0"
    assert process.make_job_runner(None) is HostCommandLineJob
    assert cwltool.job._job_popen.__module__ == "omicsd.engines.cwl._tool"


def test_steps_of_a_workflow_use_the_host_tool(tmp_path: Path) -> None:
    (tmp_path / "tool.cwl").write_text(DOCKER_REQUIRED)
    (tmp_path / "main.cwl").write_text(
        "cwlVersion: v1.2\nclass: Workflow\ninputs: []\noutputs: []\n"
        "steps:\n  s:\n    run: tool.cwl\n    in: {}\n    out: []\n"
    )
    process = load_process(tmp_path, "main.cwl")
    (step,) = process.steps
    assert isinstance(step.embedded_tool, HostCommandLineTool)


def test_invalid_definition_names_the_file_relative_to_the_definition(tmp_path: Path) -> None:
    (tmp_path / "main.cwl").write_text(
        "cwlVersion: v1.2\nclass: CommandLineTool\ninputs: {x: nosuchtype}\noutputs: []\n"
    )
    with pytest.raises(WorkflowError) as caught:
        load_process(tmp_path, "main.cwl")
    message = str(caught.value)
    assert "nosuchtype" in message and "main.cwl" in message and str(tmp_path) not in message


def test_references_outside_the_definition_are_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.cwl").write_text(DOCKER_REQUIRED)
    definition = tmp_path / "definition"
    definition.mkdir()
    (definition / "main.cwl").write_text(
        "cwlVersion: v1.2\nclass: Workflow\ninputs: []\noutputs: []\n"
        "steps:\n  s:\n    run: ../outside.cwl\n    in: {}\n    out: []\n"
    )
    with pytest.raises(WorkflowError, match="outside the workflow definition archive"):
        load_process(definition, "main.cwl")


def test_relative_message(tmp_path: Path) -> None:
    text = f"{tmp_path.as_uri()}/a/main.cwl:3:1: bad\n{tmp_path}/b.cwl: worse  \n"
    assert relative_message(tmp_path, text) == "a/main.cwl:3:1: bad\nb.cwl: worse"


def test_other_callers_of_cwltools_popen_are_left_alone(tmp_path: Path) -> None:
    install_host_runner()
    out = tmp_path / "out.txt"
    status = cwltool.job._job_popen(
        ["sh", "-c", "echo plain"],
        stdin_path=None,
        stdout_path=str(out),
        stderr_path=None,
        env={"PATH": "/usr/bin:/bin"},
        cwd=str(tmp_path),
        make_job_dir=lambda: str(tmp_path),
    )
    assert status == 0 and out.read_text() == "plain\n"


def test_expressions_evaluate_with_one_host_node_process() -> None:
    from cwl_utils.expression import do_eval

    requirements = [{"class": "InlineJavascriptRequirement"}]
    with host_javascript() as engine:
        assert sandboxjs.get_js_engine() is engine
        assert engine.node is not None and Path(engine.node).name in ("node", "nodejs")
        assert do_eval("$(inputs.n * 2)", {"n": 21}, requirements, None, None, {}) == 42
        assert do_eval(
            "${ return [1, 2].map(function (x) { return x + inputs.n; }); }", {"n": 1}, requirements, None, None, {}
        ) == [2, 3]
        processes = list(engine.processes_to_kill)
        assert len(processes) == 1
    assert sandboxjs.get_js_engine() is not engine
    assert all(process.poll() is not None for process in processes)


def test_without_node_expressions_fail_clearly() -> None:
    engine = HostNodeEngine(None)
    with pytest.raises(JavascriptException, match=r"needs Node\.js"):
        engine.new_js_proc("1")


def test_close_stops_node(tmp_path: Path) -> None:
    fake_node = tmp_path / "node"
    fake_node.write_text("#!/bin/sh\nexec sleep 30\n")
    fake_node.chmod(0o755)
    engine = HostNodeEngine(str(fake_node))
    process = engine.new_js_proc("ignored")
    assert isinstance(process, subprocess.Popen) and process.poll() is None
    engine.close()
    assert process.poll() is not None and not engine.processes_to_kill
