from __future__ import annotations

import json
from pathlib import Path

import pytest

from omicsd.engines.nextflow._groovy import tokenize
from omicsd.engines.nextflow.inspect import NEXTFLOW_ENGINE
from omicsd.errors import DefinitionError


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _optional(template: dict[str, dict[str, object]]) -> dict[str, object]:
    return {name: entry["optional"] for name, entry in template.items()}


def _error(root: Path, main: str = "main.nf") -> str:
    with pytest.raises(DefinitionError) as caught:
        NEXTFLOW_ENGINE.inspect(root, main)
    return caught.value.message


# -- nextflow_schema.json ----------------------------------------------------------------------------------


def test_schema_pipeline(workflows: Path) -> None:
    result = NEXTFLOW_ENGINE.inspect(workflows / "nextflow/schema_pipeline", "main.nf")
    assert result.parameter_template == {
        "input": {"description": "Sample sheet (CSV with columns sample,reads)", "optional": False},
        "outdir": {"description": "Where results are published", "optional": True},
        "min_length": {"description": "Only count reads at least this long", "optional": True},
        "publish_mode": {"description": "", "optional": True},
    }
    assert (result.engine, result.language_version, result.engine_version) == ("NEXTFLOW", "DSL2", "!>=23.10.0")
    assert (result.profiles, result.profile_parameter_templates, result.warnings) == ((), {}, ())


def test_schema_defs_and_top_level_properties(tmp_path: Path) -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "properties": {"genome": {"type": "string", "description": "Genome key"}},
        "required": ["genome"],
        "$defs": {
            "io": {
                "required": ["reads", "outdir"],
                "properties": {
                    "reads": {"type": "string"},
                    "outdir": {"type": "string", "default": "results"},
                },
            }
        },
    }
    _write(
        tmp_path,
        {
            "main.nf": "workflow { println params.reads }\n",
            "nextflow.config": "params.unlisted = 1\n",
            "nextflow_schema.json": json.dumps(schema),
        },
    )
    template = NEXTFLOW_ENGINE.inspect(tmp_path, "main.nf").parameter_template
    assert _optional(template) == {"genome": False, "reads": False, "outdir": True}
    assert template["genome"]["description"] == "Genome key"


def test_schema_must_be_a_json_object(tmp_path: Path) -> None:
    _write(tmp_path, {"main.nf": "workflow {}\n", "nextflow_schema.json": "{not json"})
    assert _error(tmp_path).startswith("nextflow_schema.json: not valid JSON")
    _write(tmp_path, {"nextflow_schema.json": "[1, 2]"})
    assert _error(tmp_path) == "nextflow_schema.json: expected a JSON object"


# -- params and profiles -----------------------------------------------------------------------------------


def test_params_and_profiles(workflows: Path) -> None:
    result = NEXTFLOW_ENGINE.inspect(workflows / "nextflow/params_profiles", "main.nf")
    assert _optional(result.parameter_template) == {
        "outdir": True,
        "max_cpus": True,
        "greeting": True,
        "repeat": True,
        "names": False,
        "sample_label": True,
    }
    assert result.profiles == ("standard", "test", "big")
    templates = result.profile_parameter_templates
    assert templates["standard"] == result.parameter_template
    assert _optional(templates["test"])["names"] is True  # set by conf/test.config through includeConfig
    assert _optional(templates["big"]) == {**_optional(result.parameter_template), "chunk_size": True}
    assert result.engine_version == ">=24.10.0"
    assert result.warnings == ()


def test_config_forms(tmp_path: Path) -> None:
    config = """
// comment with a brace {
params {
    alpha = 1            /* block comment } */
    beta  = "text with } brace"
    nested { inner = true }
    gamma = [
        'a',
        'b'
    ]
}
params.delta = { -> 2 }
process {
    withName: 'ALIGN' { cpus = 4 }
    withLabel:big { params.not_a_param = 1 }
}
if (System.getenv('X')) { params.conditional = 1 }
manifest.nextflowVersion = '24.10.8'
profiles {
    empty {}
    dotted { params.epsilon = 'e' }
}
"""
    _write(tmp_path, {"main.nf": "workflow { println params.alpha }\n", "nextflow.config": config})
    result = NEXTFLOW_ENGINE.inspect(tmp_path, "main.nf")
    assert list(result.parameter_template) == ["alpha", "beta", "nested", "gamma", "delta"]
    assert all(entry["optional"] for entry in result.parameter_template.values())
    assert result.profiles == ("empty", "dotted")
    assert result.profile_parameter_templates["dotted"]["epsilon"] == {"description": "", "optional": True}
    assert result.engine_version == "24.10.8"


