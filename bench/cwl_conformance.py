"""Run a CWL conformance suite (cwltest format) through a live omicsd and record the pass count.

Usage: ``python -m bench.cwl_conformance --suite PATH/conformance_tests.yaml [--tags T,...] [--exclude-tags T,...]
[-j N] [--sample N] [--endpoint-url URL --data-dir DIR] [--output FILE]``.

Owns: selecting the tests (tags, then an evenly spread ``--sample``), writing them as one self-contained suite
file, starting ``omicsd serve`` on a fresh data directory (unless ``--endpoint-url`` names a running server, whose
data directory ``--data-dir`` must give), running ``cwltest`` with :mod:`bench.cwl_runner` as its ``--tool``, and
reading cwltest's JUnit XML (cross-checked with its log, which also reports should-fail tests that passed) into
``bench/results/cwl_conformance.json``: counts of passed, failed and unsupported tests, per tag and per test.

Exit status: 0 when no selected test failed, 1 when some did, 2 when the suite or cwltest is missing.

Must not: import omicsd or cwl_runner (the server and the runner are driven from the outside), or write into
the suite's folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
RUNNER = REPO / "bench" / "cwl_runner.py"
DEFAULT_OUTPUT = REPO / "bench" / "results" / "cwl_conformance.json"
SUITE_HELP = (
    "a CWL conformance suite is needed: clone https://github.com/common-workflow-language/cwl-v1.2 and pass "
    "--suite cwl-v1.2/conformance_tests.yaml (any file in cwltest's format works, e.g. "
    "tests/data/cwl_conformance_sample/conformance_tests.yaml)"
)
PASSED = "passed"
FAILED = "failed"
UNSUPPORTED = "unsupported"
_FAILED_LINE = re.compile(r"^Test (\d+) (?:failed|timed out|interrupted)\b", re.MULTILINE)
_TEST_KEYS = ("doc", "tool", "job", "output", "tags", "label")


@dataclass(frozen=True)
class CaseResult:
    """One test's outcome."""

    number: int
    """1-based position in the suite that was run."""
    id: str
    status: str
    """``passed``, ``failed`` or ``unsupported``."""
    tags: tuple[str, ...]
    seconds: float
    message: str = ""


def main(argv: list[str] | None = None) -> int:
    """Command-line entry (see the module docstring); returns the exit status."""
    args = _parser().parse_args(argv)
    if args.suite is None or not args.suite.is_file():
        where = f"{args.suite}: no such file; " if args.suite is not None else ""
        sys.stderr.write(f"cwl_conformance: {where}{SUITE_HELP}\n")
        return 2
    try:
        from cwltest.utils import load_and_validate_tests
    except ImportError:
        sys.stderr.write("cwl_conformance: cwltest is not installed (pip install cwltest)\n")
        return 2
    if args.endpoint_url and not args.data_dir:
        sys.stderr.write("cwl_conformance: --endpoint-url needs --data-dir (the server's data directory)\n")
        return 2
    all_tests, _ = load_and_validate_tests(str(args.suite))
    tests = select_tests(all_tests, tags=_split(args.tags), exclude_tags=_split(args.exclude_tags), sample=args.sample)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="omicsd-cwl-conformance-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    try:
        with _server(args, workdir) as (url, data_dir):
            cases, exit_code = run_cwltest(
                tests, workdir, url=url, data_dir=data_dir, jobs=args.j, timeout=args.timeout, tool=args.tool
            )
    finally:
        if args.keep or args.workdir:
            sys.stderr.write(f"cwl_conformance: scratch folder kept: {workdir}\n")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report = summarize(cases, suite=args.suite, selection=vars(args), seconds=time.monotonic() - began)
    report["cwltest_exit_status"] = exit_code
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    counts = report["counts"]
    print(
        f"CWL conformance through omicsd: {counts[PASSED]} passed, {counts[FAILED]} failed, "
        f"{counts[UNSUPPORTED]} unsupported of {counts['total']} ({args.suite}); results in {args.output}"
    )
    return 1 if counts[FAILED] else 0


