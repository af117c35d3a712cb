"""The CWL conformance runner: input rewriting, output objects, packaging, cwltest plumbing, and live runs."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import cwl_conformance as conformance
from bench import cwl_runner as runner
from omicsd.app import build_app
from omicsd.config import Settings
from tests.conftest import make_settings
from tests.e2e.conftest import omics_client
from tests.support.live import serve

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "cwl_conformance_sample"
SAMPLE_SUITE = SAMPLE / "conformance_tests.yaml"
SAMPLE_IDS = {
    "stdout_capture",
    "input_file_checksum",
    "two_step_workflow",
    "scatter_array_of_files",
    "expression_tool",
    "secondary_files",
    "directory_output",
    "directory_input_and_file_literal",
    "failing_command",
}


def sha1(data: bytes) -> str:
    return "sha1$" + hashlib.sha1(data).hexdigest()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def bucket(tmp_path: Path) -> runner.Bucket:
    return runner.Bucket("conformance", tmp_path / "buckets" / "conformance", "job-1")


# -- inputs -------------------------------------------------------------------------------------------------


def test_files_are_copied_into_the_bucket_and_located_there(tmp_path: Path, bucket: runner.Bucket) -> None:
    jobdir = tmp_path / "job"
    reads = write(jobdir / "data" / "reads.txt", "ACGT\n")
    write(jobdir / "data" / "reads.txt.idx", "index\n")
    write(jobdir / "data" / "other.txt", "unrelated\n")
    extra = write(tmp_path / "elsewhere" / "b.txt", "b\n")
    job = {
        "reads": {"class": "File", "location": "data/reads.txt", "format": "edam:format_1929"},
        "many": [{"class": "File", "path": str(extra)}],
        "record": {"inner": {"class": "File", "location": extra.as_uri()}, "n": 3},
        "literal": {"class": "File", "basename": "note.txt", "contents": "inline\n"},
        "remote": {"class": "File", "location": "https://example.org/x.txt"},
        "word": "data/reads.txt",
        "count": 3,
    }
    out = runner.rewrite_inputs(job, jobdir, bucket)
    reads_uri = f"s3://conformance/job-1/inputs{reads}"
    assert out["reads"] == {"class": "File", "location": reads_uri, "format": "edam:format_1929"}
    copied = bucket.path(f"inputs{reads}")
    assert copied.read_text() == "ACGT\n"
    assert (copied.parent / "reads.txt.idx").read_text() == "index\n"
    assert not (copied.parent / "other.txt").exists()
    extra_uri = f"s3://conformance/job-1/inputs{extra}"
    assert out["many"] == [{"class": "File", "location": extra_uri}]
    assert out["record"] == {"inner": {"class": "File", "location": extra_uri}, "n": 3}
    assert bucket.path(f"inputs{extra}").read_text() == "b\n"
    assert out["literal"] == job["literal"]
    assert out["remote"] == job["remote"]
    assert (out["word"], out["count"]) == ("data/reads.txt", 3)


def test_secondary_files_and_directories(tmp_path: Path, bucket: runner.Bucket) -> None:
    jobdir = tmp_path / "job"
    bam = write(jobdir / "s.bam", "BAM")
    bai = write(jobdir / "index" / "s.bam.bai", "BAI")
    write(jobdir / "folder" / "a.txt", "a")
    write(jobdir / "folder" / "sub" / "b.txt", "b")
    job = {
        "bam": {
            "class": "File",
            "location": "s.bam",
            "secondaryFiles": [{"class": "File", "location": "index/s.bam.bai"}],
        },
        "folder": {"class": "Directory", "location": "folder", "listing": [{"class": "File", "location": "x"}]},
        "made": {
            "class": "Directory",
            "basename": "made",
            "listing": [
                {"class": "File", "location": "s.bam", "basename": "renamed.bam"},
                {
                    "class": "Directory",
                    "basename": "inner",
                    "listing": [{"class": "File", "basename": "l.txt", "contents": "L"}],
                },
            ],
        },
        "empty": {"class": "Directory", "basename": "empty", "listing": []},
    }
    out = runner.rewrite_inputs(job, jobdir, bucket)
    assert out["bam"]["location"] == f"s3://conformance/job-1/inputs{bam}"
    assert out["bam"]["secondaryFiles"] == [{"class": "File", "location": f"s3://conformance/job-1/inputs{bai}"}]
    assert bucket.path(f"inputs{bai}").read_text() == "BAI"
    folder = jobdir / "folder"
    assert out["folder"] == {"class": "Directory", "location": f"s3://conformance/job-1/inputs{folder}/"}
    assert bucket.path(f"inputs{folder}/sub/b.txt").read_text() == "b"
    assert out["made"] == {
        "class": "Directory",
        "basename": "made",
        "location": "s3://conformance/job-1/literals/1/made/",
    }
    made = bucket.path("literals/1/made")
    assert (made / "renamed.bam").read_text() == "BAM"
    assert (made / "inner" / "l.txt").read_text() == "L"
    assert out["empty"] == job["empty"]


def test_a_missing_input_file_is_an_error(tmp_path: Path, bucket: runner.Bucket) -> None:
    with pytest.raises(runner.RunnerError, match="input not found"):
        runner.rewrite_inputs({"f": {"class": "File", "location": "nope.txt"}}, tmp_path, bucket)


# -- outputs ------------------------------------------------------------------------------------------------


def test_output_object_from_outputs_json(tmp_path: Path) -> None:
    buckets = tmp_path / "buckets"
    run_uri = "s3://conformance/job-1/out/1234567"
    out = buckets / "conformance" / "job-1" / "out" / "1234567" / "out"
    write(out / "merged" / "x.txt", "primary\n")
    write(out / "merged" / "x.a", "caret\n")
    write(out / "merged" / "x.txt.z", "zed\n")
    write(out / "dir" / "made" / "one.txt", "1\n")
    write(out / "dir" / "made" / "sub" / "two.txt", "2\n")
    write(out / "parts" / "0" / "p.txt", "p0\n")
    write(out / "parts" / "1" / "p.txt", "p1\n")
    summary = {
        "tool.merged": f"{run_uri}/out/merged/x.txt",
        "tool.dir": f"{run_uri}/out/dir/made/",
        "tool.nothing": f"{run_uri}/out/nothing/empty/",
        "tool.parts": [f"{run_uri}/out/parts/0/p.txt", f"{run_uri}/out/parts/1/p.txt"],
        "tool.record": {"n": 3, "label": "s3://elsewhere/x"},
        "tool.missing": None,
    }
    outdir = tmp_path / "outdir"
    result = runner.build_outputs(
        summary,
        run_output_uri=run_uri,
        buckets_root=buckets,
        outdir=outdir,
        namespaces=["tool"],
        secondary_patterns={"merged": [".z", "^.a"]},
    )
    assert set(result) == {"merged", "dir", "nothing", "parts", "record", "missing"}
    merged = result["merged"]
    assert merged == {
        "class": "File",
        "location": (outdir / "merged" / "x.txt").as_uri(),
        "path": str(outdir / "merged" / "x.txt"),
        "basename": "x.txt",
        "size": 8,
        "checksum": sha1(b"primary\n"),
        "secondaryFiles": [
            runner.file_object(outdir / "merged" / "x.txt.z"),
            runner.file_object(outdir / "merged" / "x.a"),
        ],
    }
    assert [s["basename"] for s in merged["secondaryFiles"]] == ["x.txt.z", "x.a"]
    assert merged["secondaryFiles"][0]["checksum"] == sha1(b"zed\n")
    assert (outdir / "merged" / "x.txt").read_text() == "primary\n"
    directory = result["dir"]
    assert (directory["class"], directory["basename"]) == ("Directory", "made")
    assert directory["location"] == (outdir / "dir" / "made").as_uri()
    one, sub = directory["listing"]
    assert (one["basename"], one["checksum"], one["size"]) == ("one.txt", sha1(b"1\n"), 2)
    assert (sub["class"], [f["basename"] for f in sub["listing"]]) == ("Directory", ["two.txt"])
    assert Path(sub["listing"][0]["path"]).read_text() == "2\n"
    assert result["nothing"]["listing"] == [] and (outdir / "nothing" / "empty").is_dir()
    assert [p["checksum"] for p in result["parts"]] == [sha1(b"p0\n"), sha1(b"p1\n")]
    assert result["record"] == {"n": 3, "label": "s3://elsewhere/x"}
    assert result["missing"] is None


def test_output_keys_lose_their_namespace() -> None:
    keys = {"main.out": 1, "wc-tool.count": 2, "other.name": 3, "plain": 4}
    result = runner.build_outputs(
        keys,
        run_output_uri="s3://b/p/1",
        buckets_root=Path("/nonexistent"),
        outdir=Path("/nonexistent"),
        namespaces=["wc-tool", "main"],
    )
    assert result == {"out": 1, "count": 2, "name": 3, "plain": 4}
    assert runner.namespaces_of(Path("/t/wc-tool.cwl"), {"id": "#counter"}) == ["counter", "wc-tool"]
    assert "main" in runner.namespaces_of(Path("/t/packed.cwl"), {"$graph": []})


def test_secondary_patterns_of_outputs(tmp_path: Path) -> None:
    write(
        tmp_path / "tool.cwl", "class: CommandLineTool\noutputs:\n  o:\n    type: File\n    secondaryFiles: [^.bai]\n"
    )
    document = {
        "class": "Workflow",
        "outputs": {
            "direct": {"type": "File", "secondaryFiles": [".idx", {"pattern": ".md5", "required": False}]},
            "inline": {"type": "File", "outputSource": "a/out"},
            "from_file": {"type": "File", "outputSource": "b/o"},
            "plain": "int",
        },
        "steps": [
            {"id": "a", "run": {"outputs": [{"id": "out", "secondaryFiles": ".sig"}]}},
            {"id": "b", "run": "tool.cwl"},
        ],
    }
    assert runner.output_secondary_patterns(document, tmp_path) == {
        "direct": [".idx", ".md5"],
        "inline": [".sig"],
        "from_file": ["^.bai"],
        "plain": [],
    }


# -- packaging ----------------------------------------------------------------------------------------------


def test_package_holds_the_tool_and_what_it_references(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    tool = write(
        suite / "tests" / "wf.cwl",
        "class: Workflow\n"
        "requirements:\n  SchemaDefRequirement:\n    types:\n      - $import: types.yml\n"
        "inputs:\n"
        "  f:\n    type: File\n    default: {class: File, location: data/in.txt}\n"
        "  d:\n    type: Directory\n    default: {class: Directory, location: folder}\n"
        "  t: types.yml#rec\n"
        "steps:\n  s:\n    run: tools/t.cwl\n    in: {}\n    out: []\n"
        "outputs: []\n",
    )
    write(suite / "tests" / "types.yml", "- name: rec\n  type: record\n  fields: []\n")
    write(suite / "tests" / "data" / "in.txt", "in\n")
    write(suite / "tests" / "folder" / "x.txt", "x\n")
    write(suite / "tests" / "tools" / "t.cwl", "class: CommandLineTool\narguments: [{$include: ../../shared/s.sh}]\n")
    write(suite / "shared" / "s.sh", "echo hi\n")
    write(suite / "tests" / "unrelated.cwl", "class: CommandLineTool\n")
    pkg, main = runner.package_tool(tool)
    assert main == "tests/wf.cwl"
    assert pkg.files == (
        "shared/s.sh",
        "tests/data/in.txt",
        "tests/folder/x.txt",
        "tests/tools/t.cwl",
        "tests/types.yml",
        "tests/wf.cwl",
    )
    assert runner.package_tool(tool)[0].digest == pkg.digest
    alone = write(tmp_path / "solo" / "echo.cwl", "class: CommandLineTool\nbaseCommand: echo\nstdout: out.txt\n")
    write(tmp_path / "solo" / "neighbour.cwl", "class: CommandLineTool\n")
    pkg, main = runner.package_tool(alone)
    assert (pkg.files, main, pkg.name) == (("echo.cwl",), "echo.cwl", "echo")


def test_unsupported_messages() -> None:
    assert runner.is_unsupported("Unsupported requirement MPIRequirement.")
    assert runner.is_unsupported("workflow 1 is FAILED: main.cwl: the main CWL process is a Operation; expected one of")
    assert runner.is_unsupported("Remote references are not supported (http://x)")
    assert not runner.is_unsupported("Task boom failed with exit status 3")


def test_runner_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.main(["--enable-dev", "--outdir", str(tmp_path), str(tmp_path / "missing.cwl")]) == runner.EXIT_USAGE
    assert "missing.cwl: no such file" in capsys.readouterr().err


# -- cwltest plumbing ---------------------------------------------------------------------------------------


def test_selection_by_tags_and_even_sample() -> None:
    tests = [{"id": f"t{i}", "tags": ["a" if i % 2 else "b", "required"]} for i in range(10)]
    assert [t["id"] for t in conformance.select_tests(tests, tags=["a"])] == ["t1", "t3", "t5", "t7", "t9"]
    assert len(conformance.select_tests(tests, exclude_tags=["required"])) == 0
    assert [t["id"] for t in conformance.select_tests(tests, sample=4)] == ["t0", "t2", "t5", "t7"]
    assert len(conformance.select_tests(tests, sample=50)) == 10


def test_written_suite_loads_back_in_cwltest(tmp_path: Path) -> None:
    pytest.importorskip("cwltest")
    from cwltest.utils import load_and_validate_tests

    tests, _ = load_and_validate_tests(str(SAMPLE_SUITE))
    assert {conformance.short_id(t["id"]) for t in tests} == SAMPLE_IDS
    chosen = conformance.select_tests(tests, tags=["required"])
    conformance.write_suite(chosen, tmp_path / "suite.json")
    again, _ = load_and_validate_tests(str(tmp_path / "suite.json"))
    assert [conformance.short_id(t["id"]) for t in again] == [conformance.short_id(t["id"]) for t in chosen]
    assert [t["tool"] for t in again] == [t["tool"] for t in chosen]
    assert [bool(t.get("should_fail")) for t in again] == [False] * 4 + [True]


JUNIT = """<?xml version="1.0" ?>
<testsuites disabled="0" errors="0" failures="1" tests="4" time="3.0">
  <testsuite disabled="0" errors="0" failures="1" name="suite" skipped="1" tests="4" time="3.0">
    <testcase name="doc a" time="1.250000" class="command_line_tool, required" file="ok"/>
    <testcase name="doc b" time="1.0" class="workflow" file="bad">
      <failure type="failure">expected: 1 got: 2</failure>
    </testcase>
    <testcase name="doc c" class="scatter" file="unsupported">
      <skipped type="skipped" message="Unsupported"/>
    </testcase>
    <testcase name="doc d" time="0.75" class="required" file="should_fail_passed"/>
  </testsuite>
