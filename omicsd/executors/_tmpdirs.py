"""Reusable ``TMPDIR`` directories for the task commands of one process.

Owns: :class:`TmpDirs`. A task attempt takes an empty directory and gives it back when it ends; its contents
are removed then, and the empty directory serves the next attempt. At most as many directories exist as
attempts ever ran at once.

Why not a new directory per attempt: creating and removing a directory for each of thousands of short tasks
costs two metadata operations each, and on ext4 without a journal every removed inode makes later file
creations on the same file system slower for minutes (the allocator skips recently freed inodes one at a
time), which slowed the task files that matter (commands, outputs) measurably.

Must not: decide where the directories live (the executor's creator does) or touch anything outside them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

_MAX_LEFTOVERS = 100
"""Directories that could not be emptied are skipped; this many in a row is an error."""


class TmpDirs:
    """Empty directories under ``root``, handed out and taken back (thread-safe)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._free: list[Path] = []
        self._made = 0
        self._lock = threading.Lock()

    def take(self) -> Path:
        """An empty directory for one task attempt (made when none is free).

        Raises:
            OSError: no directory could be made (or emptied) under the root.
        """
        with self._lock:
            if self._free:
                return self._free.pop()
        for _ in range(_MAX_LEFTOVERS):
            with self._lock:
                self._made += 1
                path = self.root / str(self._made)
            path.mkdir(parents=True, exist_ok=True)
            if _emptied(path):  # a new directory, or one an earlier process with this root left behind
                return path
            logger.warning("task.tmpdir_leftover path=%s", path)
        raise OSError(f"cannot make an empty task TMPDIR under {self.root}")

    def give_back(self, path: Path) -> None:
        """Empty ``path`` and keep it for the next attempt (a directory that cannot be emptied is dropped)."""
        if _emptied(path):
            with self._lock:
                self._free.append(path)
            return
        logger.warning("task.tmpdir_not_reused path=%s", path)
        shutil.rmtree(path, ignore_errors=True)


def _emptied(path: Path) -> bool:
    """Remove everything inside ``path`` (not ``path`` itself); whether it is empty afterwards."""
    try:
        removed = False
        with os.scandir(path) as entries:
            for entry in entries:
                removed = True
                with contextlib.suppress(FileNotFoundError):
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path)
                    else:
                        os.unlink(entry.path)
        if not removed:  # the usual case: the task left nothing behind
            return True
        with os.scandir(path) as entries:
            return not any(entries)
    except OSError:
        return False
