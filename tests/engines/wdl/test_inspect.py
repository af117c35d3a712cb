from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from omicsd.engines.wdl.inspect import WDL_ENGINE, WDL_LENIENT_ENGINE
from omicsd.errors import DefinitionError


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _error(root: Path, main: str = "main.wdl") -> str:
    with pytest.raises(DefinitionError) as caught:
        WDL_ENGINE.inspect(root, main)
    return caught.value.message


# -- templates ---------------------------------------------------------------------------------------------


def test_multi_file_workflow_with_imports_and_struct(workflows: Path) -> None:
    result = WDL_ENGINE.inspect(workflows / "wdl/align_multi", "main.wdl")
    assert result.parameter_template == {
        "samples": {"description": "Samples to align: name plus a reads file each", "optional": False},
        "reference": {"description": "Reference FASTA", "optional": False},
        "run_label": {"description": "Label written into the summary", "optional": True},
        "threads": {"description": "", "optional": True},
        "verbose": {"description": "", "optional": True},
    }
    assert (result.engine, result.main, result.language_version) == ("WDL", "main.wdl", "1.0")
    assert result.warnings == ()
    assert (result.profiles, result.profile_parameter_templates) == ((), {})


def test_wdl_1_1(workflows: Path) -> None:
    result = WDL_ENGINE.inspect(workflows / "wdl/hello_v11", "hello.wdl")
    assert result.language_version == "1.1"
    assert result.parameter_template == {
        "name": {"description": "Who to greet", "optional": False},
        "greeting": {"description": "Greeting word", "optional": True},
        "repeat": {"description": "", "optional": True},
        "extra_note": {"description": "", "optional": True},
    }


def test_scatter_workflow_has_no_call_inputs(workflows: Path) -> None:
    template = WDL_ENGINE.inspect(workflows / "wdl/scatter_count", "main.wdl").parameter_template
    assert template == {
        "words": {"description": "", "optional": False},
        "copies": {"description": "", "optional": True},
    }


def test_task_only_document_uses_the_task_inputs(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "main.wdl": """version 1.1
task count_words {
  input {
    File text
    String? label
    Int min = 0
  }
  parameter_meta { text: {help: "Text to count"} }
  command <<< wc -w < ~{text} >>>
  output { Int words = read_int(stdout()) }
}
"""
        },
    )
    result = WDL_ENGINE.inspect(root, "main.wdl")
    assert result.parameter_template == {
        "text": {"description": "Text to count", "optional": False},
        "label": {"description": "", "optional": True},
        "min": {"description": "", "optional": True},
    }


def test_several_tasks_without_a_workflow(tmp_path: Path) -> None:
    task = "task {} {{ command <<< echo >>> }}\n"
    _write(tmp_path, {"main.wdl": "version 1.0\n" + task.format("a") + task.format("b")})
    assert _error(tmp_path) == "main.wdl: the WDL document has no workflow and several tasks (a, b)"


