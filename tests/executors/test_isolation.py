from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from omicsd.executors import isolation, netns
from omicsd.executors.isolation import NetworkIsolationError, network_prefix


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "_cache", {})
    monkeypatch.setattr(isolation, "_proven", {})
    monkeypatch.setattr(netns, "_namespace", None)
    monkeypatch.setattr(netns, "_failed_in", None)


def test_none_means_no_prefix() -> None:
    assert network_prefix("none") == ()


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(NetworkIsolationError, match="Unknown"):
        network_prefix("firewall")


def test_fails_closed_when_no_tool_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation.shutil, "which", lambda name: None)
    with pytest.raises(NetworkIsolationError, match="bwrap or unshare"):
        network_prefix("auto")


def test_fails_closed_when_the_probe_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation.shutil, "which", lambda name: "/bin/false")
    with pytest.raises(NetworkIsolationError, match="could not isolate"):
        network_prefix("unshare")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="util-linux unshare is not installed")
def test_unshare_prefix_leaves_only_loopback() -> None:
    prefix = network_prefix("unshare")
    assert Path(prefix[0]).name in ("unshare", "nsenter")
    out = subprocess.run([*prefix, "cat", "/proc/self/net/dev"], capture_output=True, check=True).stdout.decode()
    names = [line.split(":")[0].strip() for line in out.splitlines() if ":" in line]
    assert names == ["lo"]
    assert network_prefix("unshare") is prefix, "the probe result is cached"


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_bwrap_prefix_works_when_installed() -> None:
    assert "bwrap" in network_prefix("bwrap")[0]
