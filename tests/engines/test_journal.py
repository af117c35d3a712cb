import threading

from omicsd.engines.events import RunFinished, TaskRunning, encode
from omicsd.engines.journal import JOURNAL_FILE, JournalWriter, journal_path, read_events


def test_write_then_read(tmp_path):
    path = journal_path(tmp_path)
    assert path.name == JOURNAL_FILE
    with JournalWriter(path) as journal:
        journal.write(TaskRunning(task_id="1", time=1.0))
        journal.write(RunFinished(status="COMPLETED", time=2.0))
    events, offset = read_events(path)
    assert events == [TaskRunning(task_id="1", time=1.0), RunFinished(status="COMPLETED", time=2.0)]
    assert offset == path.stat().st_size
    assert read_events(path, offset) == ([], offset)


def test_lines_are_visible_before_close(tmp_path):
    path = tmp_path / "j.jsonl"
    journal = JournalWriter(path)
    journal.write(TaskRunning(task_id="1", time=1.0))
    events, offset = read_events(path)
    assert events == [TaskRunning(task_id="1", time=1.0)]
    journal.write(TaskRunning(task_id="2", time=2.0))
    assert read_events(path, offset)[0] == [TaskRunning(task_id="2", time=2.0)]
    journal.close()
    journal.close()  # idempotent


def test_torn_last_line_is_left_for_later(tmp_path):
    path = tmp_path / "j.jsonl"
    whole = encode(TaskRunning(task_id="1", time=1.0))
    torn = encode(TaskRunning(task_id="2", time=2.0))
    path.write_bytes(whole + torn[:10])
    events, offset = read_events(path)
    assert events == [TaskRunning(task_id="1", time=1.0)]
    assert offset == len(whole)
    with open(path, "ab") as fh:
        fh.write(torn[10:])
    assert read_events(path, offset) == ([TaskRunning(task_id="2", time=2.0)], len(whole) + len(torn))


def test_missing_file_reads_empty(tmp_path):
    assert read_events(tmp_path / "none.jsonl", 0) == ([], 0)


def test_bad_line_is_skipped(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_bytes(b"garbage\n" + encode(TaskRunning(task_id="1", time=1.0)))
    events, offset = read_events(path)
    assert events == [TaskRunning(task_id="1", time=1.0)]
    assert offset == path.stat().st_size


def test_concurrent_writers_never_interleave(tmp_path):
    path = tmp_path / "j.jsonl"
    journal = JournalWriter(path)

    def writer(n):
        for i in range(200):
            journal.write(TaskRunning(task_id=f"{n}-{i}", time=float(i)))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    journal.close()
    events, _ = read_events(path)
    assert len(events) == 800
    assert {e.task_id for e in events} == {f"{n}-{i}" for n in range(4) for i in range(200)}


def test_write_after_close_fails(tmp_path):
    journal = JournalWriter(tmp_path / "j.jsonl")
    journal.close()
    try:
        journal.write(TaskRunning(task_id="1", time=1.0))
    except ValueError:
        pass
    else:
        raise AssertionError("expected ValueError")
