"""The task IDs of one run: random 7-digit strings, each used once in the run.

Owns: :class:`TaskIds`, which every engine driver uses to name its task attempts (the journal, the task log
streams and the store key tasks by ``(run id, task id)``).

HealthOmics task IDs are random 7-digit numbers. They identify a task; they protect nothing. So they are drawn
from a generator seeded once from the operating system, rather than from the operating system for every ID:
a 200-way scatter draws hundreds, each such draw is a system call, and the thread that makes them is the one
that generates the workflow's jobs.

Must not: be made before a fork and used after it (two forked drivers would draw the same sequence); each run
makes its own, in its driver process.
"""

from __future__ import annotations

import os
import random
import threading

FIRST = 1_000_000
COUNT = 9_000_000
"""IDs run from 1000000 to 9999999, the 7-digit numbers."""


class TaskIds:
    """Hands out task IDs unique within one run (thread-safe)."""

    def __init__(self, seed: bytes | None = None) -> None:
        """Seed from ``seed`` (tests) or from the operating system."""
        self._random = random.Random(seed if seed is not None else os.urandom(16))
        self._used: set[str] = set()
        self._lock = threading.Lock()

    def new(self) -> str:
        """A 7-digit ID not handed out before by this instance."""
        with self._lock:
            while True:
                task_id = str(FIRST + self._random.randrange(COUNT))
                if task_id not in self._used:
                    self._used.add(task_id)
                    return task_id
