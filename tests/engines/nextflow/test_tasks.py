from contextlib import contextmanager

from omicsd.engines.events import (
    CANCELLED,
    COMPLETED,
    FAILED,
    TaskCreated,
    TaskFinished,
    TaskMetrics,
    TaskRunning,
    TaskStarting,
)
from omicsd.engines.nextflow._tasks import TaskTracker
from omicsd.engines.nextflow._trace import TraceFileReader, record_from_fields
from tests.engines.nextflow.nf_support import EVENTS_DIR

GIB = 1024**3
T0 = 1717236000.0


def _tracker(events, clock=T0 + 100, **kwargs):
    ids = iter(str(n) for n in range(2000001, 2000100))
    return TaskTracker(events.append, new_task_id=lambda: next(ids), clock=lambda: clock, **kwargs)


def _record(**fields):
    base = {"task_id": 1, "process": "P", "cpus": 1, "memory": GIB, "submit": 1717236001000}
    record = record_from_fields({**base, **fields})
    assert record is not None
    return record


def test_trace_records_alone_give_the_whole_life_of_each_task():
    events = []
    tracker = _tracker(events)
    tracker.on_trace(TraceFileReader(EVENTS_DIR / "trace_raw.tsv").read_new())
    assert [type(e) for e in events] == [TaskCreated, TaskStarting, TaskRunning, TaskFinished] * 3
    created, starting, running, finished = events[8:12]
    assert created == TaskCreated(
        "2000003",
        "ALIGN (sample_3)",
        4,
        8,
        0,
        "omics.c.xlarge",
        "quay.io/biocontainers/bwa:0.7.17--h7132678_9",
        T0 + 6.2,
    )
    assert (starting.time, running.time, finished.time) == (T0 + 6.2, T0 + 7.2, T0 + 15)
    assert (finished.status, finished.exit_status, finished.failure_reason) == (FAILED, 1, "RUN_TASK_FAILED")
    assert tracker.open_tasks == 0


def test_each_event_is_journaled_once_whichever_source_reports_first():
    events = []
    tracker = _tracker(events)
    done = _record(status="COMPLETED", exit=0, start=1717236002000, complete=1717236005000)
    tracker.started(_record(status="RUNNING", start=1717236002000))  # missed the submission
    tracker.submitted(_record(status="SUBMITTED"))
    tracker.finished(done)
    tracker.on_trace([done])  # the trace file repeats it
    tracker.started(_record(status="RUNNING", start=1717236009000))
    assert [type(e) for e in events] == [TaskCreated, TaskStarting, TaskRunning, TaskFinished]
    assert [e.time for e in events] == [T0 + 1, T0 + 1, T0 + 2, T0 + 5]


def test_aborted_task_is_cancelled_without_running_and_cached_task_completes():
    events = []
    tracker = _tracker(events)
    tracker.finished(_record(task_id=1, status="ABORTED", name="P (a)"))
    tracker.finished(_record(task_id=2, status="CACHED", exit=0, complete=1717236003000))
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "TaskCreated",
        "TaskStarting",
        "TaskFinished",
        "TaskCreated",
        "TaskStarting",
        "TaskFinished",  # a cache hit never ran
    ]
    aborted, cached = events[2], events[5]
    assert aborted.status == CANCELLED and aborted.exit_status is None
    assert aborted.status_message == "Task P (a) was aborted because the run is stopping"
    assert aborted.time == T0 + 100  # no completion time known: the tracker's clock
    assert cached.status == COMPLETED and cached.exit_status is None and cached.time == T0 + 3


def test_resources_default_round_up_and_size_the_instance():
    events = []
    tracker = _tracker(events)
    tracker.submitted(_record(task_id=1, cpus=None, memory=None))
    tracker.submitted(_record(task_id=2, cpus=2.5, memory=int(9.5 * GIB)))
    tracker.submitted(_record(task_id=3, cpus=400, memory=GIB))
    tracker.submitted(_record(task_id=4, cpus=4, memory=16 * GIB, accelerator=1, accelerator_type="nvidia-l4"))
    created = [e for e in events if isinstance(e, TaskCreated)]
    assert [(c.cpus, c.memory_gib, c.gpus, c.instance_type) for c in created[:3]] == [
        (1, 1, 0, "omics.c.large"),
        (3, 10, 0, "omics.m.xlarge"),
        (400, 1, 0, ""),  # larger than any instance type: reported without one
    ]
    assert created[3].gpus == 1 and created[3].instance_type.startswith("omics.g6.")


def test_failures_pick_the_one_nextflow_did_not_recover_from():
    events = []
    tracker = _tracker(events)
    assert tracker.failure() is None
    tracker.finished(_record(task_id=1, name="A (1)", status="FAILED", exit=137, error_action="RETRY"))
    assert tracker.failure().status_message == "Task A (1) ran out of memory (exit status 137)"
    tracker.finished(_record(task_id=2, name="B", status="FAILED", exit=None, error_action="TERMINATE"))
    tracker.finished(_record(task_id=3, name="C", status="FAILED", exit=2, error_action="TERMINATE"))
    failure = tracker.failure()
    assert (failure.task_id, failure.failure_reason, failure.status_message) == (
        "2000002",
        "RUN_TASK_FAILED",
        "Task B failed",
    )


def test_settle_finishes_open_tasks_with_the_given_status():
    events = []
    tracker = _tracker(events, clock=T0 + 50)
    tracker.submitted(_record(task_id=1))
    tracker.started(_record(task_id=2, start=1717236002000))
    tracker.finished(_record(task_id=3, status="COMPLETED", exit=0, start=1717236002000, complete=1717236004000))
    tracker.settle(COMPLETED, "")
    tracker.settle(CANCELLED, "too late")  # nothing left open
    settled = [e for e in events if isinstance(e, TaskFinished) and e.task_id != "2000003"]
    assert [(e.task_id, e.status, e.time, e.metrics) for e in settled] == [
        ("2000001", COMPLETED, T0 + 50, TaskMetrics()),
        ("2000002", COMPLETED, T0 + 50, TaskMetrics()),
    ]


def test_task_output_is_followed_from_start_to_finish(tmp_path):
    calls = []

    @contextmanager
    def follow(task_id, files):
        calls.append(("open", task_id, [f.name for f in files], files[0].parent))
        yield
        calls.append(("close", task_id))

    events = []
    tracker = _tracker(events, follow_logs=follow)
    workdir = tmp_path / "ab" / "cdef"
    tracker.submitted(_record(task_id=1, workdir=str(workdir)))
    assert calls == []
    tracker.started(_record(task_id=1, workdir=str(workdir), start=1717236002000))
    assert calls == [("open", "2000001", [".command.out", ".command.err"], workdir)]
    tracker.finished(_record(task_id=1, workdir=str(workdir), status="COMPLETED", exit=0))
    tracker.finished(_record(task_id=2, workdir=str(workdir), status="FAILED", exit=1))  # seen only at the end
    tracker.finished(_record(task_id=3, status="COMPLETED", exit=0))  # no work directory: nothing to follow
    assert calls[1:] == [
        ("close", "2000001"),
        ("open", "2000002", [".command.out", ".command.err"], workdir),
        ("close", "2000002"),
    ]