def select_tests(
    tests: Sequence[Mapping[str, Any]],
    *,
    tags: Sequence[str] = (),
    exclude_tags: Sequence[str] = (),
    sample: int | None = None,
) -> list[dict[str, Any]]:
    """The tests to run: those with any of ``tags`` (all when empty) and none of ``exclude_tags``, then
    ``sample`` of them spread evenly over the suite (deterministic)."""
    chosen = [
        dict(test)
        for test in tests
        if (not tags or set(tags) & set(test.get("tags") or [])) and not set(exclude_tags) & set(test.get("tags") or [])
    ]
    if sample is not None and 0 < sample < len(chosen):
        chosen = [chosen[i * len(chosen) // sample] for i in range(sample)]
    return chosen


def write_suite(tests: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Write ``tests`` (as cwltest loaded them: absolute ``tool``/``job`` URIs) as a suite file of their own."""
    entries: list[dict[str, Any]] = []
    for test in tests:
        entry: dict[str, Any] = {}
        if test.get("id") is not None:
            entry["id"] = short_id(test["id"])
        entry.update({key: test[key] for key in _TEST_KEYS if test.get(key) is not None})
        if test.get("should_fail"):
            entry["should_fail"] = True
        entries.append(entry)
    path.write_text(json.dumps(entries, indent=1) + "\n")


def run_cwltest(
    tests: Sequence[Mapping[str, Any]],
    workdir: Path,
    *,
    url: str,
    data_dir: Path,
    jobs: int = 1,
    timeout: int = 600,
    tool: str | None = None,
) -> tuple[list[CaseResult], int]:
    """Run ``tests`` with cwltest against the server at ``url``; returns each test's result and cwltest's exit.

    Args:
        tests: as :func:`select_tests` returns them.
        workdir: scratch folder (suite file, runner wrapper, JUnit XML, cwltest's output folders).
        url: the server's endpoint.
        data_dir: the server's data directory (its local buckets are written by the runner).
        jobs: tests run at the same time.
        timeout: seconds before cwltest gives up on one test.
        tool: the runner executable (default: a wrapper running :mod:`bench.cwl_runner` with this Python).
    """
    suite = workdir / "suite.json"
    write_suite(tests, suite)
    junit = workdir / "junit.xml"
    runner = tool or str(_runner_wrapper(workdir))
    scratch = workdir / "tmp"
    scratch.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMICSD", "AWS_"))}
    env.update(
        {
            "AWS_ENDPOINT_URL": url,
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
            "OMICSD__SERVER__DATA_DIR": str(data_dir),
            "TMPDIR": str(scratch),
        }
    )
    command = [sys.executable, "-m", "cwltest", "--test", str(suite), "--tool", runner, "-j", str(max(1, jobs))]
    command += ["--timeout", str(timeout), "--junit-xml", str(junit)]
    log: list[str] = []
    with subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stderr.write(line)
            log.append(line)
    cases = parse_junit(junit, failed_numbers("".join(log))) if junit.is_file() else []
    return cases, proc.returncode


def parse_junit(path: Path, failed: set[int] | None = None) -> list[CaseResult]:
    """Test results from cwltest's JUnit XML, in suite order.

    A ``<skipped>`` case is unsupported, a ``<failure>``/``<error>`` case failed, and so does any case whose
    number is in ``failed`` (cwltest records a should-fail test that succeeded without a failure element).
    """
    failed = failed or set()
    results: list[CaseResult] = []
    for number, case in enumerate(ElementTree.parse(path).getroot().iter("testcase"), start=1):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if case.find("skipped") is not None:
            status, message = UNSUPPORTED, ""
        elif failure is not None or number in failed:
            text = (failure.get("message") or failure.text or "") if failure is not None else ""
            status, message = FAILED, text.strip() or "cwltest reported the test as failed"
        else:
            status, message = PASSED, ""
        category = case.get("class") or ""
        results.append(
            CaseResult(
                number=number,
                id=case.get("file") or case.get("name") or str(number),
                status=status,
                tags=tuple(t.strip() for t in category.split(",") if t.strip()),
                seconds=round(float(case.get("time") or 0.0), 3),
                message=message[:2000],
            )
        )
    return results


def failed_numbers(log: str) -> set[int]:
    """Numbers of the tests cwltest's log reports as failed, timed out or interrupted."""
    return {int(n) for n in _FAILED_LINE.findall(log)}


def summarize(
    cases: Sequence[CaseResult], *, suite: Path, selection: Mapping[str, Any], seconds: float
) -> dict[str, Any]:
    """The JSON report: counts overall and per tag, the selection, versions and every test's result."""
    counts = _count(cases)
    by_tag: dict[str, dict[str, int]] = {}
    for tag in sorted({t for case in cases for t in case.tags}):
        by_tag[tag] = _count([case for case in cases if tag in case.tags])
    return {
        "suite": str(suite.resolve()),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "versions": {name: _version(name) for name in ("omicsd", "cwltool", "cwltest")},
        "selection": {k: selection.get(k) for k in ("tags", "exclude_tags", "sample", "j", "timeout")},
        "counts": counts,
        "by_tag": by_tag,
        "tests": [asdict(case) for case in cases],
    }


def short_id(identifier: Any) -> str:
    """A test's short name (the last ``/`` or ``#`` segment of its id)."""
    parts = [part for part in re.split(r"[/#]", str(identifier)) if part]
    return parts[-1] if parts else str(identifier)


def _count(cases: Sequence[CaseResult]) -> dict[str, int]:
    counts = {status: sum(1 for c in cases if c.status == status) for status in (PASSED, FAILED, UNSUPPORTED)}
    counts["total"] = len(cases)
    return counts


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.cwl_conformance", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", type=Path, help="conformance_tests.yaml of a cwl-v1.2 checkout (or similar)")
    parser.add_argument("--tags", help="run only tests with one of these comma-separated tags")
    parser.add_argument("--exclude-tags", help="skip tests with one of these comma-separated tags")
    parser.add_argument("-j", type=int, default=2, help="tests run at the same time (default 2)")
    parser.add_argument("--sample", type=int, help="run only N tests, spread evenly over the selection")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per test (default 600)")
    parser.add_argument("--endpoint-url", help="use this running server instead of starting one")
    parser.add_argument("--data-dir", type=Path, help="the running server's data directory (with --endpoint-url)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"report file (default {DEFAULT_OUTPUT})")
    parser.add_argument("--tool", help="runner executable for cwltest (default: bench/cwl_runner.py via omicsd)")
    parser.add_argument("--workdir", type=Path, help="scratch folder to use and keep (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary scratch folder and server data")
    return parser


@contextmanager
def _server(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, Path]]:
    if args.endpoint_url:
        yield args.endpoint_url, Path(args.data_dir).resolve()
        return
    data_dir = workdir / "data"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMICSD", "AWS_"))}
    command = [sys.executable, "-m", "omicsd", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    with (workdir / "server.log").open("ab") as log:
        proc = subprocess.Popen(
            [*command, "--log-level", "warning"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url, data_dir
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"omicsd serve did not become ready at {url} (see its server.log)")
        time.sleep(0.05)


def _runner_wrapper(workdir: Path) -> Path:
    """An executable cwltest can call by name: it runs the runner with this Python."""
    wrapper = workdir / "omicsd-cwl-runner"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{RUNNER}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()] if value else []


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
