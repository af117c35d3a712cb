"""Process-wide settings of a CWL driver's run: cheap log records, a collector that skips the engine."""

from __future__ import annotations

import gc
import logging

from omicsd.engines.cwl._lean import freeze_long_lived, lean_process


def _record() -> logging.LogRecord:
    return logging.getLogger("omicsd.test").makeRecord("omicsd.test", logging.INFO, "f.py", 1, "m", (), None)


def test_records_skip_process_names_and_caller_lookup_while_open() -> None:
    before = (logging._srcfile, logging.logProcesses, logging.logMultiprocessing)
    with lean_process():
        assert logging._srcfile is None
        record = _record()
        assert record.processName is None and record.process is None
    assert (logging._srcfile, logging.logProcesses, logging.logMultiprocessing) == before
    assert _record().process is not None


def test_freezing_moves_live_objects_out_of_the_collector() -> None:
    try:
        kept = [[] for _ in range(10)]
        freeze_long_lived()
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()
