"""``python -m bench [--quick] [--only NAME ...] [--reps N] [--out DIR]``: the side-by-side benchmark suite.

Runs the cases in one invocation on this machine, prints the Markdown table and writes ``<out>/<timestamp>.json``
and ``<out>/latest.md`` (default ``bench/results/``). See bench/README.md for what each case measures.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import _control, _engines, _memory, _proc, _report
from bench._context import REPO, Case, Context
from bench._stats import ERROR, Row

CASES: dict[str, Case] = {
    "floor": _engines.floor,
    "wdl_hello": _engines.wdl_hello,
    "wdl_scatter200": _engines.wdl_scatter200,
    "cwl_hello": _engines.cwl_hello,
    "cwl_scatter200": _engines.cwl_scatter200,
    "batch": _control.batch,
    "control": _control.control,
    "cached_rerun": _control.cached_rerun,
    "memory": _memory.memory,
}
"""Every case, in the order a full run takes them."""

DEFAULT_REPS = 5
QUICK_REPS = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected cases and write the report."""
    args = _parser().parse_args(argv)
    if args.list:
        for name, case in CASES.items():
            print(f"{name:16} {(case.__doc__ or '').strip().splitlines()[0]}")
        return 0
    unknown = [name for name in args.only if name not in CASES]
    if unknown:
        print(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(CASES)}", file=sys.stderr)
        return 2
    reps = args.reps or (QUICK_REPS if args.quick else DEFAULT_REPS)
    if reps < 2:
        print("--reps must be at least 2 (a single sample is not a measurement)", file=sys.stderr)
        return 2
    selected = args.only or list(CASES)
    work = Path(tempfile.mkdtemp(prefix="omicsd-bench-"))
    ctx = Context(reps=reps, quick=args.quick, work=work, verbose=args.verbose)
    meta = _meta(reps, args.quick, selected)
    rows: list[Row] = []
    began = time.monotonic()
    try:
        for name in selected:
            ctx.log(f"case {name}")
            case_began = time.monotonic()
            try:
                rows += CASES[name](ctx)
            except Exception as exn:  # one broken case must not lose the others' results
                rows.append(Row(name, "-", "-", "", status=ERROR, note=f"{type(exn).__name__}: {exn}"))
            ctx.log(f"case {name} took {time.monotonic() - case_began:.0f} s")
    finally:
        if args.keep:
            ctx.log(f"scratch kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    meta["load_end"] = _proc.load_average()
    meta["duration_s"] = round(time.monotonic() - began, 1)
    json_path, md_path = _report.write(rows, meta, Path(args.out))
    print(_report.markdown(rows, meta))
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_REPS} repetitions and smaller batch sizes")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help="run only these cases")
    parser.add_argument("--reps", type=int, help=f"repetitions per measurement (default {DEFAULT_REPS})")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"), help="directory for the results")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (server logs, run dirs)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--verbose", action="store_true", help="more progress output")
    return parser


def _meta(reps: int, quick: bool, selected: list[str]) -> dict[str, Any]:
    return {
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": _proc.machine(),
        "platform": platform.platform(),
        "load_start": _proc.load_average(),
        "versions": _versions(),
        "repetitions": reps,
        "quick": quick,
        "cases": selected,
    }


def _versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for dist in ("omicsd", "miniwdl", "cwltool", "boto3"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        if commit:
            out["commit"] = commit
    except (OSError, subprocess.TimeoutExpired):
        pass
    return out


if __name__ == "__main__":
    raise SystemExit(main())
