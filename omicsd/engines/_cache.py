"""Task call caching over HealthOmics run caches, for every engine driver.

Owns: :class:`RunCache` (one run's view of its run cache: the index built when the run starts, lookups that
validate and copy an entry's files, explained misses, the record of completed tasks kept in the run
directory, and the export phase), :class:`Hit`, :func:`should_export` and the time-out marker
(:data:`STOP_REASON_FILE`, :func:`mark_timed_out`). Keys, entries and the index live in
:mod:`omicsd.engines._cache_key`, :mod:`omicsd.engines._cache_entries` and :mod:`omicsd.engines._cache_index`;
their public names are re-exported here.

Must not: know a workflow language, or ever fail a run: every cache problem is a miss or a skipped entry,
logged.

How a driver uses it (the WDL driver does so through :mod:`omicsd.engines.wdl.cache`)::

    cache = RunCache.open(spec, store, run_dir, writer=log_writer)   # None when the run has no cache
    cache.load()                                                     # once, before tasks start
    hit = cache.lookup(key, name, task_dir)                          # per cacheable task
    ...                                                              # a hit: journal TaskCreated and
                                                                     # TaskFinished(cache_hit=True), use
                                                                     # hit.entry.task.outputs / hit.files
    cache.record(CompletedTask(...))                                 # a miss that completed
    cache.export(status, failure_reason)                             # at the end, before RunFinished

Logs: misses go to the run log ``run/<id>`` (``Task <name>: cache miss: <why>``) and, with hits and created
entries, to the cache's stream ``runCache/<cacheId>/<cacheUuid>`` as ``CACHE_MISS`` / ``CACHE_HIT`` /
``CACHE_ENTRY_CREATED`` events whose message starts ``<EVENT> run: <runId>, ...``. Cache-stream events are
stamped when they happen and written in batches (:data:`EVENT_BATCH`); :meth:`RunCache.export` writes the rest.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from omicsd.blobs.base import ObjectStore
from omicsd.domain.ids import Arns
from omicsd.engines._cache_entries import (
    CachedFile,
    CacheEntry,
    CompletedTask,
    TaskResources,
    materialize,
    publish,
    validate,
)
from omicsd.engines._cache_index import CacheIndex, load_index, write_run_index
from omicsd.engines._cache_key import CacheKey, ContentDigests, differences, sha256_json, task_family, value_digest
from omicsd.engines.events import CANCELLED, COMPLETED, FAILED
from omicsd.engines.spec import RunSpec
from omicsd.logs.files import LogWriter
from omicsd.logs.streams import LOG_GROUP, run_cache_stream, run_stream

logger = logging.getLogger(__name__)

__all__ = [
    "CACHE_ALWAYS",
    "CACHE_ON_FAILURE",
    "EVENT_BATCH",
    "STOP_REASON_FILE",
    "CacheEntry",
    "CacheKey",
    "CachedFile",
    "CompletedTask",
    "ContentDigests",
    "Hit",
    "RunCache",
    "TaskResources",
    "mark_timed_out",
    "sha256_json",
    "should_export",
    "task_family",
    "value_digest",
]

CACHE_ALWAYS: Final = "CACHE_ALWAYS"
CACHE_ON_FAILURE: Final = "CACHE_ON_FAILURE"

STOP_REASON_FILE: Final = "stop_reason"
"""File in the run directory naming why the scheduler stopped the run (``RUN_TIMED_OUT``); a driver only sees
SIGTERM, and a timed-out run must not export cache entries."""

CACHE_DIR: Final = "cache"
"""Directory of the run directory holding ``completed.jsonl``, the completed tasks' entry material."""

EVENT_BATCH: Final = 64
"""Cache-stream events written together: one append per batch instead of one per task (a 200-task rerun is
200 hits); the rest are written when the export phase starts."""

_NO_EXPORT_REASONS: Final = {
    "RUN_TIMED_OUT": "the run timed out",
    "FILE_SYSTEM_OUT_OF_SPACE": "the run ran out of storage",
}


@dataclass(frozen=True)
class Hit:
    """A usable entry whose files were copied into the task directory."""

    entry: CacheEntry
    files: dict[str, Path]
    """File name (relative to the task directory) → where it now is."""


