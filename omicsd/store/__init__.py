"""The metadata store: engine, transactions and schema upgrades, on SQLite or PostgreSQL.

Owns: :class:`Store` (an engine plus read/write transaction factories) and :func:`open_store`.
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

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


class Store:
    """An open database: hand out transactions, upgrade the schema, close."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write transaction, committed on exit and rolled back on an exception."""
        with self.engine.connect().execution_options(omicsd_immediate=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

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


def open_store(url: str, *, migrate: bool = True, **engine_options: Any) -> Store:
    """Open the database at ``url`` and (by default) upgrade its schema."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False}, **engine_options)
        _configure_sqlite(engine)
    else:
        # No server-side prepared statements: a plan made while a table was empty (a new batch's runs) can stay
        # pathological after 100,000 rows arrive.
        engine_options.setdefault("connect_args", {"prepare_threshold": None})
        engine_options.setdefault("pool_size", 10)
        engine_options.setdefault("max_overflow", 20)
        engine_options.setdefault("pool_pre_ping", True)
        engine = sa.create_engine(url, **engine_options)
    store = Store(engine)
    if migrate:
        store.upgrade()
    return store


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("omicsd_immediate", False)
        # Straight to the sqlite3 connection: a tenth of the cost of exec_driver_sql, paid by every transaction.
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")  # type: ignore[union-attr]
