import json

import pytest

from omicsd.engines.nextflow.settings import (
    EngineSettings,
    check_profiles,
    parse_engine_settings,
    parse_version_output,
    read_engine_settings,
)
from omicsd.engines.spec import spec_path
from omicsd.errors import ValidationError
from tests.engines.nextflow.nf_support import make_nf_run


@pytest.mark.parametrize(
    ("given", "full"),
    [
        ("22.04", "22.04.0"),
        ("22.04.0", "22.04.0"),
        ("23.10", "23.10.0"),
        ("24.10", "24.10.8"),
        ("24.10.8", "24.10.8"),
        ("25.10.0", "25.10.0"),
        ("26.04", "26.04.0"),
    ],
)
def test_supported_engine_versions_are_reported_in_full(given, full):
    assert parse_engine_settings({"engineVersion": given}).engine_version == full


@pytest.mark.parametrize("given", ["21.10", "24.10.3", "23.10.1", "24", "v24.10", "24.10.8-edge", "latest"])
def test_unsupported_engine_versions_fail_version_validation(given):
    with pytest.raises(ValidationError) as caught:
        parse_engine_settings({"engineVersion": given})
    assert caught.value.details["failure_reason"] == "WORKFLOW_VER_VALIDATION_FAILED"
    assert repr(given) in caught.value.message and "24.10.8" in caught.value.message


def test_profiles_syntax_and_other_keys():
    settings = parse_engine_settings(
        {"profile": " test, fast ,,", "syntaxVersion": "v2", "engineVersion": "26.04", "outputFormat": "json"}
    )
    assert settings == EngineSettings(engine_version="26.04.0", profiles=("test", "fast"), syntax_version="v2")
    assert parse_engine_settings(None) == EngineSettings()
    assert parse_engine_settings({"agentMode": "true", "somethingNew": 1}) == EngineSettings()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"profile": "ok,bad name"}, "invalid profile name: 'bad name'"),
        ({"profile": 3}, "engineSettings.profile must be a string"),
        ({"syntaxVersion": "v3"}, "syntaxVersion must be one of v1, v2"),
        ({"syntaxVersion": "v2", "engineVersion": "24.10"}, "needs engineVersion 26.04"),
        ({"outputFormat": "yaml"}, "outputFormat must be one of"),
        ({"agentMode": "maybe"}, "agentMode must be 'true' or 'false'"),
    ],
)
def test_malformed_settings_are_validation_errors(body, fragment):
    with pytest.raises(ValidationError, match=fragment):
        parse_engine_settings(body)
    with pytest.raises(ValidationError, match="must be an object"):
        parse_engine_settings(["profile"])  # type: ignore[arg-type]


def test_check_profiles_names_the_unknown_ones():
    check_profiles(["test"], ["test", "fast"])
    check_profiles([], [])
    with pytest.raises(ValidationError) as caught:
        check_profiles(["test", "nope"], ["test", "fast"])
    assert caught.value.message == "Nextflow profile 'nope' not defined by the workflow (declared profiles: test, fast)"
    with pytest.raises(ValidationError, match=r"profiles 'a', 'b' not defined .*declared profiles: none"):
        check_profiles(["a", "b"], [])


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("\n      N E X T F L O W\n      version 24.10.4 build 5934\n      created 20-01-2025 13:54 UTC\n", "24.10.4"),
        ("nextflow version 23.10.1.5891\n", "23.10.1"),
        ("      version 23.09.3-edge build 5889\n", "23.09.3"),
        ("CAPSULE: Downloading dependency ...\nERROR: Cannot download nextflow required file", None),
        ("", None),
    ],
)
def test_parse_version_output(text, version):
    assert parse_version_output(text) == version


def test_read_engine_settings_from_the_spec_file(tmp_path):
    run = make_nf_run(tmp_path, engine_settings={"profile": "test"})
    assert read_engine_settings(run.spec, run.run_dir) == {"profile": "test"}
    body = json.loads(spec_path(run.run_dir).read_text())
    body["engine_settings"] = "nonsense"
    spec_path(run.run_dir).write_text(json.dumps(body))
    assert read_engine_settings(run.spec, run.run_dir) is None
    assert read_engine_settings(run.spec, tmp_path / "nowhere") is None
