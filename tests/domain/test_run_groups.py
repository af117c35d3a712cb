from datetime import UTC, datetime, timedelta

from omicsd.domain.run_groups import RunGroupRecord, admit, timed_out
from omicsd.domain.runs import RunRecord
from omicsd.domain.states import RunStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def run(run_id: str, minute: int, priority: int | None = None, group: str | None = None) -> RunRecord:
    return RunRecord(
        id=run_id,
        uuid=run_id,
        status=RunStatus.PENDING,
        creation_time=T0 + timedelta(minutes=minute),
        workflow_id="1",
        workflow_type="PRIVATE",
        role_arn="r",
        output_uri="s3://b",
        retention_mode="RETAIN",
        networking_mode="RESTRICTED",
        priority=priority,
        run_group_id=group,
    )


def group(group_id: str, **limits: int) -> RunGroupRecord:
    return RunGroupRecord(id=group_id, creation_time=T0, **limits)


def ids(runs: list[RunRecord]) -> list[str]:
    return [r.id for r in runs]


def test_priority_then_creation_within_a_queue() -> None:
    pending = [run("a", 0, 1), run("b", 1, 5), run("c", 2, 5), run("d", 3)]
    assert ids(admit(pending, room=4, active_by_group={}, groups={})) == ["b", "c", "a", "d"]


def test_lower_first_setting_inverts_priority() -> None:
    pending = [run("a", 0, 1), run("b", 1, 5), run("c", 2)]
    assert ids(admit(pending, room=3, active_by_group={}, groups={}, higher_first=False)) == ["c", "a", "b"]


def test_room_bounds_every_queue() -> None:
    pending = [run(str(i), i) for i in range(10)]
    assert ids(admit(pending, room=3, active_by_group={}, groups={})) == ["0", "1", "2"]
    assert admit(pending, room=0, active_by_group={}, groups={}) == []


def test_full_group_blocks_only_its_queue() -> None:
    groups = {"g": group("g", max_runs=1)}
    pending = [run("g1", 0, group="g"), run("g2", 1, group="g"), run("u1", 2)]
    assert ids(admit(pending, room=5, active_by_group={}, groups=groups)) == ["g1", "u1"]
    assert ids(admit(pending, room=5, active_by_group={"g": 1}, groups=groups)) == ["u1"]


def test_queues_take_turns_by_head_creation_time() -> None:
    groups = {"g": group("g"), "h": group("h")}
    pending = [run("g1", 0, group="g"), run("h1", 1, group="h"), run("g2", 2, group="g"), run("u1", 3)]
    assert ids(admit(pending, room=4, active_by_group={}, groups=groups)) == ["g1", "h1", "g2", "u1"]


def test_unknown_group_is_ungrouped() -> None:
    assert ids(admit([run("x", 0, group="gone")], room=1, active_by_group={}, groups={})) == ["x"]


def test_timed_out() -> None:
    started = run("a", 0)
    g = group("g", max_duration=10)
    assert not timed_out(started, g, T0 + timedelta(minutes=9))
    assert timed_out(started, g, T0 + timedelta(minutes=11))
    assert not timed_out(started, group("h"), T0 + timedelta(days=9))
    assert not timed_out(started, None, T0 + timedelta(days=9))
