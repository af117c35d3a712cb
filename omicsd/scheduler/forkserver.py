"""A warm driver pool: a helper process that has imported the engines and forks one run driver per request.

Owns: :class:`ForkServer` (the scheduler's handle: start the helper, launch a driver, tell whether the helper
lives, learn a driver's exit status, close) and the helper itself (``python -m omicsd.scheduler.forkserver``).

The helper is a separate process, never the server: it calls ``preload()`` of every driver module it serves
(miniwdl, cwltool and their parsers stay out of the server's memory), freezes the garbage collector's view of
what it imported (so forked children share those pages), and then waits on a socket. For each launch request
it forks a child that starts a new session (it survives the server and the helper), sends stdout and stderr
to ``<run_dir>/driver.log``, changes into the run directory, calls the module's ``run_driver(run_dir)`` on its
main thread and leaves with ``os._exit(code)``. The helper answers with the child's pid, reaps every child it
forked (SIGCHLD wakes its single-threaded loop; no zombies) and reports each exit status. It exits when the
server closes the socket or dies; running drivers carry on.

Drivers started this way are not children of the server: the scheduler keeps their pid and process start
time and checks liveness through ``/proc``, exactly as after a restart (see
:func:`omicsd.scheduler.supervisor.attach`). When the helper is gone, :meth:`ForkServer.launch` raises
:class:`ForkServerUnavailable` and the scheduler falls back to ``python -m <driver>``.

Wire format (one JSON object per line on a Unix stream socket pair):
helper → server ``{"op": "ready", "modules": [...], "failed": {module: reason}}``, then
``{"op": "launched", "id": n, "pid": p}`` (or ``"error"``) per request and ``{"op": "exited", "pid": p,
"status": s}`` per child; server → helper ``{"op": "launch", "id": n, "module": m, "run_dir": d}``.

Must not: import engines into the server process, read journals or touch the database.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from omicsd.errors import InternalError

logger = logging.getLogger(__name__)

DEFAULT_READY_TIMEOUT = 10.0
"""How long :meth:`ForkServer.launch` waits for the helper to finish its imports."""
LAUNCH_TIMEOUT = 30.0
"""How long :meth:`ForkServer.launch` waits for the helper's answer."""
_EXIT_MEMORY = 4096
"""Exit statuses remembered (oldest forgotten first)."""


class ForkServerUnavailable(InternalError):
    """The fork server cannot launch this driver; start it as a new interpreter instead."""


class ForkServer:
    """The server's handle on a running fork-server helper (see the module docstring)."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        sock: socket.socket,
        modules: list[str],
        *,
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        self.process = process
        """The helper process (a child of the server, in its own session)."""
        self.modules = tuple(modules)
        """The driver modules the helper was asked to preload."""
        self._sock = sock
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._ready: dict[str, Any] | None = None
        self._replies: dict[int, dict[str, Any]] = {}
        self._exits: OrderedDict[int, int] = OrderedDict()
        self._next_id = 0
        self._eof = False
        self._on_exit = on_exit
        self._reader = threading.Thread(target=self._read_loop, name="omicsd-forkserver-reader", daemon=True)
        self._reader.start()

    @classmethod
    def start(
        cls, modules: list[str], *, log_path: Path | None = None, on_exit: Callable[[int], None] | None = None
    ) -> ForkServer:
        """Start a helper that preloads ``modules`` (each must offer ``preload()`` and ``run_driver(run_dir)``).

        Returns at once; the helper imports in the background (see :meth:`wait_ready`).

        Args:
            modules: driver modules, e.g. ``["omicsd.engines.wdl.driver", "omicsd.engines.cwl.driver"]``.
            log_path: file for the helper's own stderr (drivers log to their run directory); default: inherit.
            on_exit: called with a driver's pid as soon as the helper reports that it ended (on the handle's
                reader thread; it must not block). The scheduler uses it to look at the run at once.

        Raises:
            OSError: the helper process could not be started.
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115 - handed to the child
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(theirs.fileno()), *modules],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=log if log is not None else subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
            if log is not None:
                log.close()
        logger.info("forkserver.started pid=%d modules=%s", process.pid, ",".join(modules))
        return cls(process, ours, list(modules), on_exit=on_exit)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the helper finished preloading (or died); ``True`` if it is ready."""
        with self._cond:
            self._cond.wait_for(lambda: self._ready is not None or self._eof, timeout)
            return self._ready is not None and not self._eof

    @property
    def preloaded(self) -> frozenset[str]:
        """Modules the helper imported successfully (empty until it is ready)."""
        with self._cond:
            return frozenset(self._ready.get("modules", ())) if self._ready else frozenset()

    def alive(self) -> bool:
        """Whether the helper still runs and its socket is open."""
        return not self._eof and self.process.poll() is None

    def launch(self, module: str, run_dir: Path, *, ready_timeout: float = DEFAULT_READY_TIMEOUT) -> int:
        """Fork a driver running ``module.run_driver(run_dir)``; returns its pid.

        Args:
            module: one of the modules given to :meth:`start`.
            run_dir: the prepared run directory (``spec.json`` inside).
            ready_timeout: how long to wait for a helper that is still preloading.

        Raises:
            ForkServerUnavailable: the helper is gone, not ready in time, failed to preload ``module``, or
                could not fork; the caller starts the driver some other way.
        """
        if not self.alive():
            raise ForkServerUnavailable("The fork server is not running")
        if not self.wait_ready(ready_timeout):
            raise ForkServerUnavailable("The fork server is not ready")
        with self._cond:
            assert self._ready is not None
            if module not in self._ready.get("modules", ()):
                reason = self._ready.get("failed", {}).get(module, "not requested")
                raise ForkServerUnavailable(f"The fork server has not preloaded {module}: {reason}")
            self._next_id += 1
            request_id = self._next_id
        self._send({"op": "launch", "id": request_id, "module": module, "run_dir": str(Path(run_dir).resolve())})
        with self._cond:
            answered = self._cond.wait_for(lambda: request_id in self._replies or self._eof, LAUNCH_TIMEOUT)
            reply = self._replies.pop(request_id, None)
        if not answered or reply is None:
            raise ForkServerUnavailable("The fork server did not answer")
        if "pid" not in reply:
            raise ForkServerUnavailable(f"The fork server could not start the driver: {reply.get('error', '?')}")
        pid = int(reply["pid"])
        logger.debug("forkserver.launched pid=%d module=%s", pid, module)
        return pid

    def exit_status(self, pid: int) -> int | None:
        """The exit status of a driver this helper forked, once it has ended (negative: killed by a signal)."""
        with self._cond:
            return self._exits.get(pid)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the helper (drivers it started keep running)."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=timeout)

    # -- server side, private -----------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        try:
            with self._send_lock:
                self._sock.sendall(data)
        except OSError as exn:
            self._closed()
            raise ForkServerUnavailable(f"The fork server is not reachable: {exn}") from exn

    def _read_loop(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = self._sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    self._handle(json.loads(line))
        except (OSError, ValueError):
            logger.debug("forkserver.reader_stopped", exc_info=True)
        finally:
            self._closed()

    def _handle(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        with self._cond:
            if op == "ready":
                self._ready = message
                if message.get("failed"):
                    logger.warning("forkserver.preload_failed %s", message["failed"])
            elif op == "launched":
                self._replies[int(message["id"])] = message
            elif op == "exited":
                self._exits[int(message["pid"])] = int(message["status"])
                while len(self._exits) > _EXIT_MEMORY:
                    self._exits.popitem(last=False)
            self._cond.notify_all()
        if op == "exited" and self._on_exit is not None:  # told outside the lock: it may ask for exit_status
            try:
                self._on_exit(int(message["pid"]))
            except Exception:
                logger.exception("forkserver.on_exit_failed")

    def _closed(self) -> None:
        with self._cond:
            self._eof = True
            self._cond.notify_all()


# -- the helper process -----------------------------------------------------------------------------------


def serve(sock: socket.socket, modules: list[str]) -> None:
    """The helper's main loop: preload ``modules``, then fork drivers on request until the socket closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    loaded, failed = _preload(modules)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # the wakeup fd does the work
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    helper = _Helper(sock, loaded, (wake_r, wake_w))
    helper.reply({"op": "ready", "modules": sorted(loaded), "failed": failed})
    helper.loop()


class _Helper:
    def __init__(self, sock: socket.socket, loaded: dict[str, Any], wake: tuple[int, int]) -> None:
        self.sock = sock
        self.loaded = loaded
        self.wake = wake
        self.selector = selectors.DefaultSelector()
        self.selector.register(sock, selectors.EVENT_READ)
        self.selector.register(wake[0], selectors.EVENT_READ)

    def reply(self, message: dict[str, Any]) -> None:
        self.sock.sendall((json.dumps(message) + "\n").encode())

    def loop(self) -> None:
        buffer = b""
        while True:
            for key, _ in self.selector.select():
                if key.fileobj == self.wake[0]:
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self.wake[0], 512):
                            pass
                    continue
                chunk = self.sock.recv(65536)
                if not chunk:
                    self._reap()
                    return
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    self._request(json.loads(line))
            self._reap()

    def _request(self, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        module = self.loaded.get(str(message.get("module")))
        if message.get("op") != "launch" or module is None:
            self.reply({"op": "launched", "id": request_id, "error": f"cannot launch {message.get('module')}"})
            return
        run_dir = str(message["run_dir"])
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exn:
            self.reply({"op": "launched", "id": request_id, "error": f"fork failed: {exn}"})
            return
        if pid == 0:
            self._become_driver(module, run_dir)
        self.reply({"op": "launched", "id": request_id, "pid": pid})

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.reply({"op": "exited", "pid": pid, "status": os.waitstatus_to_exitcode(status)})

    def _become_driver(self, module: Any, run_dir: str) -> NoReturn:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self.selector.close()
            self.sock.close()
            for fd in self.wake:
                os.close(fd)
            os.setsid()
            _redirect(Path(run_dir) / "driver.log")
            os.chdir(run_dir)
            sys.argv = [str(getattr(module, "__file__", module.__name__)), run_dir]
            code = int(module.run_driver(run_dir))
        except BaseException:
            with contextlib.suppress(BaseException):
                traceback.print_exc()
        finally:
            with contextlib.suppress(BaseException):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)


def _preload(modules: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    loaded: dict[str, Any] = {}
    failed: dict[str, str] = {}
    for name in modules:
        began = time.monotonic()
        try:
            module = importlib.import_module(name)
            module.preload()
            if not callable(getattr(module, "run_driver", None)):
                raise AttributeError(f"{name} has no run_driver()")
        except Exception as exn:
            failed[name] = f"{type(exn).__name__}: {exn}"
            logger.warning("forkserver.preload_failed module=%s: %s", name, failed[name])
            logger.debug("forkserver.preload_traceback", exc_info=True)
            continue
        loaded[name] = module
        logger.debug("forkserver.preloaded module=%s seconds=%.2f", name, time.monotonic() - began)
    if threading.active_count() > 1:
        logger.warning("forkserver.threads_after_preload count=%d", threading.active_count())
    gc.collect()
    gc.freeze()  # keep the collector from touching (and so un-sharing) the preloaded objects in children
    return loaded, failed


def _redirect(log: Path) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.close(devnull)


def _main(argv: list[str]) -> int:
    if len(argv) < 1:
        print("usage: python -m omicsd.scheduler.forkserver <socket fd> <driver module>...", file=sys.stderr)
        return 2
    sock = socket.socket(fileno=int(argv[0]))
    try:
        serve(sock, argv[1:])
    except (BrokenPipeError, ConnectionResetError):
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
