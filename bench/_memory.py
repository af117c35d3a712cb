"""Memory case: idle server RSS, and the memory each active run adds (its driver plus the server's growth).

Owns: ``memory``. Per repetition and per variant (warm drivers on and off) it starts a fresh ``omicsd serve``,
waits until it has settled, reads its RSS from /proc — alone, and together with the warm-driver helpers it has
running (the whole idle footprint, which the target applies to) — then starts :data:`ACTIVE` runs of a
one-task ``sleep`` workflow, waits until every run is RUNNING with a live driver, and reads the RSS and PSS
of each driver and the server again. Per active run = (server growth + sum of driver sizes) / runs. RSS
counts pages a forked driver shares with the fork-server helper in full; PSS splits them among the sharers,
which is the fair per-run figure for forked drivers. Task processes (``sleep``) are not counted.
Must not: leave runs going (they are cancelled, then the server is stopped).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench import _proc
from bench._context import VARIANTS, WORKFLOWS, Context
from bench._server import CaseError, NotAvailable, Server, register, start_run, wait_run
from bench._stats import ERROR, NOT_AVAILABLE, OK, Row, Target

ACTIVE = 4
SETTLE_SECONDS = 2.0


def memory(ctx: Context) -> list[Row]:
    """Idle server RSS after start-up, and RSS (and PSS) per active run."""
    rows: list[Row] = []
    for variant, env in VARIANTS.items():
        idle: list[float] = []
        idle_total: list[float] = []
        per_run_rss: list[float] = []
        per_run_pss: list[float] = []
        helper: list[float] = []
        status, note = OK, ""
        for rep in range(ctx.reps):
            server = Server(ctx.scratch(f"memory-{rep}"), env=env)
            try:
                server.start()
                idle.append(_settled_rss(server))
                idle_total.append(idle[-1] + sum(_proc.rss_mb(pid) for pid in server.helper_pids()))
                client = server.client()
                rss, pss = _per_run(server, client)
                per_run_rss.append(rss)
                per_run_pss.append(pss)
                helpers = server.helper_pids()
                if helpers:
                    helper.append(sum(_proc.rss_mb(pid) for pid in helpers))
            except NotAvailable as exn:
                status, note = NOT_AVAILABLE, str(exn)
                break
            except CaseError as exn:
                status, note = ERROR, str(exn)
                break
            finally:
                server.stop()
            ctx.log(
                f"memory {variant} rep {rep + 1}/{ctx.reps}: idle {idle[-1]:.1f} MB "
                f"({idle_total[-1]:.1f} MB with helpers), "
                f"per run {per_run_rss[-1]:.1f} MB RSS / {per_run_pss[-1]:.1f} MB PSS"
            )
        rows += [
            Row("memory", variant, "idle server RSS", "MB", tuple(idle), status=status),
            Row(
                "memory",
                variant,
                "idle RSS, server + warm-driver helpers",
                "MB",
                tuple(idle_total),
                target=Target("<=", 120),
                status=status,
            ),
            Row(
                "memory",
                variant,
                f"RSS per active run ({ACTIVE} runs)",
                "MB",
                tuple(per_run_rss),
                target=Target("<=", 50),
                status=status,
                note=note,
            ),
            Row("memory", variant, f"PSS per active run ({ACTIVE} runs)", "MB", tuple(per_run_pss), status=status),
        ]
        if helper:
            rows.append(Row("memory", variant, "warm-driver helpers RSS with runs active", "MB", tuple(helper)))
    return rows


def _settled_rss(server: Server) -> float:
    time.sleep(SETTLE_SECONDS)
    samples = []
    for _ in range(5):
        samples.append(server.rss_mb())
        time.sleep(0.2)
    return statistics.median(samples)


def _per_run(server: Server, client: Any) -> tuple[float, float]:
    workflow_id = register(client, WORKFLOWS / "wdl" / "sleep.wdl")
    wait_run(client, start_run(client, register(client, WORKFLOWS / "wdl" / "hello.wdl")))  # starts the helper
    server.wait_helpers_settled()  # so the measured runs are forked as they would be in steady use
    before = server.rss_mb()
    runs = [start_run(client, workflow_id, parameters={"seconds": 60}) for _ in range(ACTIVE)]
    try:
        for run_id in runs:
            run = wait_run(client, run_id, until=("RUNNING",), timeout=120)
            if run["status"] != "RUNNING":
                raise CaseError(f"run {run_id} ended {run['status']}: {run.get('statusMessage', '')}")
        deadline = time.monotonic() + 30
        while len(server.driver_pids()) < ACTIVE:
            if time.monotonic() > deadline:
                raise CaseError(f"only {len(server.driver_pids())} of {ACTIVE} drivers are running")
            time.sleep(0.05)
        time.sleep(1.0)  # let the drivers reach their steady state (tasks started, log shippers up)
        drivers = server.driver_pids()
        rss = sum(_proc.rss_mb(pid) for pid in drivers)
        pss = sum(_proc.pss_mb(pid) for pid in drivers)
        growth = max(0.0, server.rss_mb() - before)
    finally:
        for run_id in runs:
            try:
                client.cancel_run(id=run_id)
            except Exception:  # already finished, or the server stop cleans up
                pass
        for run_id in runs:
            try:
                wait_run(client, run_id, timeout=60)
            except CaseError:
                pass
    return (growth + rss) / len(drivers), (growth + pss) / len(drivers)
