"""Run-cache entries: a completed task as kept during its run, and as published under the cache.

Owns: :class:`CachedFile`, :class:`TaskResources`, :class:`CompletedTask` (the entry material a driver keeps
in the run directory until the export phase), :class:`CacheEntry` (a published entry and its manifest
codec), :func:`publish`, :func:`validate` and :func:`materialize`.

Must not: decide whether entries are written or used (:mod:`omicsd.engines._cache` does) or know a workflow
language: a task's outputs travel as engine-defined JSON (``outputs``) whose file leaves are the ``name`` of
a :class:`CachedFile`.

Layout of an entry (HealthOmics's)::

    <cache_uri>/<runId>/<taskId>/<entryUuid>/<entryUuid>.json   the manifest
    <cache_uri>/<runId>/<taskId>/<entryUuid>/<name>              each output file, ``name`` relative to the
                                                                 task directory (``work/out.txt``)

Manifest keys: ``arn`` (``arn:aws:omics:<region>:<account>:runCache/<cacheId>/cacheEntry/<entryUuid>``),
``s3uri`` (the entry prefix), ``taskArn``, ``workDir`` (the task directory the names are relative to),
``files`` (``[{name, path, etag}]``, ``path`` the object's URI), ``otherOutputs`` (non-file outputs, JSON),
``version`` (:data:`ENTRY_VERSION`) and ``omicsd`` (what lookups need: the key, the task's name and
resources, and its complete outputs).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from omicsd.blobs.base import ObjectStore
from omicsd.domain.ids import Arns, new_uuid
from omicsd.engines._cache_key import CacheKey
from omicsd.errors import NotFoundError

ENTRY_VERSION = 1
"""Manifest ``version``; entries of another version are ignored (a one-time miss)."""


@dataclass(frozen=True)
class CachedFile:
    """One output file of a task."""

    name: str
    """Its path relative to the task directory (``work/out.txt``)."""
    path: str
    """Where it is: a local path while the run is going, the object's URI in a published entry."""
    etag: str = ""
    """Its S3 ETag once published (quoted)."""


@dataclass(frozen=True)
class TaskResources:
    """What the task asked for, reported again by the tasks served from its entry."""

    cpus: int = 1
    memory_gib: int = 1
    gpus: int = 0
    instance_type: str = ""
    image: str = ""


@dataclass(frozen=True)
class CompletedTask:
    """A task that completed in this run and may become a cache entry at the end of it."""

    key: CacheKey
    task_id: str
    name: str
    """HealthOmics task name (``call-x-3``)."""
    work_dir: str
    """The task directory the file names are relative to."""
    files: tuple[CachedFile, ...]
    outputs: Any
    """Every output, as engine-defined JSON whose file leaves are file names."""
    other_outputs: Mapping[str, Any] = field(default_factory=dict)
    """The outputs that hold no file, as JSON."""
    resources: TaskResources = field(default_factory=TaskResources)
    time: float = field(default_factory=time.time)
    """When the task completed (epoch seconds)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (one line of the run directory's record of completed tasks)."""
        return {
            "key": self.key.to_dict(),
            "taskId": self.task_id,
            "taskName": self.name,
            "workDir": self.work_dir,
            "files": [{"name": f.name, "path": f.path, "etag": f.etag} for f in self.files],
            "outputs": self.outputs,
            "otherOutputs": dict(self.other_outputs),
            "resources": _resources_dict(self.resources),
            "creationTime": self.time,
        }

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> CompletedTask:
        """Rebuild from :meth:`to_dict` output.

        Raises:
            ValueError: missing keys, unsafe file names or wrong types.
        """
        try:
            return cls(
                key=CacheKey.from_dict(body["key"]),
                task_id=str(body["taskId"]),
                name=str(body["taskName"]),
                work_dir=str(body.get("workDir") or ""),
                files=tuple(
                    CachedFile(_safe_name(f["name"]), str(f["path"]), str(f.get("etag") or ""))
                    for f in body.get("files") or []
                ),
                outputs=body.get("outputs"),
                other_outputs=dict(body.get("otherOutputs") or {}),
                resources=_resources(body.get("resources") or {}),
                time=float(body.get("creationTime") or 0.0),
            )
        except (KeyError, TypeError, AttributeError) as exn:
            raise ValueError(f"invalid completed task record: {exn!r}") from None


