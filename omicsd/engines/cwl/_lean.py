"""Process-wide settings of a CWL driver for its one run: cheaper log records and a collector that skips the engine.

Owns: :func:`lean_process`, entered by :class:`~omicsd.engines.cwl._run.CwlRun` for the length of a run, and
:func:`freeze_long_lived`.

- Log records skip what no omicsd handler prints: the caller lookup and the process names. These are the
  switches the :mod:`logging` documentation names for this purpose (``logging._srcfile``,
  ``logging.logProcesses``, ``logging.logMultiprocessing``). cwltool and the executor log a few records for
  every job.
- Objects alive when a run starts (the imported modules, cwltool's schemas, the loaded document) live as long as
  the run: :func:`freeze_long_lived` moves them out of the cyclic collector's reach (``gc.freeze``), so that its
  full collections, which cwltool's per-job garbage triggers, scan only the run's young objects instead of the
  whole engine (a full collection of a preloaded driver costs a quarter of a second). A driver forked from a
  warm helper also keeps sharing those pages with it.

Must not: change what a run computes, logs or journals. Both settings are process-wide, which is safe because a
driver process runs exactly one run; :func:`lean_process` restores the logging switches on exit (for tests that
run a driver in-process).
"""

from __future__ import annotations

import gc

from omicsd._logging import cheap_log_records


def freeze_long_lived() -> None:
    """Keep every object alive now out of the cyclic collector's scans for the rest of the process."""
    gc.freeze()


lean_process = cheap_log_records
"""While open, log records are built without caller lookup or process names."""
