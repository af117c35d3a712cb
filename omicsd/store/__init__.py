"""The metadata store: engine, transactions and schema upgrades, on SQLite or PostgreSQL.

Owns: :class:`Store` (an engine, read/write transaction factories and prepared one-statement reads) and
:func:`open_store`.
Must not: contain queries for a resource (``omicsd/store/<resource>.py`` do) or business rules (services do).

SQLite runs in WAL mode with a busy timeout, and write transactions start with ``BEGIN IMMEDIATE`` so that two
writers queue on the database lock instead of failing half-way with "database is locked". PostgreSQL uses
psycopg 3 (``postgresql+psycopg://``; a plain ``postgresql://`` URL is rewritten to it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Select

from omicsd.errors import WouldBlockError
from omicsd.store._prepared import INLINE, PreparedRead

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
INLINE_BUSY_SECONDS = 0.01
"""How long an inline read waits for a lock before it gives up (WAL readers normally never wait)."""


class Store:
    """An open database: hand out transactions, upgrade the schema, close."""

    def __init__(self, engine: Engine, inline_engine: Engine | None = None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.inline_engine = inline_engine
        """One connection per thread for :meth:`inline_reads` (SQLite only), or ``None``."""
        self._prepared: dict[int, tuple[Select[Any], PreparedRead]] = {}

    @property
    def supports_inline_reads(self) -> bool:
        """Whether :meth:`inline_reads` can answer without waiting (SQLite: WAL readers never wait for writers)."""
        return self.inline_engine is not None

    @contextmanager
    def inline_reads(self) -> Iterator[None]:
        """While open, this thread may only run prepared reads, and they never wait.

        Prepared reads (:meth:`prepared`) use a connection of this thread's own with a short busy timeout, and
        raise :class:`~omicsd.errors.WouldBlockError` where they would wait for a lock; :meth:`read` and
        :meth:`write` raise it at once (they may wait for a pooled connection or a lock). The caller then runs
        the same work where waiting is allowed. For an event loop that answers short reads itself.
        """
        if self.inline_engine is None:
            raise WouldBlockError("this store has no inline reads")
        token = INLINE.set(self.inline_engine)
        try:
            yield
        finally:
            INLINE.reset(token)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write transaction, committed on exit and rolled back on an exception."""
        _may_wait()
        with self.engine.connect().execution_options(omicsd_immediate=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot)."""
        _may_wait()
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def prepared(self, statement: Select[Any]) -> PreparedRead:
        """``statement`` compiled once for this store, for one-statement reads outside a transaction.

        See :mod:`omicsd.store._prepared`; give it statements built once (module constants), not per call.
        """
        found = self._prepared.get(id(statement))
        if found is None or found[0] is not statement:
            found = (statement, PreparedRead(self.engine, statement))
            self._prepared[id(statement)] = found
        return found[1]

    def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()
        if self.inline_engine is not None:
            self.inline_engine.dispose()


def open_store(url: str, *, migrate: bool = True, **engine_options: Any) -> Store:
    """Open the database at ``url`` and (by default) upgrade its schema."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    inline_engine: Engine | None = None
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False}, **engine_options)
        _configure_sqlite(engine)
        if path and path != ":memory:":  # another connection to an in-memory database would see another database
            inline_engine = sa.create_engine(
                url, connect_args={"timeout": INLINE_BUSY_SECONDS}, poolclass=sa.pool.SingletonThreadPool, pool_size=8
            )
            _configure_sqlite(inline_engine, busy_ms=int(INLINE_BUSY_SECONDS * 1000))
    else:
        # No server-side prepared statements: a plan made while a table was empty (a new batch's runs) can stay
        # pathological after 100,000 rows arrive.
        engine_options.setdefault("connect_args", {"prepare_threshold": None})
        engine_options.setdefault("pool_size", 10)
        engine_options.setdefault("max_overflow", 20)
        engine_options.setdefault("pool_pre_ping", True)
        engine = sa.create_engine(url, **engine_options)
    store = Store(engine, inline_engine)
    if migrate:
        store.upgrade()
    return store


def _may_wait() -> None:
    if INLINE.get() is not None:
        raise WouldBlockError("a transaction may wait for a connection or a lock")


def _configure_sqlite(engine: Engine, *, busy_ms: int = 60000) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("omicsd_immediate", False)
        # Straight to the sqlite3 connection: a tenth of the cost of exec_driver_sql, paid by every transaction.
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")  # type: ignore[union-attr]
