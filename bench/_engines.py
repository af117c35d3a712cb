"""Workflow cases: omicsd against the bare engines on the same workflows, and the fork/exec floor.

Owns: ``wdl_hello``, ``wdl_scatter200`` (omicsd vs ``miniwdl run`` with the host backend of
:mod:`bench.miniwdl_host_backend`), ``cwl_hello``, ``cwl_scatter200`` (omicsd vs ``cwltool --no-container
--parallel``) and ``floor`` (200 fork/execs of ``/bin/sh -c 'echo x > f'`` from Python).

Each omicsd variant is a real ``omicsd serve`` subprocess; after one untimed warm-up run, every repetition
times StartRun → COMPLETED as a boto3 client polling GetRun every 10 ms sees it. The bare engine is timed as a
whole command (interpreter start to exit). Variants are interleaved repetition by repetition so that a noisy
neighbour slows all of them alike.
Variants: ``omicsd`` as shipped (drivers forked from warm per-engine helpers) and ``omicsd, warm drivers off``
(``server.warm_drivers = false``: each driver is a fresh ``python -m`` interpreter), to show what warm drivers buy.
Must not: import omicsd.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._context import REPO, VARIANTS, WORKFLOWS, Context
from bench._server import CaseError, NotAvailable, Server, register, time_run
from bench._stats import ERROR, NOT_AVAILABLE, OK, Row, Target

BIN = Path(sys.executable).parent
METRIC = "end-to-end"
"""omicsd: StartRun → COMPLETED seen by a client polling every 10 ms; bare engines and the floor: wall time."""


@dataclass(frozen=True)
class Workload:
    """One workflow run three ways."""

    case: str
    definition: Path
    parameters: Mapping[str, Any]
    bare: str
    """Variant name of the bare engine (the ratio's baseline)."""
    bare_command: Callable[[Path], list[str]]
    """The bare engine's command line, given a scratch directory."""
    target: Target


def wdl_hello(ctx: Context) -> list[Row]:
    """Hello-world WDL: omicsd vs ``miniwdl run``."""
    return _compare(ctx, _wdl("wdl_hello", "hello.wdl", {}, Target("<=", 0.3)))


def wdl_scatter200(ctx: Context) -> list[Row]:
    """A 200-task scatter WDL: omicsd vs ``miniwdl run``."""
    return _compare(ctx, _wdl("wdl_scatter200", "scatter200.wdl", {}, Target("<=", 1.0)))


def cwl_hello(ctx: Context) -> list[Row]:
    """Hello-world CWL: omicsd vs ``cwltool --no-container --parallel``."""
    return _compare(ctx, _cwl("cwl_hello", "hello.cwl", {}, Target("<=", 0.4)))


def cwl_scatter200(ctx: Context) -> list[Row]:
    """A 200-task scatter CWL: omicsd vs ``cwltool --no-container --parallel``."""
    return _compare(ctx, _cwl("cwl_scatter200", "scatter200.cwl", {"items": list(range(200))}, Target("<=", 1.0)))


def floor(ctx: Context) -> list[Row]:
    """200 fork/execs of ``/bin/sh -c 'echo x > f'`` from this Python process, sequentially and in parallel."""
    root = ctx.scratch("floor")
    threads = os.cpu_count() or 1

    def one(i: int) -> None:
        subprocess.run(["/bin/sh", "-c", f"echo x > f{i}"], cwd=root, check=True)

    sequential: list[float] = []
    parallel: list[float] = []
    for _ in range(ctx.reps):
        began = time.perf_counter()
        for i in range(200):
            one(i)
        sequential.append(time.perf_counter() - began)
        with ThreadPoolExecutor(threads) as pool:
            began = time.perf_counter()
            list(pool.map(one, range(200)))
            parallel.append(time.perf_counter() - began)
    return [
        Row("floor", "subprocess.run x200, sequential", METRIC, "s", tuple(sequential)),
        Row("floor", f"subprocess.run x200, {threads} threads", METRIC, "s", tuple(parallel)),
    ]


# -- the comparison ---------------------------------------------------------------------------------------


def _wdl(case: str, filename: str, parameters: Mapping[str, Any], target: Target) -> Workload:
    definition = WORKFLOWS / "wdl" / filename

    def command(scratch: Path) -> list[str]:
        return [sys.executable, "-m", "bench.miniwdl_host_backend", "run", str(definition), "--dir", f"{scratch}/"]

    return Workload(case, definition, parameters, "miniwdl run (host backend)", command, target)


def _cwl(case: str, filename: str, parameters: Mapping[str, Any], target: Target) -> Workload:
    definition = WORKFLOWS / "cwl" / filename

    def command(scratch: Path) -> list[str]:
        job = scratch / "job.json"
        job.write_text(json.dumps(dict(parameters)))
        tmp = scratch / "tmp"
        tmp.mkdir(exist_ok=True)
        return [
            str(BIN / "cwltool"),
            "--quiet",
            "--no-container",
            "--parallel",
            "--outdir",
            str(scratch / "out"),
            "--tmpdir-prefix",
            f"{tmp}/",
            "--tmp-outdir-prefix",
            f"{tmp}/",
            str(definition),
            str(job),
        ]

    return Workload(case, definition, parameters, "cwltool --no-container --parallel", command, target)


class _Variant:
    """An omicsd server variant with its registered workflow (or the reason it has none)."""

    def __init__(self, name: str, server: Server) -> None:
        self.name = name
        self.server = server
        self.client: Any = None
        self.workflow_id = ""
        self.samples: list[float] = []
        self.status = OK
        self.note = ""

    def fail(self, status: str, note: str) -> None:
        self.status, self.note = status, note


def _compare(ctx: Context, work: Workload) -> list[Row]:
    root = ctx.scratch(work.case)
    variants = [_Variant(name, Server(root / f"omicsd-{i}", env=env)) for i, (name, env) in enumerate(VARIANTS.items())]
    bare: list[float] = []
    bare_status, bare_note = OK, ""
    with ExitStack() as stack:
        for variant in variants:
            _prepare(ctx, stack, variant, work)
        for rep in range(ctx.reps):
            for variant in variants:
                if variant.status != OK:
                    continue
                try:
                    variant.samples.append(time_run(variant.client, variant.workflow_id, parameters=work.parameters))
                except NotAvailable as exn:
                    variant.fail(NOT_AVAILABLE, str(exn))
                except CaseError as exn:
                    variant.fail(ERROR, str(exn))
            if bare_status == OK:
                scratch = root / f"bare-{rep}"
                scratch.mkdir(parents=True, exist_ok=True)
                try:
                    bare.append(_time_command(work.bare_command(scratch), scratch))
                except CaseError as exn:
                    bare_status, bare_note = ERROR, str(exn)
            ctx.log(f"{work.case} rep {rep + 1}/{ctx.reps}: " + _progress(variants, bare))
    rows = [
        Row(
            work.case,
            v.name,
            METRIC,
            "s",
            tuple(v.samples),
            target=work.target,
            baseline=work.bare,
            status=v.status,
            note=v.note,
        )
        for v in variants
    ]
    rows.append(Row(work.case, work.bare, METRIC, "s", tuple(bare), status=bare_status, note=bare_note))
    return rows


def _prepare(ctx: Context, stack: ExitStack, variant: _Variant, work: Workload) -> None:
    """Start the variant's server, register the workflow and do one untimed warm-up run.

    The warm-up runs the hello workflow of the same language: it pays the server's and the engine's first-run
    costs (lazy imports; the first run of an engine starts cold and starts its warm helper, which is then given
    time to finish importing) without the time of a 200-task run.
    """
    try:
        variant.server.start()
        stack.callback(variant.server.stop)
        variant.client = variant.server.client()
        variant.workflow_id = register(variant.client, work.definition)
        hello = work.definition.with_stem("hello")
        warm_id = variant.workflow_id if hello == work.definition else register(variant.client, hello)
        time_run(variant.client, warm_id)  # starts the engine's warm helper (when warm drivers are on)
        variant.server.wait_helpers_settled()
        time_run(variant.client, warm_id)
    except NotAvailable as exn:
        variant.fail(NOT_AVAILABLE, str(exn))
    except CaseError as exn:
        variant.fail(ERROR, str(exn))
    if variant.status != OK:
        ctx.log(f"{work.case} / {variant.name}: {variant.status}: {variant.note}")


def _time_command(cmd: list[str], scratch: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMICSD", "MINIWDL"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    with open(scratch / "command.log", "wb") as log:
        began = time.perf_counter()
        code = subprocess.run(cmd, cwd=scratch, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
        elapsed = time.perf_counter() - began
    if code != 0:
        raise CaseError(f"{Path(cmd[0]).name} exited {code}; see {scratch / 'command.log'}")
    return elapsed


def _progress(variants: list[_Variant], bare: list[float]) -> str:
    parts = [f"{v.name}={v.samples[-1]:.3f}s" for v in variants if v.status == OK and v.samples]
    if bare:
        parts.append(f"bare={bare[-1]:.3f}s")
    return ", ".join(parts)
