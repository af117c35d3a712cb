"""Run queries on both dialects: one-statement GetRun with tags, column-selective listing, tombstones, the
admission queue, state reads and compare-and-set of many runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from omicsd.domain.run_groups import QueuedRun
from omicsd.domain.runs import RunRecord, RunState
from omicsd.domain.states import RunStatus
from omicsd.store import open_store
from omicsd.store import runs as repo
from omicsd.store import tags as tag_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ARN = "arn:aws:omics:us-east-1:123456789012:run/{}"


def _run(run_id: str, minute: int, **values: object) -> RunRecord:
    base = RunRecord(
        id=run_id,
        uuid=f"uuid-{run_id}",
        status=RunStatus.PENDING,
        creation_time=T0 + timedelta(minutes=minute),
        workflow_id="1111111",
        workflow_type="PRIVATE",
        role_arn="arn:aws:iam::123456789012:role/r",
        output_uri="s3://b/o",
        retention_mode="RETAIN",
        networking_mode="RESTRICTED",
    )
    return replace(base, **values)  # type: ignore[arg-type]


def test_read_with_tags(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.write() as conn:
            repo.insert(conn, _run("1000001", 0, name="tagged", parameters={"x": 1}))
            repo.insert(conn, _run("1000002", 1))
            tag_store.replace(conn, ARN.format("1000001"), {"a": "1", "b": "2"})
        found = repo.read_with_tags(store, "1000001", ARN.format("1000001"))
        plain = repo.read_with_tags(store, "1000002", ARN.format("1000002"))
        missing = repo.read_with_tags(store, "9999999", ARN.format("9999999"))
        assert found is not None and plain is not None and missing is None
        record, tags = found
        assert (record.name, record.parameters, tags) == ("tagged", {"x": 1}, {"a": "1", "b": "2"})
        assert record == repo.get(store.engine.connect(), "1000001")
        assert plain[1] == {}
    finally:
        store.close()


def test_read_with_tags_outside_a_transaction_matches(db_url: str) -> None:
    store = open_store(db_url)
    try:
        when = T0 + timedelta(hours=1, microseconds=123)
        with store.write() as conn:
            repo.insert(conn, _run("1000001", 0, name="tagged", parameters={"x": [1, "y"]}, start_time=when))
            repo.insert(conn, _run("1000002", 1, status=RunStatus.DELETED))
            tag_store.replace(conn, ARN.format("1000001"), {"a": "1", "b": "2"})
        with store.read() as conn:
            record = repo.get(conn, "1000001")
            expected = (record, tag_store.get(conn, ARN.format("1000001")))
        assert repo.read_with_tags(store, "1000001", ARN.format("1000001")) == expected
        assert record is not None and record.start_time == when and record.status is RunStatus.PENDING
        assert expected[1] == {"a": "1", "b": "2"}
        assert repo.read_with_tags(store, "1000002", ARN.format("1000002")) is None, "a tombstone is hidden"
        assert repo.read_with_tags(store, "9999999", ARN.format("9999999")) is None
        with store.write() as conn:  # a later write is seen: nothing is cached but the compiled statement
            tag_store.replace(conn, ARN.format("1000001"), {})
            repo.update(conn, "1000001", {"status": RunStatus.RUNNING.value})
        found = repo.read_with_tags(store, "1000001", ARN.format("1000001"))
        assert found is not None and found[1] == {} and found[0].status is RunStatus.RUNNING
        assert store.prepared(repo._GET_WITH_TAGS) is store.prepared(repo._GET_WITH_TAGS)
    finally:
        store.close()


def test_list_summaries_match_full_records_and_hide_tombstones(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.write() as conn:
            for i in range(5):
                repo.insert(conn, _run(f"100000{i}", i, name=f"r{i % 2}", priority=i, batch_id="b" if i < 2 else None))
            repo.insert(conn, _run("1000009", 9, status=RunStatus.DELETED))
        with store.read() as conn:
            summaries = repo.list_summaries(conn, limit=10)
            full = repo.list_page(conn, limit=10)
            named = repo.list_summaries(conn, name="r0", limit=10)
            batch = repo.list_summaries(conn, batch_id="b", limit=10)
            after = repo.list_summaries(conn, after=[full[1].creation_time, full[1].id], limit=10)
        assert [s.id for s in summaries] == [r.id for r in full] == [f"100000{i}" for i in (4, 3, 2, 1, 0)]
        for summary, record in zip(summaries, full, strict=True):
            assert (summary.status, summary.priority, summary.name, summary.creation_time) == (
                record.status,
                record.priority,
                record.name,
                record.creation_time,
            )
        assert [s.id for s in named] == ["1000004", "1000002", "1000000"]
        assert {s.id for s in batch} == {"1000000", "1000001"}
        assert [s.id for s in after] == ["1000002", "1000001", "1000000"]
    finally:
        store.close()


def test_queued_reads_admission_columns_in_order_and_skips_full_groups(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.write() as conn:
            repo.insert(conn, _run("2000001", 0, priority=1))
            repo.insert(conn, _run("2000002", 1, priority=5, run_group_id="g"))
            repo.insert(conn, _run("2000003", 2, priority=5, run_group_id="h"))
            repo.insert(conn, _run("2000004", 3))
            repo.insert(conn, _run("2000005", 4, status=RunStatus.RUNNING, run_group_id="g"))
        with store.read() as conn:
            everything = repo.queued(conn, limit=10)
            lower_first = repo.queued(conn, limit=10, higher_first=False)
            without_g = repo.queued(conn, limit=10, skip_groups={"g"})
            without_both = repo.queued(conn, limit=10, skip_groups={"g", "h"})
            window = repo.queued(conn, limit=2)
        assert [q.id for q in everything] == ["2000002", "2000003", "2000001", "2000004"]
        assert everything[0] == QueuedRun("2000002", "g", 5, T0 + timedelta(minutes=1))
        assert [q.id for q in lower_first] == ["2000004", "2000001", "2000002", "2000003"]
        assert [q.id for q in without_g] == ["2000003", "2000001", "2000004"]
        assert [q.id for q in without_both] == ["2000001", "2000004"], "ungrouped runs are never skipped"
        assert [q.id for q in window] == ["2000002", "2000003"]
    finally:
        store.close()


def test_states_and_compare_and_set_many(db_url: str) -> None:
    store = open_store(db_url)
    ids = [f"3{i:06d}" for i in range(1203)]  # more than two IN lists
    try:
        with store.write() as conn:
            for i, run_id in enumerate(ids):
                status = RunStatus.RUNNING if i % 100 == 0 else RunStatus.PENDING
                repo.insert(conn, _run(run_id, i, status=status, log_level="OFF" if i == 1 else None))
            repo.insert(conn, _run("3999999", 0, status=RunStatus.DELETED))
        with store.read() as conn:
            states = repo.states(conn, [*ids, "3999999", "4000000"])
        assert len(states) == len(ids) + 1, "tombstones are read, unknown IDs are not"
        assert states["3000001"] == RunState("3000001", "uuid-3000001", RunStatus.PENDING, None, "OFF")
        assert states["3999999"].status == RunStatus.DELETED
        with store.write() as conn:
            values = {"status": "CANCELLED", "status_message": "m"}
            moved = repo.compare_and_set_many(conn, [*ids, "4000000"], current=RunStatus.PENDING, values=values)
        running = {run_id for i, run_id in enumerate(ids) if i % 100 == 0}
        assert moved == set(ids) - running
        with store.read() as conn:
            after = repo.states(conn, ids)
            record = repo.get(conn, "3000001")
        assert {s.status for run_id, s in after.items() if run_id in running} == {RunStatus.RUNNING}
        assert {s.status for run_id, s in after.items() if run_id not in running} == {RunStatus.CANCELLED}
        assert record is not None and record.status_message == "m"
    finally:
        store.close()
