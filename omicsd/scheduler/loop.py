"""The scheduler: admit PENDING runs, launch their drivers, apply journal events, finish runs, survive restarts.

Owns: :class:`Scheduler`, one thread that loops over

1. **admit** — claim PENDING runs in priority order (PENDING -> STARTING), up to the concurrent-run limit,
   prepare each run directory (:mod:`omicsd.scheduler.rundir`) and start its driver. A pass reads only the
   columns admission needs, and never the queues of run groups at their ``maxRuns``. A new run in such a group
   (:meth:`Scheduler.queued`) causes no pass at all: its group has to lose an active run first, which always
   makes a pass due. Passes are spaced by a few times their own cost when wakes come in a stream; the first
   wake on an idle server admits at once;
2. **supervise** — for every active run, read new journal lines (a ``stat`` per run when nothing changed) and
   apply them through :class:`~omicsd.services.run_events.RunEventApplier`; send SIGTERM to drivers of runs
   being cancelled (SIGKILL if they ignore it); fail runs whose driver died without finishing them;
3. **sleep** until woken (a new run, a cancel, a warm-forked driver's exit) or a short tick (20 ms while runs
   are active, 0.5 s idle).

It also hands run groups' CPU/GPU limits to the executors whenever a group changes, and once a second stops
runs past their group's ``maxDuration`` (both in :mod:`omicsd.scheduler.group_limits`).

:meth:`Scheduler.recover` runs first: drivers that outlived a previous server are re-attached by pid and start
time, journals are replayed from the stored offset, and runs whose driver is gone are failed with a reason,
so no run stays active forever.
Must not: write the database except through services.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from omicsd.domain.run_groups import admit, full_groups
from omicsd.domain.runs import RunRecord
from omicsd.domain.states import RUN_TERMINAL, RunStatus
from omicsd.engines.journal import journal_path, read_events
from omicsd.engines.nextflow.driver import NOT_INSTALLED_MESSAGE as NEXTFLOW_NOT_INSTALLED
from omicsd.engines.nextflow.driver import find_executable as find_nextflow
from omicsd.engines.spec import ExecutorSpec
from omicsd.errors import OmicsdError
from omicsd.scheduler import group_limits, rundir, supervisor
from omicsd.scheduler.supervisor import Driver
from omicsd.scheduler.warm import WarmDrivers
from omicsd.services import Services
from omicsd.store import run_groups as group_store
from omicsd.store import runs as run_store

logger = logging.getLogger(__name__)

ACTIVE_TICK = 0.02
IDLE_TICK = 0.5
CANCEL_GRACE_SECONDS = 30.0
HOUSEKEEPING_SECONDS = 1.0
ADMIT_WINDOW = 2000
"""PENDING runs read per admission pass (the highest-priority ones); the rest wait for the next pass."""
ADMIT_SPACING = 4.0
"""After an admission pass, the next one waits this many times the pass's duration (wakes in between coalesce)."""
ADMIT_SPACING_MAX = 0.25
"""Upper bound of that wait, in seconds."""
FORKSERVER_MODULES = ("omicsd.engines.wdl.driver", "omicsd.engines.cwl.driver")
"""Drivers started from a warm fork-server helper (one helper per engine, so a driver shares only its engine)."""


@dataclass(frozen=True)
class SchedulerConfig:
    """What the scheduler needs from the settings."""

    data_dir: Path
    buckets_root: Path
    s3_endpoint_url: str
    region: str
    account: str
    executor: ExecutorSpec
    max_active_runs: int
    higher_first: bool = True
    forkserver: bool = True
    """Start drivers from warm fork-server helpers (``python -m <driver>`` when off or when a helper is gone)."""
    warm_idle_seconds: float = 600.0
    """A warm helper stops after this long without launching a driver (see :mod:`omicsd.scheduler.warm`)."""


