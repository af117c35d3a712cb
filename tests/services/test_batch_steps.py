"""The background step of run batches rests while no batch is unfinished, until a batch call makes work."""

from __future__ import annotations

from typing import Any

import pytest

from omicsd.services import Services, _batch_steps
from omicsd.services._batch_steps import BatchSteps


def test_with_no_unfinished_batch_the_step_rests_until_a_call(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks: list[int] = []
    original = _batch_steps.repo.in_status

    def counting(*args: Any, **kwargs: Any) -> Any:
        looks.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_batch_steps.repo, "in_status", counting)
    steps = BatchSteps(
        services.runs.store, services.batches.work, services.runs, services.batches.transition, check_interval=0.2
    )
    assert steps.step() is False
    assert steps.step() is False  # resting: the database is not asked again
    assert len(looks) == 1
    steps.busy()
    assert steps.step() is False
    assert len(looks) == 2


def test_forget_drops_what_was_remembered_of_a_batch(services: Services) -> None:
    steps = BatchSteps(
        services.runs.store, services.batches.work, services.runs, services.batches.transition, check_interval=0.2
    )
    steps._entries["b1"] = [object()]
    steps._checked["b1"] = 1.0
    steps._cursors[("b1", _batch_steps.BatchStatus.STOPPING)] = 3
    steps._cursors[("b2", _batch_steps.BatchStatus.STOPPING)] = 5
    steps.forget("b1")
    assert (steps._entries, steps._checked) == ({}, {})
    assert list(steps._cursors) == [("b2", _batch_steps.BatchStatus.STOPPING)]
