"""The miniwdl configuration of a run: built in code, ignoring the environment, read once per option."""

import importlib.metadata
import logging
from pathlib import Path

import pytest
from WDL.runtime import config

from omicsd.engines.wdl._config import RunConfig, memoized_plugin_lookups, miniwdl_config, warm_plugin_lookups


def test_the_environment_and_config_files_do_not_change_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIWDL__SCHEDULER__TASK_CONCURRENCY", "99")
    monkeypatch.setenv("MINIWDL_CFG", str(tmp_path / "nope.cfg"))
    cfg = miniwdl_config(tmp_path, task_concurrency=3)
    assert cfg["scheduler"].get_int("task_concurrency") == 3
    assert cfg["scheduler"]["container_backend"] == "omicsd_local"
    assert cfg["file_io"].get_bool("copy_input_files") is False
    assert cfg["task_runtime"].get_dict("defaults") == {}
    # miniwdl's own call cache stays off: the run cache keys tasks itself, and _lean skips miniwdl's key
    assert cfg["call_cache"].get_bool("get") is False
    assert cfg["call_cache"].get_bool("put") is False


def test_remembered_options_read_as_miniwdl_reads_them(tmp_path: Path) -> None:
    cfg = miniwdl_config(tmp_path, task_concurrency=3)
    plain = config.Loader(logging.getLogger("test"), filenames=[], overrides={})
    plain.override({s: dict(v) for s, v in _overrides(cfg).items()})
    for _ in range(2):  # the second round is answered from memory
        assert cfg.get_all() == plain.get_all()
        assert cfg["plugins"].get_list("enable_patterns") == plain["plugins"].get_list("enable_patterns")


def test_missing_options_give_the_default_or_miniwdls_error(tmp_path: Path) -> None:
    cfg = miniwdl_config(tmp_path, task_concurrency=1)
    for _ in range(2):
        assert cfg.get("scheduler", "no_such_option", "fallback") == "fallback"
        assert cfg.has_option("scheduler", "no_such_option") is False
        with pytest.raises(config.ConfigMissing, match="missing config option"):
            cfg.get("scheduler", "no_such_option")
        with pytest.raises(config.ConfigMissing, match="missing config section"):
            cfg.get("no_such_section", "x")


def test_overrides_after_a_read_are_seen(tmp_path: Path) -> None:
    cfg = miniwdl_config(tmp_path, task_concurrency=1)
    assert cfg["scheduler"].get_int("task_concurrency") == 1
    cfg.override({"scheduler": {"task_concurrency": 5}})
    assert cfg["scheduler"].get_int("task_concurrency") == 5
    cfg.plugin_defaults({"omicsd_test": {"flag": True}})
    assert cfg["omicsd_test"].get_bool("flag") is True


def test_plugin_lookups_are_memoized_per_group_and_patterns_and_restored(tmp_path: Path) -> None:
    cfg = miniwdl_config(tmp_path, task_concurrency=1)
    original = config.load_plugins
    with memoized_plugin_lookups():
        first = config.load_plugins(cfg, "container_backend")
        assert config.load_plugins(miniwdl_config(tmp_path, task_concurrency=2), "container_backend") is first
        assert "omicsd_local" in dict(first)
        cfg.override({"plugins": {"disable_patterns": ["omicsd.*"]}})
        assert "omicsd_local" not in dict(config.load_plugins(cfg, "container_backend"))
    assert config.load_plugins is original


def test_warmed_lookups_never_scan_installed_distributions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warm_plugin_lookups()

    def no_scan(**_: object) -> None:
        raise AssertionError("entry points scanned again")

    monkeypatch.setattr(importlib.metadata, "entry_points", no_scan)
    with memoized_plugin_lookups():
        cfg = miniwdl_config(tmp_path, task_concurrency=1)
        assert [name for name, _ in config.load_plugins(cfg, "task")] == ["omicsd_observer"]
        assert "omicsd_local" in dict(config.load_plugins(cfg, "container_backend"))


def _overrides(cfg: RunConfig) -> dict[str, dict[str, str]]:
    parser = cfg._overrides  # the options miniwdl_config set, as miniwdl stored them
    return {section: dict(parser.items(section)) for section in parser.sections()}
