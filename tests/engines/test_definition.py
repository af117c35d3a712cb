from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from omicsd.engines import definition, registry
from omicsd.engines.base import Inspection
from omicsd.engines.definition import inspect_definition, unpack_definition
from omicsd.errors import DefinitionError
from omicsd.plugins import PluginTable

ZipFiles = Callable[..., bytes]

HELLO_WDL = """version 1.0
workflow hello {
  input {
    String name
    Int times = 1
  }
  call say { input: name = name }
}
task say {
  input { String name }
  command <<< echo "hi ~{name}" >>>
  output { String out = read_string(stdout()) }
}
"""

TOOL_CWL = """cwlVersion: v1.2
class: CommandLineTool
baseCommand: echo
inputs:
  message:
    type: string
    inputBinding: {position: 1}
outputs: []
"""

MAIN_NF = """params.outdir = 'out'
workflow { println params.outdir }
"""


# -- archives ----------------------------------------------------------------------------------------------


def test_bare_wdl_is_not_a_zip() -> None:
    with pytest.raises(DefinitionError, match=r"^Invalid zip file$"):
        inspect_definition(HELLO_WDL.encode())


def test_truncated_zip_is_invalid(zip_files: ZipFiles) -> None:
    archive = zip_files({"main.wdl": HELLO_WDL})
    with pytest.raises(DefinitionError, match="Invalid zip file"):
        inspect_definition(archive[: len(archive) // 2])


def test_archive_size_limit(zip_files: ZipFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = zip_files({"main.wdl": HELLO_WDL})
    monkeypatch.setattr(definition, "MAX_ARCHIVE_BYTES", len(archive) - 1)
    with pytest.raises(DefinitionError, match="limit"):
        inspect_definition(archive)


def test_unpacked_size_limit(zip_files: ZipFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(definition, "MAX_UNPACKED_BYTES", 1000)
    archive = zip_files({"main.wdl": HELLO_WDL, "data/big.txt": "x" * 2000})
    with pytest.raises(DefinitionError, match="1 GiB"):
        unpack_definition(archive, tmp_path)


@pytest.mark.parametrize(
    "name",
    ["/etc/evil.wdl", "../evil.wdl", "tasks/../../evil.wdl", "..\\evil.wdl", "C:/evil.wdl"],
)
def test_unsafe_paths_are_rejected(zip_files: ZipFiles, tmp_path: Path, name: str) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    archive = zip_files({"main.wdl": HELLO_WDL, name: "workflow evil {}"})
    with pytest.raises(DefinitionError, match="Unsafe path"):
        unpack_definition(archive, dest)
    assert not (tmp_path / "evil.wdl").exists()


def test_symlinks_are_rejected(zip_files: ZipFiles, tmp_path: Path) -> None:
    archive = zip_files({"main.wdl": HELLO_WDL}, links={"tasks.wdl": "/etc/passwd"})
    with pytest.raises(DefinitionError, match="Symbolic links"):
        unpack_definition(archive, tmp_path)


def test_empty_archive_is_rejected(zip_files: ZipFiles, tmp_path: Path) -> None:
    archive = zip_files({"__MACOSX/._main.wdl": "junk"}, directories=("pipeline",))
    with pytest.raises(DefinitionError, match="no files"):
        unpack_definition(archive, tmp_path)


def test_file_and_folder_clash_is_rejected(zip_files: ZipFiles, tmp_path: Path) -> None:
    archive = zip_files({"tasks": "x", "tasks/a.wdl": "y"})
    with pytest.raises(DefinitionError, match="both a file and a folder"):
        unpack_definition(archive, tmp_path)


def test_unpack_skips_junk_and_directories(zip_files: ZipFiles, tmp_path: Path) -> None:
    archive = zip_files(
        {
            "main.wdl": HELLO_WDL,
            "tasks/align.wdl": "version 1.0\n",
            ".DS_Store": "junk",
            "tasks/.DS_Store": "junk",
            "__MACOSX/._main.wdl": "junk",
            "._main.wdl": "junk",
        },
        directories=("tasks", "empty"),
    )
    files = unpack_definition(archive, tmp_path)
    assert files == ["main.wdl", "tasks/align.wdl"]
    assert (tmp_path / "main.wdl").read_text() == HELLO_WDL
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "main.wdl",
        "tasks",
        "tasks/align.wdl",
    ]


def test_unpack_strips_a_wrapping_folder_and_keeps_exec_bits(zip_files: ZipFiles, tmp_path: Path) -> None:
    archive = zip_files(
        {"pipeline/main.nf": MAIN_NF, "pipeline/bin/tool.sh": "#!/bin/sh\necho hi\n"},
        directories=("pipeline", "pipeline/bin"),
        modes={"pipeline/bin/tool.sh": 0o755},
    )
    files = unpack_definition(archive, tmp_path)
    assert files == ["bin/tool.sh", "main.nf"]
    assert os.access(tmp_path / "bin/tool.sh", os.X_OK)
    assert not os.access(tmp_path / "main.nf", os.X_OK)


# -- engine detection --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "engine", "main"),
    [
        ({"hello.wdl": HELLO_WDL}, "WDL", "hello.wdl"),
        ({"tool.cwl": TOOL_CWL}, "CWL", "tool.cwl"),
        ({"tool.yml": TOOL_CWL, "inputs.yml": "message: hi\n"}, "CWL", "tool.yml"),
        ({"pipeline.nf": MAIN_NF}, "NEXTFLOW", "pipeline.nf"),
        ({"main.nf": MAIN_NF, "nextflow.config": "params.x = 1\n"}, "NEXTFLOW", "main.nf"),
    ],
)
def test_engine_and_main_are_detected(zip_files: ZipFiles, files: dict[str, str], engine: str, main: str) -> None:
    result = inspect_definition(zip_files(files))
    assert (result.engine, result.main) == (engine, main)


def test_json_with_top_level_cwl_version_is_cwl(zip_files: ZipFiles, workflows: Path) -> None:
    packed = (workflows / "cwl/packed/packed.cwl").read_text()
    result = inspect_definition(zip_files({"workflow.json": packed, "params.json": '{"text_file": 1}'}))
    assert (result.engine, result.main) == ("CWL", "workflow.json")
    assert "text_file" in result.parameter_template


def test_several_engines_need_an_engine(zip_files: ZipFiles) -> None:
    archive = zip_files({"hello.wdl": HELLO_WDL, "tool.cwl": TOOL_CWL})
    with pytest.raises(DefinitionError, match="more than one engine") as caught:
        inspect_definition(archive)
    assert "specify engine" in caught.value.message
    assert "hello.wdl" in caught.value.message and "tool.cwl" in caught.value.message


def test_nextflow_config_counts_for_ambiguity(zip_files: ZipFiles) -> None:
    archive = zip_files({"hello.wdl": HELLO_WDL, "nextflow.config": "params.x = 1\n"})
    with pytest.raises(DefinitionError, match="more than one engine"):
        inspect_definition(archive)


def test_given_engine_resolves_ambiguity(zip_files: ZipFiles) -> None:
    archive = zip_files({"hello.wdl": HELLO_WDL, "tool.cwl": TOOL_CWL})
    assert inspect_definition(archive, engine="CWL").main == "tool.cwl"
    assert inspect_definition(archive, engine="wdl").engine == "WDL"


def test_given_main_decides_the_engine(zip_files: ZipFiles) -> None:
    archive = zip_files({"hello.wdl": HELLO_WDL, "tool.cwl": TOOL_CWL})
    assert inspect_definition(archive, main="tool.cwl").engine == "CWL"


def test_no_definition_file(zip_files: ZipFiles) -> None:
    archive = zip_files({"README.md": "# hi", "inputs.json": "{}", "tasks/x.wdl": HELLO_WDL})
    with pytest.raises(DefinitionError, match="No workflow definition file") as caught:
        inspect_definition(archive)
    assert "README.md" in caught.value.message


def test_wdl_lenient_is_never_detected_but_honoured(zip_files: ZipFiles) -> None:
    archive = zip_files({"hello.wdl": HELLO_WDL})
    assert inspect_definition(archive).engine == "WDL"
    lenient = inspect_definition(archive, engine="WDL_LENIENT")
    assert (lenient.engine, lenient.main) == ("WDL_LENIENT", "hello.wdl")
    assert lenient.parameter_template == inspect_definition(archive).parameter_template


def test_engine_must_agree_with_main(zip_files: ZipFiles) -> None:
    archive = zip_files({"hello.wdl": HELLO_WDL, "tool.cwl": TOOL_CWL})
    with pytest.raises(DefinitionError, match="is a CWL definition, not WDL"):
        inspect_definition(archive, engine="WDL", main="tool.cwl")


def test_unknown_engine(zip_files: ZipFiles) -> None:
    with pytest.raises(DefinitionError, match="Unknown workflow engine 'SNAKEMAKE'"):
        inspect_definition(zip_files({"hello.wdl": HELLO_WDL}), engine="SNAKEMAKE", main="hello.wdl")


# -- main selection ----------------------------------------------------------------------------------------


def test_single_top_level_file_is_main_whatever_its_name(zip_files: ZipFiles) -> None:
    archive = zip_files({"pipeline.wdl": HELLO_WDL, "tasks/other.wdl": "version 1.0\n"})
    assert inspect_definition(archive).main == "pipeline.wdl"


def test_main_named_file_wins_among_several(zip_files: ZipFiles) -> None:
    tasks = "version 1.0\ntask t { command <<< echo >>> }\n"
    archive = zip_files({"main.wdl": HELLO_WDL, "tasks.wdl": tasks, "other.wdl": tasks})
    assert inspect_definition(archive).main == "main.wdl"


def test_several_candidates_without_main(zip_files: ZipFiles) -> None:
    archive = zip_files({"a.wdl": HELLO_WDL, "b.wdl": HELLO_WDL})
    with pytest.raises(DefinitionError, match=r"Cannot choose the main WDL file among a\.wdl, b\.wdl"):
        inspect_definition(archive)


def test_explicit_main_in_a_subfolder(zip_files: ZipFiles) -> None:
    archive = zip_files({"a.wdl": HELLO_WDL, "b.wdl": HELLO_WDL, "workflows/run.wdl": HELLO_WDL})
    result = inspect_definition(archive, main="./workflows/run.wdl")
    assert (result.engine, result.main) == ("WDL", "workflows/run.wdl")


def test_missing_main_is_named(zip_files: ZipFiles) -> None:
    archive = zip_files({"hello.wdl": HELLO_WDL})
    with pytest.raises(DefinitionError, match=r"'workflow\.wdl' is not in the archive") as caught:
        inspect_definition(archive, main="workflow.wdl")
    assert "hello.wdl" in caught.value.message


def test_nextflow_config_alone_needs_a_script(zip_files: ZipFiles) -> None:
    archive = zip_files({"nextflow.config": "params.x = 1\n", "workflows/run.nf": MAIN_NF})
    with pytest.raises(DefinitionError, match=r"No NEXTFLOW definition file \(\.nf\).*specify main"):
        inspect_definition(archive)
    assert inspect_definition(archive, main="workflows/run.nf").engine == "NEXTFLOW"


def test_folder_wrapped_zip(zip_folder: Callable[..., bytes]) -> None:
    archive = zip_folder("wdl/align_multi", prefix="align_multi/")
    result = inspect_definition(archive)
    assert (result.engine, result.main) == ("WDL", "main.wdl")
    assert inspect_definition(archive, main="align_multi/main.wdl").main == "main.wdl"
    assert inspect_definition(archive, main="main.wdl").main == "main.wdl"


# -- results -----------------------------------------------------------------------------------------------


def test_sample_workflows_inspect(zip_folder: Callable[..., bytes]) -> None:
    cases = {
        "wdl/align_multi": ("WDL", "main.wdl", "samples"),
        "wdl/hello_v11": ("WDL", "hello.wdl", "name"),
        "wdl/scatter_count": ("WDL", "main.wdl", "words"),
        "cwl/two_step": ("CWL", "main.cwl", "text_file"),
        "cwl/wc_tool": ("CWL", "wc.cwl", "input_file"),
        "cwl/packed": ("CWL", "packed.cwl", "text_file"),
        "nextflow/schema_pipeline": ("NEXTFLOW", "main.nf", "input"),
        "nextflow/params_profiles": ("NEXTFLOW", "main.nf", "names"),
    }
    for folder, (engine, main, required) in cases.items():
        result = inspect_definition(zip_folder(folder))
        assert (result.engine, result.main) == (engine, main), folder
        assert result.parameter_template[required] == {
            "description": result.parameter_template[required]["description"],
            "optional": False,
        }, folder


def test_broken_definition_reports_the_parser_message(zip_folder: Callable[..., bytes]) -> None:
    with pytest.raises(DefinitionError, match=r"^main\.wdl:6:21 Expected Int instead of Array\[Int\]"):
        inspect_definition(zip_folder("wdl/broken_type"))


def test_long_descriptions_are_clipped(zip_files: ZipFiles) -> None:
    text = HELLO_WDL.replace("  call say", f'  parameter_meta {{ name: "{"d" * 400}" }}\n  call say')
    description = inspect_definition(zip_files({"main.wdl": text})).parameter_template["name"]["description"]
    assert len(description) == 256
    assert description.startswith("ddd")


def test_plugin_engine_via_registry(zip_files: ZipFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    class Snake:
        name = "SNAKEMAKE"

        def inspect(self, root: Path, main: str) -> Inspection:
            assert (root / main).read_text() == "rule all:\n"
            return Inspection(engine="x", main="y", parameter_template={"cores": {"description": "", "optional": True}})

    fresh = PluginTable(registry.GROUP, registry._BUILTINS, kind="workflow engine", check=registry._TABLE._check)
    monkeypatch.setattr(registry, "_TABLE", fresh)
    registry.register_engine(Snake())
    archive = zip_files({"Snakefile": "rule all:\n"})
    result = inspect_definition(archive, engine="SNAKEMAKE", main="Snakefile")
    assert (result.engine, result.main) == ("SNAKEMAKE", "Snakefile")
    assert result.parameter_template == {"cores": {"description": "", "optional": True}}
    with pytest.raises(DefinitionError, match="specify main"):
        inspect_definition(archive, engine="SNAKEMAKE")


def test_three_hundred_inputs(zip_files: ZipFiles) -> None:
    decls = "\n".join(
        f"    {'Int' if i % 3 else 'String'}{'?' if i % 5 == 0 else ''} p{i}{' = 1' if i % 3 == 1 else ''}"
        for i in range(300)
    )
    text = f"version 1.0\nworkflow many {{\n  input {{\n{decls}\n  }}\n}}\n"
    template = inspect_definition(zip_files({"main.wdl": text})).parameter_template
    assert len(template) == 300
    assert list(template)[:3] == ["p0", "p1", "p2"]
    assert template["p0"]["optional"] is True  # String?
    assert template["p1"]["optional"] is True  # default
    assert template["p2"]["optional"] is False
    assert sum(not entry["optional"] for entry in template.values()) == len(
        [i for i in range(300) if i % 5 != 0 and i % 3 != 1]
    )