</testsuites>
"""


def test_junit_and_log_give_each_test_result(tmp_path: Path) -> None:
    path = write(tmp_path / "junit.xml", JUNIT)
    log = "Test [4/4] should_fail_passed\nTest 4 failed: runner x.cwl\nReturned zero but it should be non-zero\n"
    assert conformance.failed_numbers(log + "Test 12 timed out: y\n") == {4, 12}
    cases = conformance.parse_junit(path, conformance.failed_numbers(log))
    assert [(c.id, c.status) for c in cases] == [
        ("ok", "passed"),
        ("bad", "failed"),
        ("unsupported", "unsupported"),
        ("should_fail_passed", "failed"),
    ]
    assert cases[0].tags == ("command_line_tool", "required") and cases[0].seconds == 1.25
    assert cases[1].message == "expected: 1 got: 2"
    report = conformance.summarize(cases, suite=path, selection={"sample": 4}, seconds=3.04)
    assert report["counts"] == {"passed": 1, "failed": 2, "unsupported": 1, "total": 4}
    assert report["by_tag"]["required"] == {"passed": 1, "failed": 1, "unsupported": 0, "total": 2}
    assert report["selection"]["sample"] == 4
    assert [t["status"] for t in json.loads(json.dumps(report))["tests"]] == [
        "passed",
        "failed",
        "unsupported",
        "failed",
    ]


def test_missing_suite_says_where_to_get_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert conformance.main(["--output", str(tmp_path / "r.json")]) == 2
    assert "common-workflow-language/cwl-v1.2" in capsys.readouterr().err
    assert conformance.main(["--suite", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: no such file" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


# -- live ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sample_suite_passes_through_a_live_omicsd(tmp_path: Path) -> None:
    pytest.importorskip("cwltest")
    output = tmp_path / "cwl_conformance.json"
    code = conformance.main(
        ["--suite", str(SAMPLE_SUITE), "-j", "4", "--output", str(output), "--workdir", str(tmp_path / "w")]
    )
    report = json.loads(output.read_text())
    failed = [t for t in report["tests"] if t["status"] != "passed"]
    assert code == 0, failed
    assert report["counts"] == {"passed": 9, "failed": 0, "unsupported": 0, "total": 9}
    assert {t["id"] for t in report["tests"]} == SAMPLE_IDS


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Any, Settings]]:
    """A boto3 client for a live server on a fresh data directory, and that server's settings."""
    settings = make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'omicsd.db'}")
    with serve(build_app(settings)) as url:
        yield omics_client(url), settings


