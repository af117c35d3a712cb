"""Structured log events: stable event names plus key/values, rendered for people or as JSON.

Owns: :func:`configure` (called once by the CLI) and the two formatters. Code logs through module loggers with
messages of the form ``"run.claimed id=%s"``; run and task identity travel in the message or in ``extra``,
never in the logger name (per-run logger names would leak in a long-lived server).
Must not: import anything from omicsd.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a JSON line."""
        body: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        body.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def configure(level: str = "INFO", *, json_output: bool | None = None) -> None:
    """Route omicsd's logs to stderr: readable lines on a terminal, JSON lines otherwise."""
    use_json = (not sys.stderr.isatty()) if json_output is None else json_output
    handler = logging.StreamHandler(sys.stderr)
    if use_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


@contextmanager
def cheap_log_records() -> Iterator[None]:
    """While open, log records skip what no omicsd handler prints: caller lookup and process names.

    These are the switches the :mod:`logging` documentation names for this purpose (``logging._srcfile``,
    ``logging.logProcesses``, ``logging.logMultiprocessing``); they are process-wide, and a driver process
    runs one run.
    """
    saved = (logging._srcfile, logging.logProcesses, logging.logMultiprocessing)
    logging._srcfile = None
    logging.logProcesses = False
    logging.logMultiprocessing = False
    try:
        yield
    finally:
        logging._srcfile, logging.logProcesses, logging.logMultiprocessing = saved
