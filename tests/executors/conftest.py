from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omicsd.executors.base import TaskRequest
from omicsd.executors.capacity import CapacityLedger
from omicsd.executors.local import LocalExecutor

GIB = 1024**3


@pytest.fixture
def ledger(tmp_path: Path) -> CapacityLedger:
    return CapacityLedger(tmp_path / "capacity", cpus=2, memory_bytes=4 * GIB, gpus=0)


@pytest.fixture
def executor(ledger: CapacityLedger) -> LocalExecutor:
    return LocalExecutor(ledger, network_isolation="auto", kill_grace=0.5, sample_interval=0.05)


@pytest.fixture
def make_request(tmp_path: Path) -> Callable[..., TaskRequest]:
    work = tmp_path / "work"
    work.mkdir()

    def make(command: list[str], **kwargs: Any) -> TaskRequest:
        kwargs.setdefault("network", True)
        return TaskRequest(
            name="call-test",
            command=command,
            cwd=work,
            stdout_path=work / "stdout",
            stderr_path=work / "stderr",
            **kwargs,
        )

    return make
