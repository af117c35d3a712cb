"""``python -m bench._forkserver_serve serve ...``: ``omicsd serve`` whose run drivers come from the fork server.

Owns: the benchmark's "omicsd + fork server" variant. It replaces ``omicsd.scheduler.supervisor.launch`` in
this process with a launcher that asks :class:`omicsd.scheduler.forkserver.ForkServer` for a pre-warmed driver
(falling back to the stock launcher when the helper cannot), then runs the ordinary ``omicsd`` command line.
It measures what wiring the fork server into the scheduler buys before that wiring; once
``supervisor.launch`` takes a ``forkserver`` argument (the scheduler launches through its own fork servers),
nothing is patched and this variant is the plain server.
Must not: change anything but how drivers are started.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

WDL_DRIVER = "omicsd.engines.wdl.driver"
CWL_DRIVER = "omicsd.engines.cwl.driver"


def install(argv: list[str]) -> list[Any]:
    """Start one fork server per engine and route ``supervisor.launch`` through them; returns the fork servers.

    One helper per engine keeps a forked WDL driver free of cwltool's pages (and the other way round).
    """
    from omicsd.scheduler import supervisor
    from omicsd.scheduler.forkserver import ForkServer, ForkServerUnavailable

    if "forkserver" in inspect.signature(supervisor.launch).parameters:
        return []  # the scheduler already launches through its own fork servers
    data_dir = Path(argv[argv.index("--data-dir") + 1]) if "--data-dir" in argv else Path(".omicsd")
    data_dir.mkdir(parents=True, exist_ok=True)
    modules = sorted(set(supervisor.DRIVER_MODULES.values()) & {WDL_DRIVER, CWL_DRIVER})
    servers = {m: ForkServer.start([m], log_path=data_dir / "forkserver.log") for m in modules}
    stock = supervisor.launch

    def launch(run_id: str, engine: str, run_dir: Path) -> supervisor.Driver:
        module = supervisor.DRIVER_MODULES[engine]
        try:
            if module not in servers:
                raise ForkServerUnavailable(f"no fork server for {module}")
            pid = servers[module].launch(module, run_dir)
        except ForkServerUnavailable:
            return stock(run_id, engine, run_dir)
        return supervisor.Driver(run_id=run_id, pid=pid, start=supervisor.process_start(pid) or "")

    supervisor.launch = launch
    return list(servers.values())


def main() -> int:
    """Install the fork-server launcher, then run ``omicsd`` with this process's arguments."""
    argv = sys.argv[1:]
    forkservers = install(argv)
    from omicsd.cli import main as omicsd_main

    try:
        return omicsd_main(argv)
    finally:
        for forkserver in forkservers:
            forkserver.close()


if __name__ == "__main__":
    raise SystemExit(main())
