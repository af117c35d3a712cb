"""Run queries on both dialects: one-statement GetRun with tags, column-selective listing, tombstones."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from omicsd.domain.runs import RunRecord
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


def test_get_with_tags(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.write() as conn:
            repo.insert(conn, _run("1000001", 0, name="tagged", parameters={"x": 1}))
            repo.insert(conn, _run("1000002", 1))
            tag_store.replace(conn, ARN.format("1000001"), {"a": "1", "b": "2"})
        with store.read() as conn:
            found = repo.get_with_tags(conn, "1000001", ARN.format("1000001"))
            plain = repo.get_with_tags(conn, "1000002", ARN.format("1000002"))
            missing = repo.get_with_tags(conn, "9999999", ARN.format("9999999"))
        assert found is not None and plain is not None and missing is None
        record, tags = found
        assert (record.name, record.parameters, tags) == ("tagged", {"x": 1}, {"a": "1", "b": "2"})
        assert record == repo.get(store.engine.connect(), "1000001")
        assert plain[1] == {}
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
