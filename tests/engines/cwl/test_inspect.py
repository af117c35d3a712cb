from __future__ import annotations

from pathlib import Path

import pytest

from omicsd.engines.cwl.inspect import CWL_ENGINE
from omicsd.errors import DefinitionError

TWO_STEP_TEMPLATE = {
    "min_lines": {"description": "Minimum number of lines expected", "optional": True},
    "sample_id": {"description": "Sample identifier", "optional": True},
    "tags": {"description": "", "optional": True},
    "text_file": {"description": "Input text", "optional": False},
}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _error(root: Path, main: str) -> str:
    with pytest.raises(DefinitionError) as caught:
        CWL_ENGINE.inspect(root, main)
    message = caught.value.message
    assert str(root.resolve()) not in message
    return message


def test_command_line_tool(workflows: Path) -> None:
    result = CWL_ENGINE.inspect(workflows / "cwl/wc_tool", "wc.cwl")
    assert result.parameter_template == {
        "extra_args": {"description": "", "optional": True},
        "input_file": {"description": "Text file to count", "optional": False},
        "lines_only": {"description": "Count lines only", "optional": True},
        "report_name": {"description": "Name of the report file", "optional": True},
    }
    assert (result.engine, result.main, result.language_version, result.warnings) == (
        "CWL",
        "wc.cwl",
        "v1.2",
        (),
    )


def test_workflow_with_tool_files(workflows: Path) -> None:
    result = CWL_ENGINE.inspect(workflows / "cwl/two_step", "main.cwl")
    assert result.parameter_template == TWO_STEP_TEMPLATE


def test_packed_graph_uses_main(workflows: Path) -> None:
    result = CWL_ENGINE.inspect(workflows / "cwl/packed", "packed.cwl")
    assert result.parameter_template == TWO_STEP_TEMPLATE
    assert result.language_version == "v1.2"


def test_types_defaults_and_descriptions(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "tool.cwl": """cwlVersion: v1.0
class: ExpressionTool
requirements:
  InlineJavascriptRequirement: {}
inputs:
  a: int
  b: int?
  c: ["null", File]
  d:
    type: string
    default: hello
  e:
    type: {type: array, items: string}
    doc: [first line, second line]
  f:
    type:
      type: record
      fields:
        x: int
  g:
    type: File?
    default: null
outputs:
  out: int
expression: "$({'out': inputs.a})"
"""
        },
    )
    result = CWL_ENGINE.inspect(tmp_path, "tool.cwl")
    assert {name: entry["optional"] for name, entry in result.parameter_template.items()} == {
        "a": False,
        "b": True,
        "c": True,
        "d": True,
        "e": False,
        "f": False,
        "g": True,
    }
    assert result.parameter_template["e"]["description"] == "first line\nsecond line"
    assert result.language_version == "v1.0"


def test_no_inputs_warns(tmp_path: Path) -> None:
    _write(
        tmp_path, {"t.cwl": "cwlVersion: v1.1\nclass: CommandLineTool\nbaseCommand: date\ninputs: []\noutputs: []\n"}
    )
    result = CWL_ENGINE.inspect(tmp_path, "t.cwl")
    assert (result.parameter_template, result.warnings, result.language_version) == (
        {},
        ("no input parameters found",),
        "v1.1",
    )


def test_unknown_type_reports_position(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "t.cwl": "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\n"
            "inputs:\n  x:\n    type: strin\noutputs: []\n"
        },
    )
    message = _error(tmp_path, "t.cwl")
    assert message.startswith("t.cwl:4:1: checking field 'inputs'")
    assert "t.cwl:6:5:" in message and "unknown identifier 'strin'" in message


def test_yaml_syntax_error(tmp_path: Path) -> None:
    _write(tmp_path, {"t.cwl": "cwlVersion: v1.2\nclass: CommandLineTool\ninputs:\n  x: string\n outputs: []\n"})
    message = _error(tmp_path, "t.cwl")
    assert "t.cwl:5:2:" in message and "expected <block end>" in message


def test_missing_step_file(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.cwl": """cwlVersion: v1.2
class: Workflow
inputs: {x: string}
outputs: []
steps:
  s:
    run: tools/nope.cwl
    in: {x: x}
    out: []
"""
        },
    )
    message = _error(tmp_path, "main.cwl")
    assert "main.cwl:7:5:" in message and "tools/nope.cwl" in message


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("https://example.com/tool.cwl", "Remote references are not supported"),
        ("../outside.cwl", "outside the workflow definition archive"),
    ],
)
def test_references_stay_inside_the_archive(tmp_path: Path, run: str, expected: str) -> None:
    tool = "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\ninputs: {x: string}\noutputs: []\n"
    _write(
        tmp_path,
        {
            "outside.cwl": tool,
            "root/main.cwl": f"""cwlVersion: v1.2
class: Workflow
inputs: {{x: string}}
outputs: []
steps:
  s:
    run: {run}
    in: {{x: x}}
    out: []
""",
        },
    )
    assert expected in _error(tmp_path / "root", "main.cwl")


def test_missing_cwl_version(tmp_path: Path) -> None:
    _write(tmp_path, {"t.cwl": "class: CommandLineTool\nbaseCommand: echo\ninputs: []\noutputs: []\n"})
    assert _error(tmp_path, "t.cwl").startswith("No cwlVersion found")


def test_operation_is_not_runnable(tmp_path: Path) -> None:
    _write(tmp_path, {"op.cwl": "cwlVersion: v1.2\nclass: Operation\ninputs: {x: string}\noutputs: {}\n"})
    assert "Operation" in _error(tmp_path, "op.cwl")


def test_graph_without_main(tmp_path: Path, workflows: Path) -> None:
    packed = (workflows / "cwl/packed/packed.cwl").read_text().replace('"#main', '"#pipeline')
    _write(tmp_path, {"packed.cwl": packed})
    message = _error(tmp_path, "packed.cwl")
    assert "must specify one of" in message and "#pipeline" in message
