"""CWL run parameters → staged job order, and cwltool outputs → the run's output prefix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omicsd.blobs.local import LocalObjectStore
from omicsd.engines._staging import StagingFailed
from omicsd.engines.cwl._load import load_process
from omicsd.engines.cwl._values import JobOrder, export_cwl_outputs, output_namespace

TOOL = """cwlVersion: v1.2
class: CommandLineTool
requirements:
  SchemaDefRequirement:
    types:
      - name: Sample
        type: record
        fields:
          reads: File
          label: string
baseCommand: "true"
inputs:
  reads: File
  maybe: File?
  many: File[]
  folder: Directory
  label: string
  either: [string, File]
  sample: Sample
  anything: Any?
  bam:
    type: File
    secondaryFiles: [.bai, {pattern: ^.idx, required: false}, "$(self.basename).x"]
  count: int
outputs: []
"""


class Staging:
    """Records staged URIs and answers existence from a fixed set."""

    def __init__(self, existing: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.staged: list[tuple[str, bool]] = []
        self.existing = existing

    def stage(self, uri: str, is_directory: bool) -> str:
        self.staged.append((uri, is_directory))
        return f"/staged/{len(self.staged)}/{uri.rstrip('/').rsplit('/', 1)[-1]}"

    def exists(self, uri: str) -> bool:
        return uri in self.existing


@pytest.fixture(scope="module")
def process(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("definition")
    (root / "main.cwl").write_text(TOOL)
    return load_process(root, "main.cwl")


def test_plain_strings_become_staged_files_where_the_type_is_file(process: Any) -> None:
    staging = Staging()
    order = JobOrder(process, staging.stage, staging.exists).build(
        {
            "reads": "s3://b/r.fq",
            "maybe": "s3://b/m.txt",
            "many": ["s3://b/1.txt", "s3://b/2.txt"],
            "folder": "s3://b/refs/",
            "label": "s3://b/not-a-file",
            "either": "s3://b/stays-a-string",
            "count": 3,
            "unknown": "s3://b/x",
        }
    )
    assert order["reads"] == {"class": "File", "location": "file:///staged/1/r.fq"}
    assert order["maybe"] == {"class": "File", "location": "file:///staged/2/m.txt"}
    assert [item["location"] for item in order["many"]] == ["file:///staged/3/1.txt", "file:///staged/4/2.txt"]
    assert order["folder"] == {"class": "Directory", "location": "file:///staged/5/refs"}
    assert (order["label"], order["either"], order["count"]) == ("s3://b/not-a-file", "s3://b/stays-a-string", 3)
    assert order["unknown"] == "s3://b/x"  # not an input: cwltool judges it
    assert ("s3://b/refs/", True) in staging.staged


def test_file_objects_keep_their_fields_and_stage_explicit_secondary_files(process: Any) -> None:
    staging = Staging()
    order = JobOrder(process, staging.stage, staging.exists).build(
        {
            "reads": {
                "class": "File",
                "path": "s3://b/r.fq",
                "format": "edam:format_1930",
                "secondaryFiles": [{"class": "File", "location": "s3://b/r.fq.md5"}],
            },
            "anything": {"class": "File", "location": "s3://b/any.txt"},
            "sample": {"reads": "s3://b/s.fq", "label": "s1"},
        }
    )
    assert order["reads"] == {
        "class": "File",
        "location": "file:///staged/1/r.fq",
        "format": "edam:format_1930",
        "secondaryFiles": [{"class": "File", "location": "file:///staged/2/r.fq.md5"}],
    }
    assert order["anything"]["location"] == "file:///staged/3/any.txt"
    assert order["sample"] == {"reads": {"class": "File", "location": "file:///staged/4/s.fq"}, "label": "s1"}


def test_secondary_files_are_discovered_next_to_the_primary(process: Any) -> None:
    staging = Staging({"s3://b/dir/x.bam.bai", "s3://b/dir/x.idx", "s3://b/dir/x.bam.x"})
    order = JobOrder(process, staging.stage, staging.exists).build({"bam": "s3://b/dir/x.bam"})
    assert order["bam"]["location"] == "file:///staged/1/x.bam"
    assert [sf["location"] for sf in order["bam"]["secondaryFiles"]] == [
        "file:///staged/2/x.bam.bai",
        "file:///staged/3/x.idx",
    ]  # the expression pattern is left to cwltool


def test_no_secondary_files_found_leaves_the_check_to_cwltool(process: Any) -> None:
    staging = Staging()
    order = JobOrder(process, staging.stage, staging.exists).build({"bam": "s3://b/dir/x.bam"})
    assert "secondaryFiles" not in order["bam"]


def test_staging_errors_propagate(process: Any) -> None:
    def refuse(uri: str, is_directory: bool) -> str:
        raise StagingFailed("INVALID_URI_INPUT", f"Invalid input URI: {uri}")

    with pytest.raises(StagingFailed, match="/etc/passwd"):
        JobOrder(process, refuse, lambda uri: False).build({"reads": "/etc/passwd"})


def test_output_namespace(process: Any) -> None:
    assert output_namespace(process) == "main"


def _file(path: Path, **extra: Any) -> dict[str, Any]:
    return {"class": "File", "location": path.as_uri(), "basename": path.name, **extra}


def test_export_lays_out_files_secondaries_arrays_records_and_directories(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "bundle").mkdir(parents=True)
    (work / "a.bam").write_text("A")
    (work / "a.bam.bai").write_text("I")
    (work / "p0.txt").write_text("0")
    (work / "p1.txt").write_text("1")
    (work / "bundle" / "inner.txt").write_text("in")
    outputs = {
        "bam": _file(work / "a.bam", secondaryFiles=[_file(work / "a.bam.bai")]),
        "parts": [_file(work / "p0.txt"), _file(work / "p1.txt")],
        "pair": {"left": _file(work / "p0.txt"), "n": 2},
        "bundle": {"class": "Directory", "location": (work / "bundle").as_uri(), "basename": "bundle"},
        "literal": {"class": "File", "location": "_:abc", "basename": "note.txt", "contents": "hi"},
        "count": 7,
        "nothing": None,
    }
    store = LocalObjectStore(tmp_path / "buckets")
    summary, uri = export_cwl_outputs(store, "s3://out/runs/1", "wf", outputs, tmp_path / "scratch")
    base = "s3://out/runs/1/out"
    assert summary == {
        "wf.bam": f"{base}/bam/a.bam",
        "wf.parts": [f"{base}/parts/0/p0.txt", f"{base}/parts/1/p1.txt"],
        "wf.pair": {"left": f"{base}/pair/left/p0.txt", "n": 2},
        "wf.bundle": f"{base}/bundle/bundle/",
        "wf.literal": f"{base}/literal/note.txt",
        "wf.count": 7,
        "wf.nothing": None,
    }
    bucket = tmp_path / "buckets" / "out" / "runs" / "1"
    assert (bucket / "out" / "bam" / "a.bam.bai").read_text() == "I"
    assert (bucket / "out" / "bundle" / "bundle" / "inner.txt").read_text() == "in"
    assert (bucket / "out" / "literal" / "note.txt").read_text() == "hi"
    assert uri == "s3://out/runs/1/logs/outputs.json"
    assert json.loads((bucket / "logs" / "outputs.json").read_text()) == summary


def test_export_failure_is_export_failed(tmp_path: Path) -> None:
    outputs = {"gone": {"class": "File", "location": (tmp_path / "missing.txt").as_uri()}}
    store = LocalObjectStore(tmp_path / "buckets")
    with pytest.raises(StagingFailed) as caught:
        export_cwl_outputs(store, "s3://out/runs/1", "wf", outputs, tmp_path / "scratch")
    assert caught.value.failure_reason == "EXPORT_FAILED"
