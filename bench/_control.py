"""Control-plane cases: StartRunBatch at 100,000 runs, GetRun/ListRuns/StartRun throughput, a cached rerun.

Owns: ``batch`` (StartRunBatch from an S3 settings file → every run exists, PENDING), ``control`` (GetRun
requests/s over keep-alive HTTP with 4 client threads, ListRuns p50/p99 with 100,000 runs stored, StartRun
accepted/s) and ``cached_rerun`` (a 200-task run repeated against a run cache with CACHE_ALWAYS).

Runs created here must stay PENDING without being executed, so they go to a run group with ``maxRuns=1``
that a long ``sleep`` run occupies (:func:`_blocked_group`); the sleeper is cancelled at the end.
``--quick`` uses 10,000 runs instead of 100,000 for the batch and the ListRuns store size.
Must not: leave drivers or task processes running (servers are stopped, sleepers cancelled).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from bench._context import VARIANTS, WORKFLOWS, Context
from bench._seed import seed_runs
from bench._server import (
    CaseError,
    NotAvailable,
    Server,
    register,
    run_tasks,
    start_run,
    time_run,
    wait_run,
)
from bench._stats import ERROR, NOT_AVAILABLE, Row, Target, percentile

FULL_RUNS = 100_000
QUICK_RUNS = 10_000
HEAVY_REPS = 3
"""Repetitions of the minute-long batch submission (at most)."""
THREADS = 4
LIST_CALLS = 200
THROUGHPUT_SECONDS = 3.0


def batch(ctx: Context) -> list[Row]:
    """StartRunBatch with 100,000 entries from an S3 settings file: time until every run exists (PENDING)."""
    count = QUICK_RUNS if ctx.quick else FULL_RUNS
    case = f"batch_{count // 1000}k"
    metric = "StartRunBatch→all runs PENDING"
    target = Target("<=", 60) if count == FULL_RUNS else None
    samples: list[float] = []
    rates: list[float] = []
    reps = min(ctx.reps, HEAVY_REPS)
    for rep in range(reps):
        try:
            with _server(ctx, case, count) as (server, client):
                workflow_id = register(client, WORKFLOWS / "wdl" / "hello.wdl")
                with _blocked_group(client) as group_id:
                    settings = [{"runSettingId": f"setting-{i}", "name": f"batch-{i}"} for i in range(count)]
                    uri = server.put_object("bench-settings", "runs.json", json.dumps(settings).encode())
                    elapsed = _time_batch(client, workflow_id, group_id, uri, count)
        except NotAvailable as exn:
            return [Row(case, "omicsd", metric, "s", status=NOT_AVAILABLE, note=str(exn), target=target)]
        except CaseError as exn:
            return [Row(case, "omicsd", metric, "s", tuple(samples), status=ERROR, note=str(exn))]
        samples.append(elapsed)
        rates.append(count / elapsed)
        ctx.log(f"{case} rep {rep + 1}/{reps}: {elapsed:.1f} s ({count / elapsed:,.0f} runs/s)")
    return [
        Row(case, "omicsd", metric, "s", tuple(samples), target=target),
        Row(case, "omicsd", "runs created per second", "runs/s", tuple(rates)),
    ]


def control(ctx: Context) -> list[Row]:
    """GetRun requests/s (4 keep-alive threads), ListRuns p50/p99 at 100,000 stored runs, StartRun accepted/s."""
    count = QUICK_RUNS if ctx.quick else FULL_RUNS
    seconds = THROUGHPUT_SECONDS if not ctx.quick else THROUGHPUT_SECONDS / 2
    list_case = f"listruns_{count // 1000}k"
    list_target = Target("<=", 20) if count == FULL_RUNS else None
    rows: list[Row] = []
    with _server(ctx, "control", count) as (server, client):
        workflow_id = register(client, WORKFLOWS / "wdl" / "hello.wdl")
        with _blocked_group(client) as group_id:
            template = start_run(client, workflow_id, runGroupId=group_id, name="template")
            taken = {r["id"] for r in client.list_runs()["items"]}
            began = time.perf_counter()
            ids = seed_runs(server.data_dir, template, count - len(taken), taken=taken)
            ctx.log(f"control: seeded {len(ids):,} runs in {time.perf_counter() - began:.1f} s")
            p50: list[float] = []
            p99: list[float] = []
            get_raw: list[float] = []
            get_boto: list[float] = []
            start_rate: list[float] = []
            for rep in range(ctx.reps):
                latencies = _list_latencies(server.port, LIST_CALLS)
                p50.append(percentile(latencies, 50))
                p99.append(percentile(latencies, 99))
                get_raw.append(_throughput(lambda: _raw_getter(server.port, ids), seconds))
                get_boto.append(_throughput(lambda: _boto_getter(server, ids), seconds))
                start_rate.append(_throughput(lambda: _starter(server, workflow_id, group_id), seconds))
                ctx.log(
                    f"control rep {rep + 1}/{ctx.reps}: ListRuns p50 {p50[-1]:.1f} ms p99 {p99[-1]:.1f} ms, "
                    f"GetRun {get_raw[-1]:,.0f}/s raw {get_boto[-1]:,.0f}/s boto3, StartRun {start_rate[-1]:,.0f}/s"
                )
    raw = f"raw HTTP keep-alive, {THREADS} threads"
    boto = f"boto3, {THREADS} threads"
    rows += [
        Row("getrun", f"omicsd ({raw})", "GetRun throughput", "req/s", tuple(get_raw), target=Target(">=", 1500)),
        Row("getrun", f"omicsd ({boto})", "GetRun throughput", "req/s", tuple(get_boto)),
        Row(list_case, "omicsd (raw HTTP, 100 per page)", "ListRuns p50", "ms", tuple(p50)),
        Row(list_case, "omicsd (raw HTTP, 100 per page)", "ListRuns p99", "ms", tuple(p99), target=list_target),
        Row("startrun", f"omicsd ({boto})", "StartRun accepted", "req/s", tuple(start_rate)),
    ]
    return rows


def cached_rerun(ctx: Context) -> list[Row]:
    """A 200-task WDL run repeated with a run cache (CACHE_ALWAYS): StartRun → COMPLETED of the cached rerun."""
    rows = []
    for variant, env in VARIANTS.items():
        rows.append(_cached_rerun(ctx, variant, env))
    return rows


def _cached_rerun(ctx: Context, variant: str, variant_env: dict[str, str]) -> Row:
    from botocore.exceptions import ClientError

    case, metric, target = "cached_rerun_200", "StartRun→COMPLETED", Target("<=", 0.5)
    samples: list[float] = []
    try:
        with _server(ctx, case, 0, env=variant_env) as (server, client):
            workflow_id = register(client, WORKFLOWS / "wdl" / "scatter200.wdl")
            try:
                created = client.create_run_cache(cacheS3Location="s3://bench-cache/", cacheBehavior="CACHE_ALWAYS")
            except ClientError as exn:
                raise NotAvailable(f"CreateRunCache: {exn}") from exn
            time_run(client, workflow_id, cacheId=created["id"])  # fills the cache
            server.wait_helpers_settled()  # the fill run started the warm helper
            for rep in range(ctx.reps):
                began = time.perf_counter()
                run_id = start_run(client, workflow_id, cacheId=created["id"])
                run = wait_run(client, run_id)
                elapsed = time.perf_counter() - began
                if run["status"] != "COMPLETED":
                    raise CaseError(f"cached rerun ended {run['status']}: {run.get('statusMessage', '')}")
                tasks = run_tasks(client, run_id)
                ran = [t for t in tasks if not t.get("cacheHit")]
                if ran:
                    raise NotAvailable(
                        f"the rerun executed {len(ran)} of {len(tasks)} tasks again in {elapsed:.2f} s "
                        "(no call caching in the engine yet)"
                    )
                samples.append(elapsed)
                ctx.log(f"{case} {variant} rep {rep + 1}/{ctx.reps}: {elapsed:.3f} s")
    except NotAvailable as exn:
        return Row(case, variant, metric, "s", status=NOT_AVAILABLE, note=str(exn), target=target)
    except CaseError as exn:
        return Row(case, variant, metric, "s", tuple(samples), status=ERROR, note=str(exn), target=target)
    return Row(case, variant, metric, "s", tuple(samples), target=target)


# -- helpers ----------------------------------------------------------------------------------------------


@contextmanager
def _server(ctx: Context, name: str, runs: int, *, env: dict[str, str] | None = None) -> Iterator[tuple[Server, Any]]:
    server_env = {"OMICSD__RUNS__MAX_STORED_RUNS": str(max(10 * runs, 10_000)), **(env or {})}
    server = Server(ctx.scratch(name), env=server_env)
    server.start()
    try:
        yield server, server.client(pool=THREADS * 2)
    finally:
        server.stop()


@contextmanager
def _blocked_group(client: Any) -> Iterator[str]:
    """A run group with ``maxRuns=1`` held by a sleeping run, so runs started in it stay PENDING."""
    group_id = str(client.create_run_group(name="bench-blocked", maxRuns=1)["id"])
    sleeper_wf = register(client, WORKFLOWS / "wdl" / "sleep.wdl", name="bench-sleeper")
    sleeper = start_run(client, sleeper_wf, runGroupId=group_id, parameters={"seconds": 3600}, name="sleeper")
    wait_run(client, sleeper, until=("RUNNING",), timeout=120)
    try:
        yield group_id
    finally:
        try:
            client.cancel_run(id=sleeper)
            wait_run(client, sleeper, timeout=60)
        except Exception:  # the server stop kills what is left
            pass


def _time_batch(client: Any, workflow_id: str, group_id: str, uri: str, count: int) -> float:
    from botocore.exceptions import ClientError

    default = {
        "workflowId": workflow_id,
        "roleArn": "arn:aws:iam::123456789012:role/omicsd-bench",
        "outputUri": "s3://bench-results/batch/",
        "runGroupId": group_id,
    }
    began = time.perf_counter()
    try:
        batch_id = client.start_run_batch(defaultRunSetting=default, batchRunSettings={"s3UriSettings": uri})["id"]
    except ClientError as exn:
        code = exn.response.get("Error", {}).get("Code", "")
        if code == "NotSupportedOperationException":
            raise NotAvailable("StartRunBatch is not supported yet") from exn
        raise CaseError(f"StartRunBatch failed: {exn}") from exn
    deadline = began + 900
    while True:
        got = client.get_batch(batchId=batch_id)
        if got["status"] not in ("CREATING", "PENDING", "SUBMITTING"):
            break
        if time.perf_counter() > deadline:
            raise CaseError(f"batch {batch_id} still {got['status']} after 900 s")
        time.sleep(0.05)
    elapsed = time.perf_counter() - began
    submitted = got.get("submissionSummary", {}).get("successfulStartSubmissionCount", 0)
    if got["status"] not in ("INPROGRESS", "PROCESSED") or submitted != count:
        raise CaseError(f"batch {batch_id} ended {got['status']} with {submitted}/{count} runs submitted")
    return elapsed


def _list_latencies(port: int, calls: int) -> list[float]:
    """Milliseconds per ListRuns call: first pages and the four pages after each."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out: list[float] = []
    token = ""
    try:
        for i in range(calls):
            path = "/run?maxResults=100" + (f"&startingToken={quote(token, safe='')}" if token and i % 5 else "")
            began = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            out.append((time.perf_counter() - began) * 1000)
            if response.status != 200:
                raise CaseError(f"ListRuns answered {response.status}: {body[:200]!r}")
            token = json.loads(body).get("nextToken", "")
    finally:
        conn.close()
    return out


