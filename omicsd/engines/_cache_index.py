"""The in-memory index of a run cache's entries, built once when a run starts.

Owns: :class:`CacheIndex` (entries by key digest, newest first, and by task family for explanations),
:func:`load_index` and :func:`write_run_index`.

Must not: validate or copy entries (:mod:`omicsd.engines._cache_entries` does) or decide hits.

Why an index: a lookup per task must not scan the cache location (a 200-task run would list and read every
manifest 200 times). Every run that exports entries also writes ``<cache_uri>/index/<runId>.json``: the
manifests of the entries it published (``{"version": 1, "runId": ..., "entries": [manifest, ...]}``). A run
lists ``<cache_uri>/index/`` once, reads those small files and keeps the entries in memory. Runs never
rewrite each other's index files, so concurrent runs on one cache need no locking. Entries are validated
(manifest and files present, ETags equal) before they are used, so an index that names deleted or changed
objects costs a miss, never a failure; an unreadable index file is skipped.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

from omicsd.blobs.base import ObjectStore
from omicsd.engines._cache_entries import ENTRY_VERSION, CacheEntry
from omicsd.engines._cache_key import CacheKey, similarity

logger = logging.getLogger(__name__)

INDEX_DIR = "index"
INDEX_VERSION = 1


class CacheIndex:
    """The entries of one cache, as a run sees them when it starts."""

    def __init__(self, entries: Iterable[CacheEntry] = ()) -> None:
        """Index ``entries`` (entries of another manifest version are left out)."""
        self._by_digest: dict[str, list[CacheEntry]] = defaultdict(list)
        self._by_task: dict[str, list[CacheEntry]] = defaultdict(list)
        self._count = 0
        for entry in sorted(entries, key=lambda e: e.task.time, reverse=True):
            self.add(entry)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[CacheEntry]:
        for entries in self._by_digest.values():
            yield from entries

    def add(self, entry: CacheEntry) -> None:
        """Index one entry (after the ones already indexed with the same key)."""
        if entry.version != ENTRY_VERSION:
            return
        self._by_digest[entry.task.key.digest].append(entry)
        self._by_task[entry.task.key.task].append(entry)
        self._count += 1

    def candidates(self, key: CacheKey) -> Sequence[CacheEntry]:
        """Entries with exactly this key, newest first."""
        return tuple(self._by_digest.get(key.digest, ()))

    def nearest(self, key: CacheKey) -> CacheEntry | None:
        """The entry of the same task whose key shares the most components with ``key`` (newest on a tie)."""
        best: CacheEntry | None = None
        best_score = -1
        for entry in self._by_task.get(key.task, ()):
            score = similarity(key, entry.task.key)
            if score > best_score or (score == best_score and best is not None and entry.task.time > best.task.time):
                best, best_score = entry, score
        return best


def index_uri(cache_uri: str, run_id: str) -> str:
    """Where the run ``run_id`` lists the entries it exported."""
    return f"{cache_uri.rstrip('/')}/{INDEX_DIR}/{run_id}.json"


def load_index(store: ObjectStore, cache_uri: str) -> CacheIndex:
    """Read every run index file under ``cache_uri``; unreadable files and manifests are skipped."""
    prefix = f"{cache_uri.rstrip('/')}/{INDEX_DIR}/"
    entries: list[CacheEntry] = []
    try:
        listed = [info.uri for info in store.list(prefix) if info.uri.endswith(".json")]
    except Exception as exn:
        logger.info("cache.index_unlisted prefix=%s error=%s", prefix, exn)
        return CacheIndex()
    for uri in listed:
        try:
            body = json.loads(store.get_bytes(uri))
            manifests = body["entries"] if isinstance(body, dict) else None
            if not isinstance(manifests, list):
                raise ValueError("no entries list")
        except Exception as exn:
            logger.warning("cache.index_unreadable uri=%s error=%s", uri, exn)
            continue
        for manifest in manifests:
            try:
                entries.append(CacheEntry.from_manifest(manifest))
            except (ValueError, TypeError) as exn:
                logger.warning("cache.entry_unreadable index=%s error=%s", uri, exn)
    return CacheIndex(entries)


def write_run_index(store: ObjectStore, cache_uri: str, run_id: str, entries: Sequence[CacheEntry]) -> str:
    """Write the index file of the entries run ``run_id`` exported; returns its URI.

    Raises:
        Exception: whatever the store raises.
    """
    uri = index_uri(cache_uri, run_id)
    body = {"version": INDEX_VERSION, "runId": run_id, "entries": [entry.to_manifest() for entry in entries]}
    store.put_bytes(uri, json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return uri
