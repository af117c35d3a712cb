from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from omicsd import plugins
from omicsd.engines import registry
from omicsd.engines.base import Engine, Inspection
from omicsd.engines.cwl.inspect import CwlEngine
from omicsd.engines.nextflow.inspect import NextflowEngine
from omicsd.engines.wdl.inspect import WdlEngine
from omicsd.errors import InternalError, ValidationError
from omicsd.plugins import PluginTable


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget loaded engines and declarations for the duration of a test."""
    fresh = PluginTable(registry.GROUP, registry._BUILTINS, kind="workflow engine", check=registry._TABLE._check)
    monkeypatch.setattr(registry, "_TABLE", fresh)


def _plugins(monkeypatch: pytest.MonkeyPatch, *entries: EntryPoint) -> None:
    def fake(*, group: str) -> tuple[EntryPoint, ...]:
        assert group == "omicsd.engines"
        return entries

    monkeypatch.setattr(plugins, "entry_points", fake)


class FakeEngine:
    name = "FAKE"

    def inspect(self, root: Path, main: str) -> Inspection:
        return Inspection(engine=self.name, main=main, parameter_template={})


FAKE_ENGINE = FakeEngine()


def test_builtins_are_available(fresh_registry: None) -> None:
    assert {"WDL", "WDL_LENIENT", "CWL", "NEXTFLOW"} <= set(registry.engine_names())
    wdl = registry.get_engine("WDL")
    assert isinstance(wdl, WdlEngine) and wdl.name == "WDL" and not wdl.lenient
    lenient = registry.get_engine("WDL_LENIENT")
    assert isinstance(lenient, WdlEngine) and lenient.name == "WDL_LENIENT" and lenient.lenient
    assert isinstance(registry.get_engine("CWL"), CwlEngine)
    assert isinstance(registry.get_engine("NEXTFLOW"), NextflowEngine)
    assert all(isinstance(registry.get_engine(name), Engine) for name in ("WDL", "CWL", "NEXTFLOW"))


def test_same_object_and_case_insensitive(fresh_registry: None) -> None:
    assert registry.get_engine("wdl") is registry.get_engine("WDL")


def test_unknown_engine_lists_known_ones(fresh_registry: None) -> None:
    with pytest.raises(ValidationError, match="Unknown workflow engine 'SNAKEMAKE'") as caught:
        registry.get_engine("SNAKEMAKE")
    assert "CWL, NEXTFLOW, WDL, WDL_LENIENT" in caught.value.message


def test_entry_point_plugins_are_discovered(fresh_registry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _plugins(
        monkeypatch,
        EntryPoint(name="FAKE", value=f"{__name__}:FAKE_ENGINE", group="omicsd.engines"),
        EntryPoint(name="snake", value=f"{__name__}:FakeEngine", group="omicsd.engines"),
    )
    assert {"FAKE", "SNAKE", "WDL"} <= set(registry.engine_names())
    assert registry.get_engine("FAKE") is FAKE_ENGINE
    built = registry.get_engine("SNAKE")
    assert isinstance(built, FakeEngine) and built is not FAKE_ENGINE


def test_plugin_may_replace_a_builtin(fresh_registry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _plugins(monkeypatch, EntryPoint(name="NEXTFLOW", value=f"{__name__}:FAKE_ENGINE", group="omicsd.engines"))
    assert registry.get_engine("NEXTFLOW") is FAKE_ENGINE


def test_broken_plugins_are_reported(fresh_registry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _plugins(
        monkeypatch,
        EntryPoint(name="MISSING", value="omicsd_no_such_module:Engine", group="omicsd.engines"),
        EntryPoint(name="NOTANENGINE", value="os.path:sep", group="omicsd.engines"),
    )
    with pytest.raises(InternalError, match=r"MISSING .* cannot be loaded"):
        registry.get_engine("MISSING")
    with pytest.raises(InternalError, match="does not provide a workflow engine"):
        registry.get_engine("NOTANENGINE")


def test_register_engine(fresh_registry: None) -> None:
    registry.register_engine(FAKE_ENGINE, name="other")
    assert registry.get_engine("OTHER") is FAKE_ENGINE
    assert "OTHER" in registry.engine_names()


def test_engine_libraries_load_lazily() -> None:
    code = (
        "import sys\n"
        "from omicsd.engines import definition, registry\n"
        "assert 'WDL' not in sys.modules and 'cwltool' not in sys.modules, 'eager import'\n"
        "registry.get_engine('WDL'); registry.get_engine('CWL')\n"
        "assert 'WDL' not in sys.modules and 'cwltool' not in sys.modules, 'import on lookup'\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr
