"""Hot single-statement reads that skip SQLAlchemy's per-call machinery.

Owns: :class:`PreparedRead`, a ``SELECT`` compiled once for an engine's dialect and then run straight on a
pooled DB-API connection, with SQLAlchemy's own bind and result processors applied to the values.

Why: GetRun is the hottest request. Through ``Connection.execute`` inside ``Store.read()`` it cost about
220-280 µs of server CPU on the benchmark machine (connection and transaction objects, the compiled-cache
lookup, the execution context, the result object); the same statement on the pooled DB-API connection costs
about 80 µs. One statement reads a consistent snapshot on its own, so no explicit transaction is needed: on
SQLite the connection is in autocommit mode (omicsd emits ``BEGIN`` itself only for ``Store.read/write``), and on
PostgreSQL the implicit transaction ends with the rollback the pool does when the connection is returned.

Inline reads: inside :meth:`omicsd.store.Store.inline_reads` (an event-loop thread answering a request itself,
without the hop to a worker thread), :meth:`PreparedRead.rows` uses a connection of the calling thread's own
(SQLAlchemy's ``SingletonThreadPool``: never waits for a pooled connection) with a short busy timeout, and
raises :class:`~omicsd.errors.WouldBlockError` instead of waiting for a lock.

Must not: write, or run more than one statement per call (use ``Store.read()`` / ``Store.write()`` for those).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select

from omicsd.errors import WouldBlockError

Row = tuple[Any, ...]

INLINE: ContextVar[Engine | None] = ContextVar("omicsd_inline_engine", default=None)
"""Set by ``Store.inline_reads``: the engine whose per-thread connection inline reads use."""


class PreparedRead:
    """One ``SELECT`` for one engine, compiled once (thread-safe)."""

    def __init__(self, engine: Engine, statement: Select[Any]) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self.engine = engine
        self.sql = compiled.string
        self._compiled = compiled
        self._positions: Sequence[str] | None = compiled.positiontup if compiled.positional else None
        self._binds: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.bind_processor(dialect)
            if processor is not None:
                self._binds[name] = processor
        results = [column.type.result_processor(dialect, None) for column in statement.selected_columns]
        self._processed = [(at, processor) for at, processor in enumerate(results) if processor is not None]
        """Positions of the values SQLAlchemy converts (dates, JSON, …) and their converters."""

    def rows(self, **params: Any) -> list[Row]:
        """Every row for ``params`` (the statement's ``bindparam`` names), values as SQLAlchemy would give them."""
        values = self._compiled.construct_params(params)
        for name, processor in self._binds.items():
            values[name] = processor(values[name])
        arguments: Any = [values[name] for name in self._positions] if self._positions is not None else values
        inline = INLINE.get()
        try:
            fetched = self._fetch(inline or self.engine, arguments)
        except (sqlite3.OperationalError, sa_exc.OperationalError) as exn:
            if inline is not None and "locked" in str(exn):
                raise WouldBlockError("the database is locked; the read must wait") from exn
            raise
        if not self._processed:
            return [tuple(row) for row in fetched]
        rows = []
        for row in fetched:
            converted = list(row)
            for at, processor in self._processed:
                converted[at] = processor(converted[at])
            rows.append(tuple(converted))
        return rows

    def _fetch(self, engine: Engine, arguments: Any) -> list[Any]:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self.sql, arguments)
                return list(cursor.fetchall())
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool (which rolls back an implicit transaction)