class Scheduler:
    """Admits, launches and supervises runs."""

    def __init__(self, services: Services, config: SchedulerConfig) -> None:
        self.services = services
        self.config = config
        self.runs_dir = config.data_dir / "runs"
        self.capacity_dir = config.data_dir / "capacity"
        self._drivers: dict[str, Driver] = {}
        self._warm = WarmDrivers(
            FORKSERVER_MODULES,
            idle_seconds=config.warm_idle_seconds,
            log_path=config.data_dir / "forkserver.log",
            enabled=config.forkserver,
            on_exit=self._driver_ended,
        )
        self._admit_due = True
        self._supervise_due = True
        self._limits_due = True
        self._last_housekeeping = 0.0
        self._admit_at = 0.0
        """Monotonic time before which no admission pass runs (wakes until then coalesce into one pass)."""
        self._full: frozenset[str] = frozenset()
        """Run groups that were at their ``maxRuns`` in the last admission pass."""
        self._queued: set[str] = set()
        """Run groups ("" for none) that got new PENDING runs since the last admission pass."""
        self._queued_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        services.runs.wake = self.wake
        services.runs.queued = self.queued
        services.run_groups.changed = self.limits_changed

    # -- life cycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Recover, then run the loop in a background thread (warm helpers start with the first runs)."""
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="omicsd-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop; drivers keep running and are re-attached by the next server."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._warm.close()
        for driver in self._drivers.values():
            if driver.process is not None:
                driver.process.poll()

    def wake(self) -> None:
        """Make the loop run now, with an admission pass and a full supervision pass (a run was cancelled, ...)."""
        self._admit_due = True
        self._supervise_due = True
        self._wake.set()

    def _driver_ended(self, pid: int) -> None:
        """A driver forked by a warm helper ended: look at its run now, not at the next tick."""
        self._wake.set()

    def queued(self, group_id: str | None) -> None:
        """A new PENDING run waits in ``group_id``'s queue: admit it, unless that group is at its ``maxRuns``.

        A full group admits nothing until one of its runs stops being active, and that always makes an admission
        pass due (a driver exits, a run is cancelled before its launch, the group's limits change), so a run queued
        behind it costs no pass now. The group is still noted: the next tick checks it against the groups the
        latest pass found full, which closes the race with a pass in flight.
        """
        key = group_id or ""
        with self._queued_lock:
            self._queued.add(key)
        if key not in self._full:
            self._wake.set()

    def limits_changed(self) -> None:
        """Run-group limits changed: rewrite the executor's pool limits and admit again."""
        self._limits_due = True
        self.wake()

    def recover(self) -> None:
        """Re-attach to live drivers and settle runs whose driver is gone."""
        with self.services.runs.store.read() as conn:
            active = run_store.in_status(conn, [RunStatus.STARTING, RunStatus.RUNNING, RunStatus.STOPPING])
        for record in active:
            driver = supervisor.attach(record.id, record.driver_pid, record.driver_start)
            if driver is not None:
                logger.info("driver.reattached run=%s pid=%d", record.id, driver.pid)
                driver.journal = journal_path(self.runs_dir / record.uuid)
                self._drivers[record.id] = driver
                continue
            after = self._drain(record)
            if after is None or after.status in RUN_TERMINAL:
                continue
            if after.driver_pid is None and after.status == RunStatus.STARTING:
                self._launch(after)  # claimed, never launched
            elif after.driver_pid is None and after.status == RunStatus.STOPPING:
                self._cancelled_without_driver(after)
            else:
                supervisor.kill_leftovers(self.runs_dir / after.uuid)
                self.services.run_events.fail(
                    after,
                    "SERVICE_ERROR",
                    "The run's engine driver stopped while omicsd was not running; the run cannot be resumed",
                )

    def tick(self) -> None:
        """One pass of admit + supervise (the loop calls it; tests may too)."""
        now = time.monotonic()
        full, self._supervise_due = self._supervise_due, False
        if now - self._last_housekeeping >= HOUSEKEEPING_SECONDS:
            self._last_housekeeping = now
            self._admit_due = full = True
            if group_limits.time_out_runs(self.services, self.runs_dir):
                self.wake()
            self._warm.housekeep()
        if self._limits_due:
            self._limits_due = False
            group_limits.write_pool_limits(self.services, self.capacity_dir)
        if self.services.batches.step():
            self._wake.set()  # more batch work is waiting: do not sleep
        self.services.configurations.step()
        if self._admission_wanted() and time.monotonic() >= self._admit_at:
            self._admit_due = False
            with self._queued_lock:
                self._queued.clear()
            began = time.monotonic()
            self._admit()
            ended = time.monotonic()
            self._admit_at = ended + min(ADMIT_SPACING_MAX, ADMIT_SPACING * (ended - began))
        self._supervise(full=full)

    def _admission_wanted(self) -> bool:
        """Whether a pass is due: a wake asked for one, or a run was queued outside the groups found full."""
        if self._admit_due:
            return True
        with self._queued_lock:
            self._queued -= self._full
            return bool(self._queued)

    def _sleep_seconds(self) -> float:
        """How long the loop may sleep: a tick, or less when a deferred admission pass falls due earlier."""
        tick = ACTIVE_TICK if self._drivers else IDLE_TICK
        if self._admission_wanted():
            return max(0.0, min(tick, self._admit_at - time.monotonic()))
        return tick

    # -- the loop -----------------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                logger.exception("scheduler.tick_failed")
                time.sleep(IDLE_TICK)
            self._wake.wait(self._sleep_seconds())
            self._wake.clear()

    def _admit(self) -> None:
        room = self.config.max_active_runs - len(self._drivers)
        if room <= 0:
            return  # no pass can admit until a driver goes, which makes the next pass due
        order = self.config.higher_first
        with self.services.runs.store.read() as conn:
            groups = group_store.all_groups(conn)
            active = group_store.active_counts(conn)
            full = full_groups(groups, active)
            queued = run_store.queued(conn, limit=ADMIT_WINDOW, higher_first=order, skip_groups=full)
        self._full = full
        for run in admit(queued, room=room, active_by_group=active, groups=groups, higher_first=order):
            claimed = self._claim(run.id)
            if claimed is None:
                continue
            if claimed.run_group_id in groups:  # it counts against its group from now on
                active[claimed.run_group_id] = active.get(claimed.run_group_id, 0) + 1
            self._launch(claimed)
        self._full = full_groups(groups, active)  # including the groups this pass filled

    def _claim(self, run_id: str) -> RunRecord | None:
        """PENDING -> STARTING; the claimed record, or ``None`` when the run moved on (cancelled meanwhile)."""
        with self.services.runs.store.write() as conn:
            record = run_store.get(conn, run_id)
            if record is None or record.status != RunStatus.PENDING:
                return None
            if not self.services.runs.transition_in(conn, record, RunStatus.STARTING):
                return None
        return replace(record, status=RunStatus.STARTING)

    def _supervise(self, *, full: bool) -> None:
        """Apply new journal lines; on a full pass also act on cancels and runs cancelled before launch."""
        stopping: set[str] = set()
        if full:
            with self.services.runs.store.read() as conn:
                stopping = {r.id for r in run_store.in_status(conn, [RunStatus.STOPPING])}
            self._cancel_unlaunched(stopping)
        for run_id, driver in list(self._drivers.items()):
            alive = driver.alive()
            if not (full or driver.journal_grew() or not alive):
                continue
            record = self._drain_by_id(run_id)
            if record is None or record.status in RUN_TERMINAL:
                self._forget(run_id)
                continue
            if run_id in stopping or record.status == RunStatus.STOPPING:
                self._escalate_cancel(driver)
            if not alive:
                self._admit_due = True
                record = self._drain(record)  # the last lines written before it exited
                if record is not None:
                    supervisor.kill_leftovers(self.runs_dir / record.uuid)
                if record is not None and record.status not in RUN_TERMINAL:
                    self.services.run_events.fail(
                        record,
                        "SERVICE_ERROR",
                        f"The engine driver exited (status {driver.exit_status}) before the run finished; "
                        "see the engine log stream",
                    )
                self._forget(run_id)

    # -- helpers in life-cycle order ----------------------------------------------------------------------

    def _launch(self, record: RunRecord) -> None:
        run_dir = self.runs_dir / record.uuid
        try:
            spec = rundir.prepare(record, run_dir, services=self.services, config=self.config)
            if record.engine == "NEXTFLOW" and find_nextflow() is None:
                self.services.run_events.fail(record, "WORKFLOW_RUN_FAILED", NEXTFLOW_NOT_INSTALLED)
                return
            module = supervisor.DRIVER_MODULES.get(spec.engine, "")
            driver = supervisor.launch(record.id, spec.engine, run_dir, forkserver=self._warm.take(module))
        except (OmicsdError, OSError, KeyError) as exc:
            message = exc.message if isinstance(exc, OmicsdError) else f"{type(exc).__name__}: {exc}"
            logger.warning("run.launch_failed id=%s: %s", record.id, message)
            self.services.run_events.fail(record, "SERVICE_ERROR", f"The run could not be started: {message}")
            self._admit_due = True  # its slot (and its group's) is free again
            return
        with self.services.runs.store.write() as conn:
            run_store.update(conn, record.id, {"driver_pid": driver.pid, "driver_start": driver.start})
        driver.journal = journal_path(run_dir)
        self._drivers[record.id] = driver
        if driver.forkserver is not None:
            self._warm.launched(module, driver.pid)

    def _drain_by_id(self, run_id: str) -> RunRecord | None:
        with self.services.runs.store.read() as conn:
            record = run_store.get(conn, run_id)
        return self._drain(record) if record is not None else None

    def _drain(self, record: RunRecord) -> RunRecord | None:
        path = journal_path(self.runs_dir / record.uuid)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return record
        if size <= record.journal_offset:
            return record
        events, offset = read_events(path, record.journal_offset)
        if offset == record.journal_offset:
            return record
        return self.services.run_events.apply(record.id, events, offset)

    def _escalate_cancel(self, driver: Driver) -> None:
        now = time.monotonic()
        if driver.signalled_at is None:
            logger.info("run.cancel run=%s pid=%d", driver.run_id, driver.pid)
            supervisor.terminate(driver)
            driver.signalled_at = now
        elif now - driver.signalled_at > CANCEL_GRACE_SECONDS:
            logger.warning("run.cancel_kill run=%s pid=%d", driver.run_id, driver.pid)
            supervisor.kill(driver)

    def _cancel_unlaunched(self, stopping: set[str]) -> None:
        """Runs cancelled between their claim and their launch have no driver to stop."""
        for run_id in stopping - set(self._drivers):
            record = self.services.runs.get(run_id).record
            if record.driver_pid is None:
                self._cancelled_without_driver(record)

    def _cancelled_without_driver(self, record: RunRecord) -> None:
        if self.services.runs.transition(record, RunStatus.CANCELLED, status_message="Cancelled before it started"):
            self._admit_due = True  # its group has one active run less
            self.services.runs.finished(self.services.runs.get(record.id).record)

    def _forget(self, run_id: str) -> None:
        self._admit_due = True  # a slot (and maybe a run group's) is free
        driver = self._drivers.pop(run_id, None)
        if driver is not None and driver.process is not None:
            driver.process.poll()
