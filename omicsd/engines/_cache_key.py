"""Run-cache keys: what makes two task executions interchangeable, and how two keys differ.

Owns: :class:`CacheKey` (the components of a task's key and their digest), :func:`differences` (the
human-readable reasons two keys differ, for explainable misses), :func:`similarity`, :func:`task_family`
(a task name without its scatter indices) and :class:`ContentDigests` (file and directory content digests,
S3-ETag style, so a key never depends on where a file lives, only on what it holds).

Must not: know a workflow language (engines compute the components), or read and write cache entries.

A key has these components, each compared on its own when a miss is explained:

- ``engine``: the engine and its version (``miniwdl 1.16.0``);
- ``command``: digest of the task's normalized command (its template plus the declarations feeding it);
  input paths do not appear in it, their content digests are in ``inputs``;
- ``image``: the runtime image the task names (empty when it names none);
- ``definition``: digest of the rest of the task definition (input defaults, outputs, runtime);
- ``inputs``: input name → ``etag:<ETag>`` for files and directories, ``value:<sha256>`` for other values
  (file leaves inside compound values replaced by their ETags first).

``task`` names the task the key belongs to (call name without scatter indices plus the task definition's
name); it groups keys for explanations and is not part of the digest, so two calls of one task with the same
inputs share entries.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from omicsd.blobs.base import ObjectStore
from omicsd.blobs.local import file_uri

KEY_VERSION = 1
"""Mixed into every digest; bump it when the meaning of a component changes."""

_SCALARS = ("engine", "command", "image", "definition")
_INDEX = re.compile(r"^(call-[^-.]+)(?:-\d+)+$")


@dataclass(frozen=True)
class CacheKey:
    """The components of one task's cache key (see the module docstring)."""

    task: str
    engine: str
    command: str
    image: str
    definition: str
    inputs: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def digest(self) -> str:
        """SHA-256 (hex) of every component but ``task``: entries are looked up by it (computed once)."""
        body = {
            "version": KEY_VERSION,
            **{name: getattr(self, name) for name in _SCALARS},
            "inputs": dict(sorted(self.inputs.items())),
        }
        return sha256_json(body)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (with the digest, for readers of entry manifests)."""
        return {
            "task": self.task,
            **{name: getattr(self, name) for name in _SCALARS},
            "inputs": dict(sorted(self.inputs.items())),
            "digest": self.digest,
        }

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> CacheKey:
        """Rebuild a key from :meth:`to_dict` output.

        Raises:
            ValueError: a component is missing or has the wrong type.
        """
        try:
            values = {name: body[name] for name in ("task", *_SCALARS)}
            inputs = body.get("inputs") or {}
        except (KeyError, TypeError) as exn:
            raise ValueError(f"invalid cache key: {exn}") from None
        if not all(isinstance(v, str) for v in values.values()) or not isinstance(inputs, Mapping):
            raise ValueError("invalid cache key: components must be strings")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in inputs.items()):
            raise ValueError("invalid cache key: inputs must map names to strings")
        return cls(inputs=dict(inputs), **values)


def similarity(new: CacheKey, old: CacheKey) -> int:
    """How many components (each input counting as one) the two keys share."""
    same = sum(1 for name in _SCALARS if getattr(new, name) == getattr(old, name))
    return same + sum(1 for name, value in new.inputs.items() if old.inputs.get(name) == value)


def differences(new: CacheKey, old: CacheKey) -> list[str]:
    """Why ``new`` does not match ``old``, one phrase per differing component (empty when equal).

    For example ``command differs (was 1a2b3c4d, now 5e6f7a8b)`` or
    ``input 'reads' changed (etag 0cc175b9 -> 92eb5ffe)``.
    """
    found = [
        f"{name} differs (was {_short(getattr(old, name))}, now {_short(getattr(new, name))})"
        for name in _SCALARS
        if getattr(new, name) != getattr(old, name)
    ]
    for name in sorted(set(new.inputs) | set(old.inputs)):
        was, now = old.inputs.get(name), new.inputs.get(name)
        if was == now:
            continue
        if was is None:
            found.append(f"input '{name}' added")
        elif now is None:
            found.append(f"input '{name}' removed")
        else:
            kind = "etag" if was.startswith("etag:") and now.startswith("etag:") else "value"
            found.append(f"input '{name}' changed ({kind} {_short(was)} -> {_short(now)})")
    return found


def task_family(name: str) -> str:
    """A task name without scatter indices: ``call-x-3`` → ``call-x``; ``call-s-1.call-x-0`` → ``call-s.call-x``."""
    return ".".join(_INDEX.sub(r"\1", part) for part in name.split("."))


def sha256_json(value: Any) -> str:
    """SHA-256 (hex) of a JSON value in canonical form (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def value_digest(value: Any) -> str:
    """The ``inputs`` component of a non-file value (file leaves already replaced by their digests)."""
    return "value:" + sha256_json(value)


class ContentDigests:
    """Content digests of local files and directories through the object store (which caches ETags)."""

    def __init__(self, store: ObjectStore) -> None:
        """Digest through ``store`` (plain absolute paths are ``file`` URIs to every store)."""
        self.store = store

    def file(self, path: str) -> str:
        """``etag:<md5 hex>`` of the file at ``path`` (symlinks followed).

        Raises:
            omicsd.errors.NotFoundError: no such file.
        """
        return "etag:" + self.store.head(path).etag.strip('"')

    def directory(self, path: str) -> str:
        """``etag:<md5 hex>-<n>``: MD5 over the relative names and ETags of the ``n`` files under ``path``."""
        base = path.rstrip("/") + "/"
        listed = file_uri(base)
        md5 = hashlib.md5(usedforsecurity=False)
        count = 0
        for info in self.store.list(base):
            relative = info.uri[len(listed) :] if info.uri.startswith(listed) else info.uri
            md5.update(f"{relative}\0{info.etag.strip(chr(34))}\n".encode())
            count += 1
        return f"etag:{md5.hexdigest()}-{count}"


def _short(value: str) -> str:
    for prefix in ("etag:", "value:"):
        if value.startswith(prefix):
            return value[len(prefix) :][:8]
    if re.fullmatch(r"[0-9a-f]{32,}", value):
        return value[:8]
    if not value:
        return "(none)"
    return value if len(value) <= 60 else value[:57] + "..."