@pytest.mark.slow
def test_runner_exit_status_for_failures_and_unsupported_features(live: tuple[Any, Settings], tmp_path: Path) -> None:
    client, settings = live

    def run(tool: Path, job: Path | None = None) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        options = runner.RunnerOptions(
            tool=str(tool), job=str(job) if job else None, outdir=tmp_path / "out", data_dir=str(settings.data_path)
        )
        return runner.run(options, client=client, out=out, err=err), out.getvalue(), err.getvalue()

    operation = write(
        tmp_path / "op.cwl", "cwlVersion: v1.2\nclass: Operation\ninputs: {x: string}\noutputs: {y: string}\n"
    )
    code, out, err = run(operation)
    assert (code, out) == (runner.EXIT_UNSUPPORTED, "")
    assert "Operation" in err
    code, out, err = run(SAMPLE / "tests" / "fail.cwl")
    assert (code, out) == (runner.EXIT_FAILED, "")
    assert "FAILED: Task fail failed with exit status 1" in err
    code, out, err = run(SAMPLE / "tests" / "sort-file.cwl", SAMPLE / "tests" / "sort-job.yaml")
    assert code == runner.EXIT_OK, err
    assert "reused" not in err
    assert json.loads(out)["sorted"]["checksum"] == sha1(b"apple\nbanana\nfig\npear\n")
    staged = settings.buckets_path / "conformance"
    assert [p.read_text() for p in staged.rglob("fruits.txt")] == [(SAMPLE / "tests" / "fruits.txt").read_text()]
