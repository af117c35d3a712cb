"""Run storage accounting: how big the run directory gets, and the STATIC capacity limit.

Owns: :class:`StorageMonitor`, a daemon thread that measures the run directory about once a second,
keeps the maximum (``storage_max_bytes`` of RunFinished) and calls ``on_exceeded`` once when a STATIC
run outgrows its capacity.

Must not: stop the run itself; the driver decides what exceeding means.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

GIB = 1024**3


class StorageMonitor:
    """Measures a directory tree in the background."""

    def __init__(
        self,
        root: Path,
        *,
        limit_bytes: int = 0,
        on_exceeded: Callable[[int], None] | None = None,
        interval: float = 1.0,
    ) -> None:
        """Create a monitor (call :meth:`start`).

        Args:
            root: directory to measure.
            limit_bytes: size above which ``on_exceeded`` fires (0: no limit).
            on_exceeded: called once, from the monitor thread, with the size measured.
            interval: seconds between measurements.
        """
        self.root = root
        self.limit_bytes = limit_bytes
        self.on_exceeded = on_exceeded
        self.interval = interval
        self.max_bytes = 0
        self.exceeded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="omicsd-storage", daemon=True)

    def start(self) -> StorageMonitor:
        """Start measuring; returns ``self``."""
        self._thread.start()
        return self

    def stop(self) -> int:
        """Stop, take a last measurement and return the maximum size seen."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.measure()
        return self.max_bytes

    def measure(self) -> int:
        """Measure now; update the maximum and fire ``on_exceeded`` when over the limit."""
        size = tree_size(self.root)
        self.max_bytes = max(self.max_bytes, size)
        if self.limit_bytes and size > self.limit_bytes and not self.exceeded:
            self.exceeded = True
            logger.error("storage.exceeded size=%d limit=%d", size, self.limit_bytes)
            if self.on_exceeded is not None:
                self.on_exceeded(size)
        return size

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.measure()
            except Exception:  # a vanished file mid-walk must not kill accounting
                logger.debug("storage.measure_failed", exc_info=True)
            self._stop.wait(self.interval)


def tree_size(root: Path) -> int:
    """Bytes used by the regular files under ``root`` (hard links counted once; symlinks not followed)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [str(root)]
    while stack:
        path = stack.pop()
        try:
            entries = os.scandir(path)
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        st = entry.stat(follow_symlinks=False)
                        if st.st_nlink > 1:
                            key = (st.st_dev, st.st_ino)
                            if key in seen:
                                continue
                            seen.add(key)
                        total += st.st_size
                except OSError:
                    continue
    return total
