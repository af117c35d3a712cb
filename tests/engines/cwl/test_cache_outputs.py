"""CWL job outputs to and from run-cache entries: file names, constant outputs, and outputs rebuilt from a hit."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from omicsd.engines._cache import CacheEntry, CacheKey, CompletedTask, Hit
from omicsd.engines.cwl._cache_outputs import CONSTANTS_FILE, declared_outputs, entry_material, hit_outputs


def test_outputs_round_trip_through_an_entry_with_directories_outside_files_and_constants(tmp_path: Path) -> None:
    outdir = tmp_path / "run1" / "out" / "abc"
    (outdir / "results" / "sub").mkdir(parents=True)
    (outdir / "results" / "a.txt").write_text("a\n")
    (outdir / "results" / "sub" / "b.txt").write_text("b\n")
    (outdir / "p.txt").write_text("p\n")
    (outdir / "p.txt.sig").write_text("sig\n")
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "in.txt").write_text("in\n")
    produced = {
        "dir": {"class": "Directory", "location": (outdir / "results").as_uri(), "basename": "results"},
        "passed": {"class": "File", "location": (tmp_path / "inputs" / "in.txt").as_uri(), "path": "/x/in.txt"},
        "files": [
            {
                "class": "File",
                "location": (outdir / "p.txt").as_uri(),
                "basename": "p.txt",
                "size": 2,
                "secondaryFiles": [{"class": "File", "location": (outdir / "p.txt.sig").as_uri()}],
            }
        ],
        "count": 3,
        "label": "done",
        "missing": None,
        "literal": {"class": "File", "location": "_:3f6d1f7e-1111-4222-8333-444455556666", "contents": "x"},
    }
    task_dir = tmp_path / "run1" / "tasks" / "step-1000001"
    files, stored = entry_material(produced, str(outdir), task_dir)
    assert sorted(f.name for f in files) == [
        CONSTANTS_FILE,
        "external/0/in.txt",
        "out/p.txt",
        "out/p.txt.sig",
        "out/results/a.txt",
        "out/results/sub/b.txt",
    ]
    assert set(stored) == {"dir", "passed", "files"}  # the rest is in the intermediate file
    assert stored["passed"] == {"class": "File", "location": "external/0/in.txt"}
    assert stored["files"][0]["secondaryFiles"][0]["location"] == "out/p.txt.sig"
    constants = json.loads((task_dir / CONSTANTS_FILE).read_text())
    assert constants == {"count": 3, "label": "done", "missing": None, "literal": produced["literal"]}

    copy = tmp_path / "run2" / "tasks" / "step-2000002"
    placed = {}
    for cached in files:
        target = copy / cached.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(Path(cached.path).read_bytes())
        placed[cached.name] = target
    task = CompletedTask(CacheKey("t", "e", "c", "", "d"), "1000001", "step", str(outdir), files, stored)
    hit = Hit(CacheEntry("u", "arn", "s3://c/u/", "", "1", task), placed)
    got = hit_outputs(hit, copy, ["dir", "passed", "files", "count", "label", "missing", "literal"])
    assert got["count"] == 3 and got["label"] == "done" and got["missing"] is None
    assert got["literal"] == produced["literal"]
    assert got["dir"]["location"] == (copy / "out" / "results").as_uri()
    assert (copy / "out" / "results" / "sub" / "b.txt").read_text() == "b\n"
    assert got["passed"]["location"] == (copy / "external" / "0" / "in.txt").as_uri()
    assert "path" not in got["passed"]
    assert got["files"][0]["size"] == 2 and got["files"][0]["basename"] == "p.txt"
    assert got["files"][0]["secondaryFiles"][0]["location"] == (copy / "out" / "p.txt.sig").as_uri()

    with pytest.raises(ValueError, match="no output 'extra'"):
        hit_outputs(hit, copy, ["count", "extra"])
    (copy / "out" / "p.txt").unlink()
    with pytest.raises(ValueError, match=r"no file 'out/p\.txt'"):
        hit_outputs(hit, copy, [])
    escaping = replace(task, outputs={"f": {"class": "File", "location": "../../etc/passwd"}})
    with pytest.raises(ValueError, match="unsafe file name"):
        hit_outputs(Hit(CacheEntry("u", "arn", "s3://c/u/", "", "1", escaping), {}), copy, [])


def test_declared_outputs_are_the_short_names_of_the_tools_outputs() -> None:
    tool = {
        "outputs": [
            {"id": "file:///d/main.cwl#shard/run/part"},
            {"id": "file:///d/tools/count.cwl#count"},
            {"id": "_:3f6d1f7e-1111-4222-8333-444455556666#total"},
        ]
    }
    assert declared_outputs(tool) == ["part", "count", "total"]
    assert declared_outputs({}) == []


def test_constant_outputs_never_write_through_a_copied_entry_file(tmp_path: Path) -> None:
    cached = tmp_path / "bucket" / CONSTANTS_FILE
    cached.parent.mkdir()
    cached.write_text('{"n": 1}')
    task_dir = tmp_path / "task"
    task_dir.mkdir()
    (task_dir / CONSTANTS_FILE).hardlink_to(cached)  # left by a hit whose outputs were unusable
    (tmp_path / "out").mkdir()
    files, stored = entry_material({"n": 2}, str(tmp_path / "out"), task_dir)
    assert stored == {} and [f.name for f in files] == [CONSTANTS_FILE]
    assert json.loads((task_dir / CONSTANTS_FILE).read_text()) == {"n": 2}
    assert cached.read_text() == '{"n": 1}'