def test_script_reads_and_assignments(tmp_path: Path) -> None:
    script = """#!/usr/bin/env nextflow
params.a = 1
params.b = params.a + 1
def x = params.c
if (params.d == 2) { println "${params.e}/out" }
y = params.f ?: 'fallback'
z = 'params.g is not read in a plain string'
process P {
    shell:
    '''
    echo !{params.h}
    '''
}
workflow { foo.params.i }
"""
    _write(tmp_path, {"main.nf": script})
    template = NEXTFLOW_ENGINE.inspect(tmp_path, "main.nf").parameter_template
    assert _optional(template) == {
        "a": True,
        "b": True,
        "c": False,
        "d": False,
        "e": False,
        "f": True,
        "h": False,
    }


def test_config_defaults_make_script_reads_optional(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.nf": "workflow { println params.reads; println params.outdir }\n",
            "nextflow.config": "params.outdir = 'o'\n",
        },
    )
    template = NEXTFLOW_ENGINE.inspect(tmp_path, "main.nf").parameter_template
    assert _optional(template) == {"outdir": True, "reads": False}


def test_config_beside_a_nested_main(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {"pipeline/run.nf": "workflow {}\n", "pipeline/nextflow.config": "params.x = 1\nprofiles { p {} }\n"},
    )
    result = NEXTFLOW_ENGINE.inspect(tmp_path, "pipeline/run.nf")
    assert list(result.parameter_template) == ["x"]
    assert result.profiles == ("p",)


def test_missing_include_is_a_warning(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {"main.nf": "params.a = 1\n", "nextflow.config": "includeConfig 'conf/missing.config'\nparams.b = 2\n"},
    )
    result = NEXTFLOW_ENGINE.inspect(tmp_path, "main.nf")
    assert list(result.parameter_template) == ["b", "a"]
    assert result.warnings == ("includeConfig 'conf/missing.config' not found in the archive; ignored",)


def test_include_loop(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.nf": "",
            "nextflow.config": "includeConfig 'a.config'\n",
            "a.config": "includeConfig 'nextflow.config'\n",
        },
    )
    assert "includeConfig loop" in _error(tmp_path)


def test_no_params_and_dsl1(tmp_path: Path) -> None:
    _write(tmp_path, {"main.nf": "nextflow.enable.dsl = 1\nprocess P { script: 'echo hi' }\n"})
    result = NEXTFLOW_ENGINE.inspect(tmp_path, "main.nf")
    assert result.parameter_template == {}
    assert result.language_version == "DSL1"
    assert "no input parameters found" in result.warnings
    assert any("DSL1" in warning for warning in result.warnings)


# -- syntax problems ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"main.nf": "workflow {\n  foo()\n"}, "main.nf:1: '{' is never closed"),
        ({"main.nf": "workflow {\n}\n}\n"}, "main.nf:3: unexpected '}'"),
        ({"main.nf": "workflow {\n  foo(]\n}\n"}, "main.nf:2: ']' does not close '(' opened on line 2"),
        ({"main.nf": "x = 'abc\nworkflow {}\n"}, "main.nf:1: unterminated string"),
        ({"main.nf": "/* never closed\n"}, "main.nf:1: unterminated comment"),
        (
            {"main.nf": "workflow {}\n", "nextflow.config": "params {\n  a = 1\n"},
            "nextflow.config:1: '{' is never closed",
        ),
        (
            {"main.nf": "", "nextflow.config": "includeConfig 'conf/b.config'\n", "conf/b.config": "}\n"},
            "conf/b.config:1: unexpected '}'",
        ),
    ],
)
def test_syntax_errors(tmp_path: Path, files: dict[str, str], message: str) -> None:
    _write(tmp_path, files)
    assert _error(tmp_path) == message


def test_brackets_inside_strings_regexes_and_comments_do_not_count() -> None:
    text = """def a = "{ ${x} "
def b = '''
  }}}
'''
def c = ~/^[a-z]{2}\\/x$/
def d = 10 / 2 / 1 // trailing }
"""
    kinds = [(token.kind, token.text) for token in tokenize(text, "x.nf") if token.kind != "nl"]
    assert ("gstring", "{ ${x} ") in kinds
    assert ("regex", "^[a-z]{2}\\/x$") in kinds
    assert [text for kind, text in kinds if kind == "op" and text in "{}()[]"] == []
    assert kinds.count(("op", "/")) == 2
