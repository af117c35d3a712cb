"""Fixtures shared by the whole suite: settings on SQLite and PostgreSQL, services, clients, a live server.

PostgreSQL tests use ``OMICSD_TEST_POSTGRES_URL`` (default: the local server at 127.0.0.1:5432, database
``test``). Each test session (each xdist worker) works in a database of its own, created and dropped here.
Where no PostgreSQL answers, those tests are skipped with the reason; on CI (``CI`` set) they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from omicsd import config
from omicsd.app import OmicsdApp, build_app, build_services
from omicsd.config import Settings
from omicsd.services import Services
from omicsd.store.tables import metadata
from tests.support.boto_asgi import client_for_app
from tests.support.live import serve

POSTGRES_URL = os.environ.get("OMICSD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_unavailable(url: str) -> str | None:
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {url} is not reachable ({type(exc).__name__}); set OMICSD_TEST_POSTGRES_URL"
    return None


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    reason = _postgres_unavailable(POSTGRES_URL)
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"omicsd_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    """The xdist worker name, or ``main`` without xdist."""
    return str(getattr(request.config, "workerinput", {}).get("workerid", "main"))


def _truncate(url: str) -> None:
    engine = sa.create_engine(url)
    names = [t.name for t in metadata.sorted_tables]
    with engine.begin() as conn:
        existing = set(sa.inspect(conn).get_table_names())
        present = [n for n in names if n in existing]
        if present:
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{n}"' for n in present)))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL: SQLite in the test's directory, or the session's PostgreSQL database (emptied)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'omicsd.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _truncate(url)
    return url


def make_settings(data_dir: Path, db: str, **sections: dict[str, Any]) -> Settings:
    """Settings for a test: strict output checks on, no warm driver helpers, everything inside ``data_dir``."""
    overrides: dict[str, dict[str, Any]] = {
        "server": {"data_dir": str(data_dir), "strict_output": True, "warm_drivers": False},
        "store": {"url": db},
    }
    for name, values in sections.items():
        overrides.setdefault(name, {}).update(values)
    return config.load(overrides, environ={})


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings for one test."""
    return make_settings(tmp_path / "data", db_url)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    """Every service over the test's database."""
    built = build_services(settings)
    try:
        yield built
    finally:
        built.close()
        built.workflows.store.close()


@pytest.fixture
def app(settings: Settings, services: Services) -> OmicsdApp:
    """The ASGI application over the test's services."""
    return build_app(settings, services)


@pytest.fixture
def client(app: OmicsdApp) -> Iterator[Any]:
    """A real boto3 ``omics`` client talking to the app in process (scheduler running)."""
    app.startup()
    try:
        yield client_for_app(app)
    finally:
        app.shutdown()


@pytest.fixture
def live_url(app: OmicsdApp) -> Iterator[str]:
    """Base URL of the app served by a real uvicorn on a loopback port."""
    with serve(app) as url:
        yield url