@dataclass(frozen=True)
class CacheEntry:
    """A published entry: a :class:`CompletedTask` whose files are objects under ``s3uri``."""

    uuid: str
    arn: str
    s3uri: str
    """The entry prefix, ending with ``/``."""
    task_arn: str
    run_id: str
    task: CompletedTask
    version: int = ENTRY_VERSION

    @property
    def manifest_uri(self) -> str:
        """``<s3uri><uuid>.json``."""
        return f"{self.s3uri}{self.uuid}.json"

    def to_manifest(self) -> dict[str, Any]:
        """The entry manifest (see the module docstring)."""
        record = self.task.to_dict()
        return {
            "arn": self.arn,
            "s3uri": self.s3uri,
            "taskArn": self.task_arn,
            "workDir": record.pop("workDir"),
            "files": record.pop("files"),
            "otherOutputs": record.pop("otherOutputs"),
            "version": self.version,
            "omicsd": {"runId": self.run_id, **record},
        }

    @classmethod
    def from_manifest(cls, body: Mapping[str, Any]) -> CacheEntry:
        """Read a manifest written by :meth:`to_manifest`.

        Raises:
            ValueError: not a manifest omicsd can use (missing keys, unsafe file names, wrong types).
        """
        try:
            extra = body["omicsd"]
            record = {**extra, **{k: body.get(k) for k in ("workDir", "files", "otherOutputs")}}
            s3uri = str(body["s3uri"])
            return cls(
                uuid=s3uri.rstrip("/").rsplit("/", 1)[-1],
                arn=str(body["arn"]),
                s3uri=s3uri if s3uri.endswith("/") else s3uri + "/",
                task_arn=str(body.get("taskArn") or ""),
                run_id=str(extra["runId"]),
                task=CompletedTask.from_dict(record),
                version=int(body["version"]),
            )
        except (KeyError, TypeError, AttributeError) as exn:
            raise ValueError(f"invalid cache entry manifest: {exn!r}") from None


def publish(
    store: ObjectStore,
    task: CompletedTask,
    *,
    cache_uri: str,
    cache_id: str,
    run_id: str,
    arns: Arns,
) -> CacheEntry:
    """Upload a completed task's files and then its manifest; returns the published entry.

    Raises:
        Exception: whatever the store raises (the caller skips the entry; the manifest is written last, so
            a half-written entry has none and is never indexed).
    """
    uuid = new_uuid()
    prefix = f"{cache_uri.rstrip('/')}/{run_id}/{task.task_id}/{uuid}/"
    files = []
    for cached in task.files:
        (info,) = store.upload(Path(cached.path), prefix + cached.name)
        files.append(CachedFile(cached.name, info.uri, info.etag))
    entry = CacheEntry(
        uuid=uuid,
        arn=f"arn:aws:omics:{arns.region}:{arns.account_id}:runCache/{cache_id}/cacheEntry/{uuid}",
        s3uri=prefix,
        task_arn=arns.task(task.task_id),
        run_id=run_id,
        task=replace(task, files=tuple(files)),
    )
    store.put_bytes(entry.manifest_uri, json.dumps(entry.to_manifest(), indent=2, sort_keys=True).encode())
    return entry


def validate(store: ObjectStore, entry: CacheEntry) -> str:
    """Why ``entry`` cannot be used (empty when it can): its manifest and every file must exist, files with
    their recorded ETags."""
    if entry.version != ENTRY_VERSION:
        return f"entry version {entry.version} is not {ENTRY_VERSION}"
    try:
        if not store.exists(entry.manifest_uri):
            return "its manifest is missing"
        for cached in entry.task.files:
            try:
                etag = store.head(cached.path).etag
            except NotFoundError:
                return f"file {cached.name} is missing"
            if etag != cached.etag:
                return f"file {cached.name} changed"
    except Exception as exn:
        return f"it cannot be read ({type(exn).__name__}: {exn})"
    return ""


def materialize(store: ObjectStore, entry: CacheEntry, task_dir: Path) -> dict[str, Path]:
    """Copy (hard-link where the store allows) the entry's files into ``task_dir``; returns name → path.

    An object the store keeps on this machine is hard-linked straight to its place: the task directory is new,
    so nobody sees a partial file, and one link costs less than the store's write-then-rename. Anything else
    (a target already there, another file system, a remote store) goes through ``store.download``.

    Raises:
        Exception: whatever the store raises.
    """
    placed: dict[str, Path] = {}
    made: set[str] = set()
    for cached in entry.task.files:
        target = task_dir / cached.name
        parent = os.path.dirname(target)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        if not _link_local(store, cached.path, target):
            store.download(cached.path, target, link=True)
        placed[cached.name] = target
    return placed


def _link_local(store: ObjectStore, uri: str, target: Path) -> bool:
    """Hard-link the local object ``uri`` to the new file ``target``; whether it was done."""
    source = store.local_path(uri)
    if source is None:
        return False
    try:
        os.link(source, target)
    except OSError:
        return False
    return True


def _safe_name(name: Any) -> str:
    text = str(name)
    if not text or any(part in ("", ".", "..") for part in text.split("/")):  # "/x" has an empty first part
        raise ValueError(f"unsafe file name in cache entry: {text!r}")
    return text


def _resources(body: Mapping[str, Any]) -> TaskResources:
    return TaskResources(
        cpus=int(body.get("cpus", 1)),
        memory_gib=int(body.get("memoryGiB", 1)),
        gpus=int(body.get("gpus", 0)),
        instance_type=str(body.get("instanceType", "")),
        image=str(body.get("image", "")),
    )


def _resources_dict(resources: TaskResources) -> dict[str, Any]:
    return {
        "cpus": resources.cpus,
        "memoryGiB": resources.memory_gib,
        "gpus": resources.gpus,
        "instanceType": resources.instance_type,
        "image": resources.image,
    }
