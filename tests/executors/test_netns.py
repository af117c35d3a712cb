"""The shared network namespace: one per process, loopback only, entered by a spawning thread or by nsenter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading

import pytest

from omicsd.executors import isolation, netns

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the shared namespace needs root")


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns, "_namespace", None)
    monkeypatch.setattr(netns, "_failed_in", None)
    monkeypatch.setattr(isolation, "_cache", {})
    monkeypatch.setattr(isolation, "_proven", {})


def _interfaces(prefix: tuple[str, ...] = ()) -> list[str]:
    """Names of the interfaces a command under ``prefix`` sees."""
    out = subprocess.run([*prefix, "cat", "/proc/self/net/dev"], capture_output=True, check=True).stdout.decode()
    return [line.split(":")[0].strip() for line in out.splitlines() if ":" in line]


def _host_interfaces() -> list[str]:
    with open("/proc/thread-self/net/dev") as dev:
        return [line.split(":")[0].strip() for line in dev.read().splitlines() if ":" in line]


def test_one_namespace_per_process_with_only_loopback() -> None:
    namespace = netns.thread_namespace()
    assert namespace is not None and netns.thread_namespace() is namespace
    host = os.readlink("/proc/thread-self/ns/net")
    with namespace.entered():
        inside = os.readlink("/proc/thread-self/ns/net")
        assert _interfaces() == ["lo"]
    assert inside != host and os.readlink("/proc/thread-self/ns/net") == host
    assert all(thread.name != "omicsd-netns" for thread in threading.enumerate()), "the maker thread ended"


def test_a_spawning_thread_enters_the_namespace_and_returns() -> None:
    namespace = netns.thread_namespace()
    assert namespace is not None
    host = os.readlink("/proc/thread-self/ns/net")
    seen: dict[str, object] = {}
    inside = threading.Event()
    checked = threading.Event()

    def spawner() -> None:
        with namespace.entered():
            seen["thread"] = os.readlink("/proc/thread-self/ns/net")
            seen["child"] = _interfaces()
            inside.set()
            checked.wait(10)
        seen["after"] = os.readlink("/proc/thread-self/ns/net")

    thread = threading.Thread(target=spawner)
    thread.start()
    assert inside.wait(30)
    others = _interfaces()  # meanwhile, this thread (and so its children) keeps the host network
    checked.set()
    thread.join(30)
    assert seen["child"] == ["lo"]
    assert seen["thread"] != host and seen["after"] == host
    assert os.readlink("/proc/thread-self/ns/net") == host
    assert others == _host_interfaces()


def test_loopback_is_up_inside() -> None:
    namespace = netns.thread_namespace()
    assert namespace is not None
    code = (
        "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
        "c = socket.create_connection(s.getsockname(), timeout=5); print('connected')"
    )
    with namespace.entered():
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, timeout=60)
    assert done.stdout.strip() == b"connected"


@pytest.mark.skipif(shutil.which("nsenter") is None, reason="util-linux nsenter is not installed")
def test_nsenter_enters_the_same_namespace() -> None:
    namespace = netns.thread_namespace()
    prefix = netns.shared_prefix()
    assert namespace is not None and prefix is not None and os.path.basename(prefix[0]) == "nsenter"
    assert _interfaces(prefix) == ["lo"]
    by_nsenter = subprocess.run([*prefix, "readlink", "/proc/self/ns/net"], capture_output=True, check=True).stdout
    with namespace.entered():
        by_thread = subprocess.run(["readlink", "/proc/self/ns/net"], capture_output=True, check=True).stdout
    assert by_nsenter == by_thread


def test_a_forked_child_makes_its_own_namespace() -> None:
    namespace = netns.thread_namespace()
    assert namespace is not None
    with namespace.entered():
        parents = os.readlink("/proc/thread-self/ns/net")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            child = netns.thread_namespace()
            assert child is not None and child is not namespace
            with child.entered():
                os.write(write, os.readlink("/proc/thread-self/ns/net").encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        childs = pipe.read()
    os.waitpid(pid, 0)
    assert childs.startswith("net:") and childs != parents


def test_auto_isolation_enters_the_namespace_from_the_spawning_thread() -> None:
    chosen = isolation.network_isolation("auto")
    assert chosen.namespace is netns.thread_namespace() and chosen.prefix == ()
    assert chosen.argv(["true"]) == ["true"]
    with chosen.spawning():
        assert _interfaces() == ["lo"]
    assert isolation.network_isolation("unshare").namespace is chosen.namespace
    assert isolation.network_isolation("bwrap").namespace is None


def test_without_root_there_is_no_shared_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    assert netns.thread_namespace() is None and netns.shared_prefix() is None
