"""Fill a benchmark server's database with many stored runs, fast, for the ListRuns-at-scale measurement.

Owns: :func:`seed_runs`, which clones one run the server created through StartRun into ``count`` COMPLETED
runs (new IDs, UUIDs, names and creation times) with omicsd's own table definition and row mapping, as
multi-row inserts in large transactions.
Must not: be used for anything but benchmark fixtures (it writes the database behind the services' back,
which is only sound for finished runs the scheduler never looks at).
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

CHUNK = 5000


def seed_runs(data_dir: Path, template_id: str, count: int, *, taken: set[str]) -> list[str]:
    """Insert ``count`` COMPLETED copies of run ``template_id``; returns their IDs (``taken`` IDs are avoided)."""
    import sqlalchemy as sa

    from omicsd.domain.ids import new_uuid
    from omicsd.domain.states import RunStatus
    from omicsd.store import open_store
    from omicsd.store import runs as run_store
    from omicsd.store._rows import to_values
    from omicsd.store.tables import runs

    store = open_store(f"sqlite:///{data_dir / 'omicsd.db'}", migrate=False)
    try:
        with store.read() as conn:
            template = run_store.get(conn, template_id)
        if template is None:
            raise LookupError(f"run {template_id} not found")
        pool = random.Random(20240601).sample(range(1_000_000, 10_000_000), count + len(taken) + 16)
        ids = [str(i) for i in pool if str(i) not in taken][:count]
        now = datetime.now(UTC)
        for start in range(0, count, CHUNK):
            rows = []
            for offset, run_id in enumerate(ids[start : start + CHUNK]):
                created = now - timedelta(seconds=10 * (start + offset + 1))
                record = dataclasses.replace(
                    template,
                    id=run_id,
                    uuid=new_uuid(),
                    name=f"seeded-{start + offset}",
                    status=RunStatus.COMPLETED,
                    creation_time=created,
                    start_time=created + timedelta(seconds=1),
                    stop_time=created + timedelta(seconds=5),
                    run_group_id=None,
                    driver_pid=None,
                    driver_start=None,
                )
                rows.append({**to_values(record), "row_version": 0})
            with store.write() as conn:
                conn.execute(sa.insert(runs), rows)
        return ids
    finally:
        store.close()