def _throughput(make_worker: Callable[[], Callable[[], None]], seconds: float) -> float:
    """Calls per second of ``THREADS`` threads, each calling its own worker in a loop for ``seconds``."""
    workers = [make_worker() for _ in range(THREADS)]
    counts = [0] * THREADS
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS + 1)
    stop = threading.Event()

    def loop(index: int) -> None:
        start.wait()
        try:
            while not stop.is_set():
                workers[index]()
                counts[index] += 1
        except BaseException as exn:
            errors.append(exn)

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    elapsed = time.perf_counter() - began
    if errors:
        raise CaseError(f"throughput worker failed: {errors[0]}")
    return sum(counts) / elapsed


def _raw_getter(port: int, ids: list[str]) -> Callable[[], None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    state = {"i": random.randrange(len(ids))}

    def get() -> None:
        state["i"] = (state["i"] + 7919) % len(ids)
        conn.request("GET", f"/run/{ids[state['i']]}")
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise CaseError(f"GetRun answered {response.status}")

    return get


def _boto_getter(server: Server, ids: list[str]) -> Callable[[], None]:
    client = server.client(pool=2)
    state = {"i": random.randrange(len(ids))}

    def get() -> None:
        state["i"] = (state["i"] + 7919) % len(ids)
        client.get_run(id=ids[state["i"]])

    return get


def _starter(server: Server, workflow_id: str, group_id: str) -> Callable[[], None]:
    client = server.client(pool=2)

    def start() -> None:
        start_run(client, workflow_id, runGroupId=group_id)

    return start