def should_export(behavior: str, status: str, failure_reason: str = "", *, timed_out: bool = False) -> tuple[bool, str]:
    """Whether a run that ended with ``status`` exports its completed tasks, and why not.

    CACHE_ALWAYS exports after every run, CACHE_ON_FAILURE after failed ones; both export the tasks completed
    before a cancel; neither exports after a run time-out or running out of storage.
    """
    if timed_out:
        return False, _NO_EXPORT_REASONS["RUN_TIMED_OUT"]
    if failure_reason in _NO_EXPORT_REASONS:
        return False, _NO_EXPORT_REASONS[failure_reason]
    if behavior == CACHE_ALWAYS and status in (COMPLETED, FAILED, CANCELLED):
        return True, ""
    if behavior == CACHE_ON_FAILURE:
        if status in (FAILED, CANCELLED):
            return True, ""
        return False, "the cache behavior is CACHE_ON_FAILURE and the run did not fail"
    return False, f"cache behavior {behavior or '(none)'} does not export after a {status} run"


def mark_timed_out(run_dir: Path) -> None:
    """Tell the run's driver that the stop it is about to get is a run time-out (call before signalling)."""
    (Path(run_dir) / STOP_REASON_FILE).write_text("RUN_TIMED_OUT\n")


class RunCache:
    """One run's use of its run cache; thread-safe (lookups and records come from task threads)."""

    def __init__(self, spec: RunSpec, store: ObjectStore, run_dir: Path, *, writer: LogWriter | None = None) -> None:
        """Prepare (nothing is read yet; see :meth:`load`).

        Args:
            spec: the run; ``spec.cache`` must be set.
            store: the object store holding the cache location.
            run_dir: the run directory (completed tasks are recorded under ``cache/``).
            writer: the log writer (default: one over ``spec.logs_root``).
        """
        if spec.cache is None or not spec.cache.cache_uri:
            raise ValueError("the run has no run cache")
        self.spec = spec
        self.store = store
        self.run_dir = Path(run_dir)
        self.cache_id = spec.cache.cache_id
        self.cache_uri = spec.cache.cache_uri.rstrip("/")
        self.behavior = spec.cache.cache_behavior
        self.digests = ContentDigests(store)
        self.index = CacheIndex()
        self._writer = writer or LogWriter(Path(spec.logs_root))
        self._stream = run_cache_stream(self.cache_id, self.cache_uri.rsplit("/", 1)[-1])
        self._lock = threading.Lock()
        self._completed: list[CompletedTask] = []
        self._events: list[tuple[int, str]] = []
        self._flush_lock = threading.Lock()
        """Cache-stream events not written yet (see :meth:`flush_log`)."""

    @classmethod
    def open(
        cls, spec: RunSpec, store: ObjectStore, run_dir: Path, *, writer: LogWriter | None = None
    ) -> RunCache | None:
        """The run's cache, or ``None`` when the run has none."""
        if spec.cache is None or not spec.cache.cache_uri:
            return None
        return cls(spec, store, run_dir, writer=writer)

    def load(self) -> int:
        """Build the in-memory index of the cache's entries; returns how many there are."""
        self.index = load_index(self.store, self.cache_uri)
        logger.info("cache.loaded cache=%s entries=%d", self.cache_id, len(self.index))
        return len(self.index)

    # -- task time ----------------------------------------------------------------------------------------

    def lookup(self, key: CacheKey, name: str, task_dir: Path) -> Hit | None:
        """Find a valid entry for ``key`` and copy its files into ``task_dir``; ``None`` is a (logged) miss.

        Never raises: a broken entry is skipped, and the miss says why.
        """
        invalid: list[str] = []
        for entry in self.index.candidates(key):
            problem = validate(self.store, entry)
            if not problem:
                try:
                    files = materialize(self.store, entry, task_dir)
                except Exception as exn:
                    problem = f"its files cannot be copied ({type(exn).__name__}: {exn})"
                else:
                    self._cache_event("CACHE_HIT", f"task: {name}, cacheEntry: {entry.arn}, s3uri: {entry.s3uri}")
                    return Hit(entry, files)
            invalid.append(f"entry {entry.uuid} is invalid: {problem}")
        self.miss(name, key, "; ".join(invalid) if invalid else self.explain(key))
        return None

    def explain(self, key: CacheKey) -> str:
        """Why no entry matches ``key``: how it differs from the nearest previous entry of the same task."""
        nearest = self.index.nearest(key)
        if nearest is None:
            return "no previous entry for this task"
        found = differences(key, nearest.task.key)
        if not found:
            return f"entry {nearest.uuid} has the same key"
        return "; ".join(found) + f" (nearest entry {nearest.uuid} of run {nearest.run_id})"

    def miss(self, name: str, key: CacheKey | None, why: str) -> None:
        """Log a miss of task ``name``: the run log and a CACHE_MISS event."""
        self._run_log(f"Task {name}: cache miss: {why}")
        digest = f", key: {key.digest[:16]}" if key is not None else ""
        self._cache_event("CACHE_MISS", f"task: {name}{digest}, reason: {why}")

    def skipped(self, name: str, why: str) -> None:
        """Log that task ``name`` is not cacheable (``meta volatile``, no outputs, ...)."""
        self._run_log(f"Task {name}: not cached: {why}")

    def record(self, task: CompletedTask) -> None:
        """Keep a completed task's entry material until the export phase (also in ``cache/completed.jsonl``)."""
        line = json.dumps(task.to_dict(), separators=(",", ":"), sort_keys=True) + "\n"
        with self._lock:
            self._completed.append(task)
            try:
                directory = self.run_dir / CACHE_DIR
                directory.mkdir(parents=True, exist_ok=True)
                with open(directory / "completed.jsonl", "a", encoding="utf-8") as handle:
                    handle.write(line)
            except OSError:
                logger.warning("cache.record_failed task=%s", task.task_id, exc_info=True)

    @property
    def completed(self) -> list[CompletedTask]:
        """The tasks recorded so far."""
        with self._lock:
            return list(self._completed)

    # -- export phase -------------------------------------------------------------------------------------

    def export(self, status: str, failure_reason: str = "") -> list[CacheEntry]:
        """Publish the recorded tasks as entries if the behavior says so; returns the entries written.

        Never raises: an entry that cannot be written is skipped and logged. The cache stream's pending events
        are written first, and the events of the export before it returns.
        """
        self.flush_log()
        try:
            return self._export(status, failure_reason)
        finally:
            self.flush_log()

    def flush_log(self) -> None:
        """Write the cache-stream events queued so far (lookups queue them, :data:`EVENT_BATCH` at a time)."""
        with self._flush_lock:  # one writer at a time, so batches land in the order they were queued
            with self._lock:
                batch, self._events = self._events, []
            if not batch:
                return
            try:
                self._writer.append(LOG_GROUP, self._stream, batch)
            except OSError:
                logger.warning("cache.log_failed stream=%s", self._stream, exc_info=True)

    def _export(self, status: str, failure_reason: str) -> list[CacheEntry]:
        completed = self.completed
        allowed, why = should_export(self.behavior, status, failure_reason, timed_out=self._timed_out())
        if not completed:
            return []
        if not allowed:
            self._run_log(f"Run cache {self.cache_id}: no entries exported: {why}")
            return []
        arns = Arns(self.spec.region, self.spec.account)
        entries: list[CacheEntry] = []
        for task in completed:
            try:
                entry = publish(
                    self.store,
                    task,
                    cache_uri=self.cache_uri,
                    cache_id=self.cache_id,
                    run_id=self.spec.run_id,
                    arns=arns,
                )
            except Exception as exn:
                logger.warning("cache.export_failed task=%s error=%s", task.task_id, exn, exc_info=True)
                self._run_log(f"Task {task.name}: cache entry not exported: {type(exn).__name__}: {exn}")
                continue
            entries.append(entry)
        if not entries:
            return []
        try:
            write_run_index(self.store, self.cache_uri, self.spec.run_id, entries)
        except Exception as exn:
            logger.warning("cache.index_failed error=%s", exn, exc_info=True)
            self._run_log(f"Run cache {self.cache_id}: entries not exported: {type(exn).__name__}: {exn}")
            return []
        for entry in entries:
            self._cache_event(
                "CACHE_ENTRY_CREATED",
                f"task: {entry.task.name}, taskArn: {entry.task_arn}, cacheEntry: {entry.arn}, s3uri: {entry.s3uri}",
            )
        self._run_log(
            f"Run cache {self.cache_id}: exported {len(entries)} cache entries to {self.cache_uri}/{self.spec.run_id}/"
        )
        return entries

    # -- helpers ------------------------------------------------------------------------------------------

    def _timed_out(self) -> bool:
        try:
            return (self.run_dir / STOP_REASON_FILE).read_text().strip() == "RUN_TIMED_OUT"
        except OSError:
            return False

    def _run_log(self, message: str) -> None:
        if self.spec.log_level == "OFF":
            return
        try:
            self._writer.append(LOG_GROUP, run_stream(self.spec.run_id), [message])
        except OSError:
            logger.warning("cache.run_log_failed", exc_info=True)

    def _cache_event(self, event: str, detail: str) -> None:
        """Queue one cache-stream event, stamped now; a full batch is written at once."""
        line = (int(time.time() * 1000), f"{event} run: {self.spec.run_id}, {detail}")
        with self._lock:
            self._events.append(line)
            full = len(self._events) >= EVENT_BATCH
        if full:
            self.flush_log()
