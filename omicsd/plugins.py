"""Entry-point plugins: built-ins and third-party plugins go through one loader.

Owns: :class:`PluginTable`, a lazily filled, thread-safe table of named plugins for one entry-point group
(``omicsd.engines``, ``omicsd.executors``, ``omicsd.blobs``). Built-ins are declared as
:class:`importlib.metadata.EntryPoint` objects, so an installed distribution can replace a built-in by
registering the same name; nothing is imported until a plugin is asked for.
Must not: import anything from omicsd except :mod:`omicsd.errors`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from omicsd.errors import InternalError, ValidationError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class PluginTable(Generic[T]):
    """Named plugins of one entry-point group, loaded on first use."""

    def __init__(
        self, group: str, builtins: Iterable[EntryPoint], *, kind: str, check: Callable[[object], T | None]
    ) -> None:
        """Declare a group.

        Args:
            group: The entry-point group name.
            builtins: Entry points of the built-in plugins.
            kind: What a plugin is, for messages ("workflow engine").
            check: Turns a loaded object into a plugin, or returns ``None`` when it is not one.
        """
        self.group = group
        self.kind = kind
        self._builtins = tuple(builtins)
        self._check = check
        self._lock = threading.Lock()
        self._declared: dict[str, EntryPoint] | None = None
        self._loaded: dict[str, T] = {}

    def get(self, name: str) -> T:
        """The plugin registered under ``name`` (case-insensitive), loading it on first use.

        Raises:
            ValidationError: no plugin has that name.
            InternalError: the plugin is declared but cannot be loaded.
        """
        key = name.strip().upper()
        with self._lock:
            found = self._loaded.get(key)
            if found is not None:
                return found
            entry = self._declarations().get(key)
            if entry is None:
                known = ", ".join(sorted(set(self._declarations()) | set(self._loaded)))
                raise ValidationError(f"Unknown {self.kind} {name!r}; known: {known}")
            plugin = self._load(entry)
            self._loaded[key] = plugin
            logger.debug("plugin.loaded group=%s name=%s value=%s", self.group, key, entry.value)
            return plugin

    def names(self) -> tuple[str, ...]:
        """Every name :meth:`get` can answer, sorted."""
        with self._lock:
            return tuple(sorted(set(self._declarations()) | set(self._loaded)))

    def register(self, name: str, plugin: T) -> None:
        """Register an object directly (embedding and tests), replacing any plugin of that name."""
        with self._lock:
            self._loaded[name.strip().upper()] = plugin

    def _declarations(self) -> dict[str, EntryPoint]:
        if self._declared is None:
            found = {entry.name.upper(): entry for entry in self._builtins}
            for entry in entry_points(group=self.group):
                key = entry.name.strip().upper()
                if key in found and found[key].value != entry.value:
                    logger.info("plugin.override group=%s name=%s value=%s", self.group, key, entry.value)
                found[key] = entry
            self._declared = found
        return self._declared

    def _load(self, entry: EntryPoint) -> T:
        try:
            obj = entry.load()
        except Exception as exc:
            raise InternalError(f"The {self.kind} {entry.name} ({entry.value}) cannot be loaded: {exc}") from exc
        if isinstance(obj, type):
            obj = obj()
        plugin = self._check(obj)
        if plugin is None:
            raise InternalError(f"{entry.value} does not provide a {self.kind}")
        return plugin