def test_parameter_meta_forms(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.wdl": """version 1.0
workflow w {
  input {
    String a
    String b
    String c
    String d
    String e
  }
  parameter_meta {
    a: "plain"
    b: {description: "described", help: "ignored"}
    c: {help: "helpful"}
    d: {patterns: ["*.txt"]}
    e: 3
  }
}
"""
        },
    )
    template = WDL_ENGINE.inspect(tmp_path, "main.wdl").parameter_template
    assert {name: entry["description"] for name, entry in template.items()} == {
        "a": "plain",
        "b": "described",
        "c": "helpful",
        "d": "",
        "e": "",
    }


def test_draft_2_is_assumed_with_a_warning(tmp_path: Path) -> None:
    _write(tmp_path, {"main.wdl": 'workflow w {\n  Int n\n  String s = "x"\n  Int? m\n}\n'})
    result = WDL_ENGINE.inspect(tmp_path, "main.wdl")
    assert result.language_version == "draft-2"
    assert result.warnings == ("The WDL document has no version statement; draft-2 assumed",)
    assert result.parameter_template == {
        "n": {"description": "", "optional": False},
        "s": {"description": "", "optional": True},
        "m": {"description": "", "optional": True},
    }


def test_no_inputs_warns(tmp_path: Path) -> None:
    _write(tmp_path, {"main.wdl": "version 1.0\nworkflow w {\n  output { Int n = 1 }\n}\n"})
    result = WDL_ENGINE.inspect(tmp_path, "main.wdl")
    assert result.parameter_template == {}
    assert result.warnings == ("no input parameters found",)


def test_inspect_inside_a_running_event_loop(workflows: Path) -> None:
    async def call() -> int:
        return len(WDL_ENGINE.inspect(workflows / "wdl/scatter_count", "main.wdl").parameter_template)

    assert asyncio.run(call()) == 2


# -- errors ------------------------------------------------------------------------------------------------


def test_type_error_has_a_position(workflows: Path) -> None:
    assert _error(workflows / "wdl/broken_type") == "main.wdl:6:21 Expected Int instead of Array[Int]+"


def test_unknown_type(tmp_path: Path) -> None:
    _write(tmp_path, {"main.wdl": "version 1.0\nworkflow w {\n  input {\n    Strin x\n  }\n}\n"})
    assert _error(tmp_path) == "main.wdl:4:5 Unknown type Strin"


def test_syntax_error(tmp_path: Path) -> None:
    _write(tmp_path, {"main.wdl": "version 1.0\nworkflow w {\n  input {\n    String x =\n  }\n}\n"})
    message = _error(tmp_path)
    assert message.startswith("main.wdl:5:3 Unexpected token")
    assert "Expected one of:" in message and "\n" not in message


def test_import_not_found(tmp_path: Path) -> None:
    _write(tmp_path, {"main.wdl": 'version 1.0\nimport "tasks/nope.wdl" as t\nworkflow w {}\n'})
    assert _error(tmp_path) == "main.wdl:2:1 Failed to import tasks/nope.wdl: file not found: tasks/nope.wdl"


def test_error_inside_an_imported_file(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.wdl": 'version 1.0\nimport "tasks/bad.wdl" as t\nworkflow w { call t.x }\n',
            "tasks/bad.wdl": "version 1.0\ntask x {\n  command { echo ~{y} }\n}\n",
        },
    )
    assert _error(tmp_path) == ("main.wdl:2:1 Failed to import tasks/bad.wdl: tasks/bad.wdl:3:20 Unknown identifier y")


def test_several_errors_are_joined(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {"main.wdl": "version 1.0\nworkflow w {\n  input { Int a = 1\n  Int b = c }\n  Int d = e\n}\n"},
    )
    assert _error(tmp_path) == "main.wdl:4:11 Unknown identifier c; main.wdl:5:11 Unknown identifier e"


def test_network_imports_are_refused(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {"main.wdl": 'version 1.0\nimport "https://example.com/tasks.wdl" as t\nworkflow w {}\n'},
    )
    message = _error(tmp_path)
    assert message.startswith("main.wdl:2:1 Failed to import https://example.com/tasks.wdl")
    assert "not supported" in message


def test_imports_cannot_leave_the_archive(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "outside.wdl": "version 1.0\ntask t { command <<< echo >>> }\n",
            "root/main.wdl": 'version 1.0\nimport "../outside.wdl" as o\nworkflow w {}\n',
        },
    )
    assert "outside the workflow definition archive" in _error(tmp_path / "root")


def test_lenient_relaxes_optional_checks(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.wdl": """version 1.0
workflow w {
  input { String? maybe }
  call t { input: s = maybe }
}
task t {
  input { String s }
  command <<< echo ~{s} >>>
}
"""
        },
    )
    assert "Expected String instead of String?" in _error(tmp_path)
    result = WDL_LENIENT_ENGINE.inspect(tmp_path, "main.wdl")
    assert result.engine == "WDL_LENIENT"
    assert result.parameter_template == {"maybe": {"description": "", "optional": True}}
