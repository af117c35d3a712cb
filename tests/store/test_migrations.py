"""The migration tree and ``omicsd/store/tables.py`` describe the same schema on both dialects."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from omicsd.store import open_store
from omicsd.store.tables import metadata


def test_migrations_match_tables(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            assert compare_metadata(context, metadata) == []
    finally:
        store.close()


def test_upgrade_is_idempotent(db_url: str) -> None:
    open_store(db_url).close()
    store = open_store(db_url)
    store.close()
