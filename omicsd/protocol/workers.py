"""Worker threads that run blocking handler calls for the event loop: few at a time, more when calls stall.

Owns: :class:`WorkerPool` — handing calls to threads, the result (or exception) back to the awaiting event
loop, threads started on demand and stopped after ``idle_seconds`` without work.

Why lanes: handlers are mostly Python code under the GIL, so two handlers running at once are not faster than
one after the other, and every extra running thread costs GIL hand-offs (the SQLite driver releases and
re-takes the GIL around each call). So at most ``lanes`` calls run at once and further calls queue; a thread
that finishes a call takes the next queued one without going to sleep. A slow call must not hold up the
queue: when no call has started or finished for ``stall_seconds``, a new call gets another thread at once and
a timer gives one to each queued call in turn, up to ``max_threads`` running calls (the hard cap). Calls start
in arrival order.

A caller that is cancelled stops waiting: a queued call of it is skipped, a running one runs to the end and its
result is dropped.

Must not: know about HTTP, operations or handlers; it runs zero-argument callables.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_MAX_THREADS = 40
"""Hard cap on calls running at once (what anyio's default thread limiter allows)."""
DEFAULT_LANES = 2
"""Calls that run at once while calls keep finishing."""
DEFAULT_STALL_SECONDS = 0.01
"""How long calls may make no progress before another thread starts one: above the GIL's switch interval
(5 ms), so a busy event loop holding the GIL does not pass for a stalled call."""

_Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


class WorkerPool:
    """Runs zero-argument callables on worker threads and awaits their results from any event loop."""

    def __init__(
        self,
        max_threads: int = DEFAULT_MAX_THREADS,
        *,
        lanes: int = DEFAULT_LANES,
        stall_seconds: float = DEFAULT_STALL_SECONDS,
        idle_seconds: float = 10.0,
        name: str = "omicsd-worker",
    ) -> None:
        """Create an empty pool; threads start with the first calls.

        Args:
            max_threads: At most this many calls run at once, however long they take.
            lanes: At most this many calls run at once while calls keep finishing (capped by ``max_threads``).
            stall_seconds: Queued calls get another thread when no call started or finished for this long.
            idle_seconds: A thread with nothing to do for this long exits.
            name: Prefix of the threads' names.
        """
        if max_threads < 1 or lanes < 1:
            raise ValueError(f"max_threads and lanes must be at least 1, got {max_threads} and {lanes}")
        self.max_threads = max_threads
        self.lanes = min(lanes, max_threads)
        self.stall_seconds = stall_seconds
        self.idle_seconds = idle_seconds
        self.name = name
        self._lock = threading.Lock()
        self._handoff: SimpleQueue[_Job | None] = SimpleQueue()
        """Calls (and stop requests) for idle threads."""
        self._queued: deque[_Job] = deque()
        """Calls waiting for a running call to finish."""
        self._threads = 0
        self._idle = 0
        """Threads waiting on ``_handoff`` that nothing has been handed to."""
        self._running = 0
        """Calls running or handed to a thread."""
        self._progress = 0.0
        """When a call last started or finished (``time.monotonic``)."""
        self._watch: asyncio.AbstractEventLoop | None = None
        """The loop whose timer checks queued calls for a stall, while one is set."""

    @property
    def threads(self) -> int:
        """How many worker threads are alive (busy or idle)."""
        return self._threads

    async def run(self, call: Callable[[], T]) -> T:
        """Run ``call()`` on a worker thread and return its result (or raise its exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        job: _Job = (call, loop, future)
        with self._lock:
            now = time.monotonic()
            running = self._running
            if running < self.lanes or (running < self.max_threads and now - self._progress >= self.stall_seconds):
                self._running += 1
                self._progress = now
                if self._queued:  # earlier calls first
                    self._queued.append(job)
                    job = self._queued.popleft()
                    self._watch_queue(loop)
                self._hand(job)
            else:
                self._queued.append(job)
                self._watch_queue(loop)
        return await future

    def close(self) -> None:
        """Stop the idle threads now; busy ones finish their calls and exit once idle (the pool stays usable)."""
        with self._lock:
            count, self._idle = self._idle, 0
        for _ in range(count):  # each idle thread takes one and exits
            self._handoff.put(None)

    def _watch_queue(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make sure a timer on ``loop`` checks the queue for a stall (lock held)."""
        if self._watch is not loop:  # another loop's timer may never fire (that loop may be closed or blocked)
            self._watch = loop
            loop.call_later(self.stall_seconds, self._check_stall, loop)

    def _hand(self, job: _Job) -> None:
        """Give ``job`` to an idle thread or a new one (lock held)."""
        if self._idle:
            self._idle -= 1
            self._handoff.put(job)
        else:
            self._threads += 1
            threading.Thread(target=self._work, args=(job,), name=f"{self.name}-{self._threads}", daemon=True).start()

    def _check_stall(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            if self._watch is not loop:
                return
            if not self._queued:
                self._watch = None
                return
            now = time.monotonic()
            if now - self._progress >= self.stall_seconds and self._running < self.max_threads:
                self._running += 1
                self._progress = now
                self._hand(self._queued.popleft())
            if self._queued:
                loop.call_later(self.stall_seconds, self._check_stall, loop)
            else:
                self._watch = None

    def _work(self, first: _Job) -> None:
        job: _Job | None = first
        while True:
            if job is None:
                job = self._wait()
                if job is None:
                    return
            call, loop, future = job
            result, error = None, None
            if not future.cancelled():  # a caller that gave up before the call started is skipped
                try:
                    result = call()
                except BaseException as exc:  # handed to the awaiting task, which re-raises it
                    error = exc
            with self._lock:
                self._progress = time.monotonic()
                if self._queued:
                    job = self._queued.popleft()
                else:
                    job = None
                    self._running -= 1
                    self._idle += 1
            _deliver(loop, future, result, error)
            del call, loop, future, result, error

    def _wait(self) -> _Job | None:
        """The next call handed to this idle thread, or None when it should exit."""
        while True:
            try:
                job = self._handoff.get(timeout=self.idle_seconds)
            except Empty:
                with self._lock:
                    if not self._idle:  # a call is being handed to a waiting thread: stay for it
                        continue
                    self._idle -= 1
                    self._threads -= 1
                return None
            if job is None:
                with self._lock:
                    self._threads -= 1
            return job


def _deliver(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any, exc: BaseException | None
) -> None:
    try:
        loop.call_soon_threadsafe(_settle, future, result, exc)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        pass


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():  # the awaiting task was cancelled
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
