import shutil
from datetime import datetime

import pytest

from omicsd.engines.nextflow._trace import (
    TRACE_FIELDS,
    TaskRecord,
    TraceFileReader,
    parse_duration,
    parse_size,
    parse_timestamp,
    record_from_fields,
    task_name,
)
from tests.engines.nextflow.nf_support import EVENTS_DIR

GIB = 1024**3
BWA = "quay.io/biocontainers/bwa:0.7.17--h7132678_9"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (1717236001000, 1717236001.0),
        ("1717236001500", 1717236001.5),
        ("2024-06-01 12:00:01.250", datetime(2024, 6, 1, 12, 0, 1, 250000).timestamp()),
        ("2024-06-01 12:00:01", datetime(2024, 6, 1, 12, 0, 1).timestamp()),
        ("-", None),
        (None, None),
        (0, None),
        ("yesterday", None),
    ],
)
def test_parse_timestamp(value, seconds):
    assert parse_timestamp(value) == seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (3000, 3.0),
        ("13000", 13.0),
        ("350ms", 0.35),
        ("8.8s", 8.8),
        ("1m 2s", 62.0),
        ("1h 2m 3s", 3723.0),
        ("2d 1h", 176400.0),
        ("-", None),
        ("soon", None),
        ("5s later", None),
    ],
)
def test_parse_duration(value, seconds):
    parsed = parse_duration(value)
    if seconds is None:
        assert parsed is None
    else:
        assert parsed == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (2147483648, 2 * GIB),
        ("104857600", 100 * 1024**2),
        ("1.5 GB", int(1.5 * GIB)),
        ("200 MB", 200 * 1024**2),
        ("2 KB", 2048),
        ("17 B", 17),
        ("1 TB", 1024**4),
        ("0", 0),
        ("-", None),
        ("lots", None),
    ],
)
def test_parse_size(value, size):
    assert parse_size(value) == size


def test_task_name_follows_nextflow():
    assert task_name("ALIGN (sample_1)", "ALIGN", "sample_1", "2") == "ALIGN (sample_1)"
    assert task_name("", "ALIGN", "sample_1", "2") == "ALIGN (sample_1)"
    assert task_name("", "MERGE", "", "7") == "MERGE"
    assert task_name("", "", "", "7") == "task 7"
    assert len(task_name("X" * 300, "X", "", "1")) == 128


def test_record_from_weblog_fields():
    record = record_from_fields(
        {
            "task_id": 4,
            "status": "failed",
            "name": None,
            "process": "ALIGN",
            "tag": "sample_3",
            "exit": 2147483647,
            "cpus": 4,
            "memory": 8 * GIB,
            "container": BWA,
            "submit": 1717236006200,
            "start": 1717236007200,
            "complete": None,
            "realtime": 7800,
            "%cpu": 12.0,
            "peak_rss": GIB,
            "error_action": "retry",
        }
    )
    assert record is not None
    assert record.task_id == "4" and record.name == "ALIGN (sample_3)" and record.status == "FAILED"
    assert record.exit_status is None and record.complete is None and record.error_action == "RETRY"
    assert record.final
    assert record_from_fields({"name": "orphan"}) is None


def test_trace_reader_parses_every_column_and_skips_the_partial_line(tmp_path):
    path = tmp_path / "trace.tsv"
    shutil.copy(EVENTS_DIR / "trace_raw.tsv", path)
    reader = TraceFileReader(path)
    records = reader.read_new()
    assert reader.header == list(TRACE_FIELDS)
    assert [r.task_id for r in records] == ["1", "2", "4"]
    assert records[2] == TaskRecord(
        task_id="4",
        name="ALIGN (sample_3)",
        process="ALIGN",
        tag="sample_3",
        status="FAILED",
        exit_status=1,
        attempt=1,
        cpus=4.0,
        memory_bytes=8 * GIB,
        container=BWA,
        submit=1717236006.2,
        start=1717236007.2,
        complete=1717236015.0,
        realtime=7.8,
        cpu_percent=12.0,
        rss=GIB,
        peak_rss=GIB,
        workdir="/data/work/72/0c2d2ee4c1a90b7f2d3e6a8c5b1",
        error_action="TERMINATE",
    )
    assert records[0].tag == "" and records[0].error_action == "" and records[0].name == "PREPARE"
    assert reader.read_new() == []  # the partial last line is still incomplete

    with open(path, "a") as handle:  # Nextflow finishes the line
        handle.write("34592\t1717236006100\t1717236007100\t1717236021000\t14900\t13900\t390.2\t3\t4\t/w/61\t-\n")
    (late,) = reader.read_new()
    assert late.task_id == "3" and late.name == "ALIGN (sample_2)" and late.memory_bytes == 8 * GIB
    assert late.complete == 1717236021.0 and late.workdir == "/w/61"


def test_trace_reader_reads_the_human_readable_dialect(tmp_path):
    reader = TraceFileReader(EVENTS_DIR / "trace_human.tsv")
    records = {r.task_id: r for r in reader.read_new()}
    assert set(records) == {"1", "2", "4", "5"}
    align = records["2"]
    assert align.submit == datetime(2024, 6, 1, 12, 0, 6).timestamp()
    assert (align.realtime, align.cpu_percent, align.peak_rss) == (62.0, 390.2, 4 * GIB)
    assert records["4"].realtime == pytest.approx(0.35) and records["4"].exit_status == 1
    aborted = records["5"]
    assert aborted.status == "ABORTED" and aborted.exit_status is None and aborted.realtime is None
    assert aborted.peak_rss is None and aborted.process == "" and aborted.name == "ALIGN (sample_4)"


def test_trace_reader_waits_for_the_file_and_restarts_when_it_is_rewritten(tmp_path):
    path = tmp_path / "trace.tsv"
    reader = TraceFileReader(path)
    assert reader.read_new() == []
    path.write_text("task_id\tname\tstatus\n1\tA\tCOMPLETED\n2\tB\tCOMPLETED\n")
    assert [r.name for r in reader.read_new()] == ["A", "B"]
    path.write_text("task_id\tname\tstatus\n9\tC\tFAILED\n")  # overwritten by a new run: shorter
    assert [(r.task_id, r.status) for r in reader.read_new()] == [("9", "FAILED")]
