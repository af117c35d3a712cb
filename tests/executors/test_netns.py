"""The shared network namespace: one holder per process, loopback only, entered by a spawning thread or by nsenter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from omicsd.executors import isolation, netns

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("nsenter") is None, reason="the shared namespace needs root and nsenter"
)


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(netns, "_holder", None)
    monkeypatch.setattr(netns, "_prefix", None)
    monkeypatch.setattr(netns, "_unavailable", False)
    monkeypatch.setattr(netns, "_namespace", None)
    monkeypatch.setattr(isolation, "_cache", {})
    monkeypatch.setattr(isolation, "_proven", {})
    yield
    if netns._holder is not None:
        netns._holder.kill()
        netns._holder.wait()


def _interfaces(prefix: tuple[str, ...]) -> list[str]:
    """Names of the interfaces a command under ``prefix`` sees."""
    out = subprocess.run([*prefix, "cat", "/proc/self/net/dev"], capture_output=True, check=True).stdout.decode()
    return [line.split(":")[0].strip() for line in out.splitlines() if ":" in line]


def test_tasks_share_one_namespace_with_only_a_live_loopback() -> None:
    prefix = netns.shared_prefix()
    assert prefix is not None and _basename(prefix[0]) == "nsenter"
    assert _interfaces(prefix) == ["lo"]
    assert netns.shared_prefix() == prefix, "one holder per process"
    inside = subprocess.run([*prefix, "readlink", "/proc/self/ns/net"], capture_output=True, check=True).stdout
    again = subprocess.run([*prefix, "readlink", "/proc/self/ns/net"], capture_output=True, check=True).stdout
    host = os.readlink("/proc/self/ns/net").encode()
    assert inside == again and inside.strip() != host


def test_loopback_is_up_inside() -> None:
    prefix = netns.shared_prefix()
    assert prefix is not None
    code = (
        "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
        "c = socket.create_connection(s.getsockname(), timeout=5); print('connected')"
    )
    done = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, check=True, timeout=60)
    assert done.stdout.strip() == b"connected"


def test_a_dead_holder_is_replaced() -> None:
    first = netns.shared_prefix()
    pid = netns.holder_pid()
    assert first is not None and pid is not None
    os.kill(pid, 9)
    deadline = time.monotonic() + 5
    while netns.holder_pid() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    second = netns.shared_prefix()
    assert second is not None and second != first
    assert _interfaces(second) == ["lo"]


def test_the_holder_ends_with_its_owner() -> None:
    code = "from omicsd.executors import netns; p = netns.shared_prefix(); print(netns.holder_pid(), flush=True)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, timeout=60)
    pid = int(done.stdout.split()[-1])
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid)


def test_auto_isolation_prefers_the_shared_namespace() -> None:
    prefix = isolation.network_prefix("auto")
    assert _basename(prefix[0]) == "nsenter"
    assert isolation.network_prefix("bwrap") != prefix or shutil.which("bwrap") is None


def test_a_spawning_thread_enters_the_namespace_and_returns() -> None:
    namespace = netns.thread_namespace()
    assert namespace is not None
    host = os.readlink("/proc/self/ns/net")
    seen: dict[str, object] = {}
    inside = threading.Event()
    checked = threading.Event()

    def spawner() -> None:
        with namespace.entered():
            seen["thread"] = os.readlink("/proc/thread-self/ns/net")
            seen["child"] = _interfaces(())
            inside.set()
            checked.wait(10)
        seen["after"] = os.readlink("/proc/thread-self/ns/net")

    thread = threading.Thread(target=spawner)
    thread.start()
    assert inside.wait(30)
    others = _interfaces(())  # meanwhile, this thread (and so its children) keeps the host network
    checked.set()
    thread.join(30)
    assert seen["child"] == ["lo"]
    assert seen["thread"] != host and seen["after"] == host
    assert os.readlink("/proc/thread-self/ns/net") == host
    assert others == _host_interfaces()


def test_the_namespace_outlives_its_holder() -> None:
    namespace = netns.thread_namespace()
    pid = netns.holder_pid()
    assert namespace is not None and pid is not None
    os.kill(pid, 9)
    deadline = time.monotonic() + 5
    while netns.holder_pid() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert netns.thread_namespace() is namespace, "its descriptor keeps the namespace alive"
    with namespace.entered():
        assert _interfaces(()) == ["lo"]


def test_auto_isolation_enters_the_namespace_from_the_spawning_thread() -> None:
    chosen = isolation.network_isolation("auto")
    assert chosen.namespace is netns.thread_namespace() and chosen.prefix == ()
    assert chosen.argv(["true"]) == ["true"]
    with chosen.spawning():
        assert _interfaces(()) == ["lo"]
    assert isolation.network_isolation("unshare").namespace is chosen.namespace
    assert isolation.network_isolation("bwrap").namespace is None


def _host_interfaces() -> list[str]:
    lines = open("/proc/self/net/dev").read().splitlines()  # noqa: SIM115
    return [line.split(":")[0].strip() for line in lines if ":" in line]


def _basename(path: str) -> str:
    return os.path.basename(path)


def _alive(pid: int) -> bool:
    try:
        stat = open(f"/proc/{pid}/stat").read()  # noqa: SIM115
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"
