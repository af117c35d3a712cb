"""The benchmark suite: statistics, report formatting, the command line, the host backend and one real case."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import bench.__main__ as cli
from bench import _engines, _report
from bench._context import OMICSD, OMICSD_COLD, REPO, WORKFLOWS, Context
from bench._stats import ERROR, NOT_AVAILABLE, Row, Target, percentile, ratio, summarize


def row(variant: str, samples: tuple[float, ...], **kwargs: object) -> Row:
    return Row("wdl_hello", variant, "end-to-end", "s", samples, **kwargs)  # type: ignore[arg-type]


# -- statistics -------------------------------------------------------------------------------------------


def test_percentile_interpolates_between_closest_ranks() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert percentile([float(i) for i in range(1, 101)], 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0


def test_percentile_rejects_nothing_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary_is_median_and_range() -> None:
    summary = summarize([0.5, 0.3, 0.9, 0.4])
    assert summary is not None
    assert (summary.median, summary.low, summary.high, summary.n) == (0.45, 0.3, 0.9, 4)
    assert summarize([]) is None


def test_targets_for_times_and_throughput() -> None:
    assert Target("<=", 0.3).met(0.3) and not Target("<=", 0.3).met(0.31)
    assert Target(">=", 1500).met(1600) and not Target(">=", 1500).met(1499)
    assert Target("<=", 0.3).describe("s") == "≤ 0.3 s"
    assert Target(">=", 1500).describe("req/s") == "≥ 1,500 req/s"


def test_ratio_against_the_baseline_variant() -> None:
    bare = row("miniwdl", (1.0, 2.0, 3.0))
    omicsd = row("omicsd", (1.0, 1.0, 1.0), baseline="miniwdl")
    assert ratio(omicsd, [omicsd, bare]) == 0.5
    assert ratio(bare, [omicsd, bare]) is None
    broken = Row("wdl_hello", "miniwdl", "end-to-end", "s", status=ERROR)
    assert ratio(omicsd, [omicsd, broken]) is None


def test_met_needs_samples_and_an_ok_status() -> None:
    assert row("omicsd", (0.2, 0.4, 0.25), target=Target("<=", 0.3)).met() is True
    assert row("omicsd", (0.5, 0.4), target=Target("<=", 0.3)).met() is False
    assert row("omicsd", (), target=Target("<=", 0.3)).met() is None
    assert row("omicsd", (0.1,), target=Target("<=", 0.3), status=NOT_AVAILABLE).met() is None
    assert row("omicsd", (0.1, 0.2)).met() is None


# -- report -----------------------------------------------------------------------------------------------


META = {"started": "2026-01-01T00:00:00Z", "machine": {"cpu": "Test CPU", "cpus": 2}, "repetitions": 3}


def test_markdown_table_has_median_range_ratio_and_verdict() -> None:
    rows = [
        row("omicsd", (0.2, 0.6, 0.4), target=Target("<=", 0.3), baseline="miniwdl"),
        row("miniwdl", (0.8, 0.8, 0.8)),
        Row("batch_100k", "omicsd", "StartRunBatch", "s", status=NOT_AVAILABLE, note="StartRunBatch is not supported"),
    ]
    text = _report.markdown(rows, META)
    assert "Test CPU, 2 CPUs" in text
    assert "| wdl_hello | omicsd | end-to-end | 0.400 s | 0.200-0.600 | 3 | 0.50x | ≤ 0.3 s | **no** |" in text
    assert "| wdl_hello | miniwdl | end-to-end | 0.800 s | 0.800-0.800 | 3 |  |  |  |" in text
    assert "| batch_100k | omicsd | StartRunBatch | *not available* |" in text
    assert "- **batch_100k / omicsd**: StartRunBatch is not supported" in text


def test_units_have_their_precision() -> None:
    assert _report.fmt(1520.4, "req/s") == "1,520"
    assert _report.fmt(0.51234, "s") == "0.512"
    assert _report.fmt(12.34, "s") == "12.3"
    assert _report.fmt(79.25, "MB") == "79.2"


def test_json_keeps_samples_summary_ratio_and_verdict(tmp_path: Path) -> None:
    rows = [row("omicsd", (0.2, 0.4, 0.25), target=Target("<=", 0.3), baseline="miniwdl"), row("miniwdl", (0.5, 0.5))]
    json_path, md_path = _report.write(rows, META, tmp_path / "out")
    data = json.loads(json_path.read_text())
    first = data["rows"][0]
    assert first["samples"] == [0.2, 0.4, 0.25]
    assert (first["median"], first["min"], first["max"], first["n"]) == (0.25, 0.2, 0.4, 3)
    assert first["ratio_vs_baseline"] == pytest.approx(0.5)
    assert first["target"] == {"op": "<=", "value": 0.3}
    assert first["met"] is True
    assert data["machine"]["cpu"] == "Test CPU"
    assert md_path.name == "latest.md" and "| wdl_hello | omicsd |" in md_path.read_text()


# -- command line -----------------------------------------------------------------------------------------


def test_list_names_every_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in ("floor", "wdl_hello", "wdl_scatter200", "cwl_hello", "cwl_scatter200", "batch", "control"):
        assert name in out


def test_unknown_cases_and_single_samples_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--only", "nope"]) == 2
    assert cli.main(["--reps", "1", "--only", "floor"]) == 2


def test_a_failing_case_becomes_an_error_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def good(ctx: Context) -> list[Row]:
        assert ctx.reps == 2 and ctx.quick
        return [Row("good", "v", "m", "s", (1.0, 2.0))]

    def bad(ctx: Context) -> list[Row]:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "CASES", {"good": good, "bad": bad})
    assert cli.main(["--quick", "--out", str(tmp_path)]) == 0
    data = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert [(r["case"], r["status"]) for r in data["rows"]] == [("good", "ok"), ("bad", "error")]
    assert data["rows"][1]["note"] == "RuntimeError: boom"
    assert "| good | v | m | 1.500 s |" in capsys.readouterr().out


def test_floor_case_measures_both_ways(tmp_path: Path) -> None:
    rows = _engines.floor(Context(reps=2, quick=True, work=tmp_path))
    assert [r.variant for r in rows] == ["subprocess.run x200, sequential", f"subprocess.run x200, {_cpus()} threads"]
    assert all(len(r.samples) == 2 and all(s > 0 for s in r.samples) for r in rows)


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


# -- slow: real engines and a real server -----------------------------------------------------------------


MINIWDL = [sys.executable, "-m", "bench.miniwdl_host_backend"]


@pytest.mark.slow
def test_miniwdl_runs_on_the_host_backend(tmp_path: Path) -> None:
    result = subprocess.run(
        [*MINIWDL, "run", str(WORKFLOWS / "wdl" / "hello.wdl"), "name=bench", "--dir", f"{tmp_path}/"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    outputs = json.loads(result.stdout)["outputs"]
    assert Path(outputs["hello.greeting"]).read_text() == "Hello, bench!\n"


@pytest.mark.slow
def test_quick_wdl_hello_case_end_to_end(tmp_path: Path) -> None:
    assert cli.main(["--quick", "--only", "wdl_hello", "--out", str(tmp_path)]) == 0
    data = json.loads(next(tmp_path.glob("*.json")).read_text())
    by_variant = {r["variant"]: r for r in data["rows"]}
    assert set(by_variant) == {OMICSD, OMICSD_COLD, "miniwdl run (host backend)"}
    for r in by_variant.values():
        assert r["status"] == "ok", r["note"]
        assert r["n"] == 2 and r["median"] > 0
    assert by_variant[OMICSD]["ratio_vs_baseline"] is not None
    assert (tmp_path / "latest.md").exists()
