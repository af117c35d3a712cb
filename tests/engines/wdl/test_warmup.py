"""The fork-server warm-up: every WDL version's warm-up document loads, and preload leaves lookups warm."""

import importlib.metadata
from pathlib import Path

import pytest
import WDL
from WDL import _grammar
from WDL.runtime import config

from omicsd.engines.wdl import _config, _warmup
from omicsd.engines.wdl._config import memoized_plugin_lookups, miniwdl_config


@pytest.mark.parametrize("version", list(_grammar.versions))
def test_each_versions_warm_up_document_loads_cleanly(tmp_path: Path, version: str) -> None:
    # a document that no longer loads (new miniwdl syntax rules) would warm nothing past its first error
    path = tmp_path / "warm.wdl"
    path.write_text(_warmup.document(version))
    doc = WDL.load(str(path))
    assert doc.workflow is not None and doc.workflow.name == "warm"
    assert sorted(task.name for task in doc.tasks) == ["brace", "t"]
    calls = [node for node in doc.workflow.body if isinstance(node, WDL.Tree.Scatter | WDL.Tree.Conditional)]
    assert len(calls) == 2


def test_warm_up_leaves_plugin_lookups_answered_from_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_config, "_PLUGINS", {})
    _warmup.warm()
    assert {group for group, _, _ in _config._PLUGINS} == set(config.default_plugins())

    def no_scan(**_: object) -> None:
        raise AssertionError("entry points scanned again")

    monkeypatch.setattr(importlib.metadata, "entry_points", no_scan)
    with memoized_plugin_lookups():
        backends = dict(config.load_plugins(miniwdl_config(tmp_path, task_concurrency=1), "container_backend"))
    assert "omicsd_local" in backends
