"""Table definitions for every resource (SQLAlchemy Core).

Owns: the schema as code, the constraint naming convention and the column types shared by both dialects.
Must not: hold queries (the per-resource repository modules do) or dialect-specific DDL. Every change here
comes with an Alembic migration in ``omicsd/store/migrations/versions``; ``tests/store/test_migrations.py``
fails when the two drift apart on SQLite or PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s__%(column_0_N_name)s",
    "uq": "uq_%(table_name)s__%(column_0_N_name)s",
    "ck": "ck_%(table_name)s__%(constraint_name)s",
    "fk": "fk_%(table_name)s__%(column_0_N_name)s__%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back as a timezone-aware ``datetime``."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; SQLite keeps naive UTC text."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Read back an aware UTC datetime on both dialects."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def _json() -> sa.JSON:
    return sa.JSON(none_as_null=True)


workflows = sa.Table(
    "workflows",
    metadata,
    sa.Column("id", sa.String(18), primary_key=True),
    sa.Column("version_name", sa.String(64), primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("name", sa.String(128)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("creation_time", UTCDateTime(), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("description", sa.String(256)),
    sa.Column("status_message", sa.Text()),
    sa.Column("engine", sa.String(16)),
    sa.Column("requested_engine", sa.String(16)),
    sa.Column("main", sa.String(128)),
    sa.Column("requested_main", sa.String(128)),
    sa.Column("digest", sa.String(80)),
    sa.Column("parameter_template", _json()),
    sa.Column("supplied_template", sa.Boolean(), nullable=False, default=False),
    sa.Column("storage_type", sa.String(16)),
    sa.Column("storage_capacity", sa.Integer()),
    sa.Column("accelerators", sa.String(16)),
    sa.Column("container_registry_map", _json()),
    sa.Column("readme_markdown", sa.Text()),
    sa.Column("readme_path", sa.String(1024)),
    sa.Column("source", _json(), nullable=False),
    sa.Column("definition_repository_details", _json()),
    sa.Column("metadata", _json(), nullable=False),
    sa.Column("profiles", _json(), nullable=False),
    sa.Column("profile_parameter_templates", _json(), nullable=False),
    sa.Column("workflow_bucket_owner_id", sa.String(12)),
    sa.Column("language_version", sa.String(32)),
    sa.Column("row_version", sa.Integer(), nullable=False, default=0),
    sa.Index(None, "creation_time", "id"),
    sa.Index(None, "name"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("resource_arn", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("operation", sa.String(64), primary_key=True),
    sa.Column("caller", sa.String(128), primary_key=True),
    sa.Column("request_id", sa.String(128), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("resource_id", sa.String(200), nullable=False),
    sa.Column("creation_time", UTCDateTime(), nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(18), primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("row_version", sa.Integer(), nullable=False, default=0),
    sa.Column("name", sa.String(128)),
    sa.Column("creation_time", UTCDateTime(), nullable=False),
    sa.Column("start_time", UTCDateTime()),
    sa.Column("stop_time", UTCDateTime()),
    sa.Column("status_message", sa.Text()),
    sa.Column("failure_reason", sa.String(64)),
    sa.Column("workflow_id", sa.String(18), nullable=False),
    sa.Column("workflow_version_name", sa.String(64)),
    sa.Column("workflow_type", sa.String(16), nullable=False),
    sa.Column("workflow_owner_id", sa.String(12)),
    sa.Column("workflow_uuid", sa.String(36)),
    sa.Column("workflow_name", sa.String(128)),
    sa.Column("source_run_id", sa.String(18)),
    sa.Column("role_arn", sa.String(128), nullable=False),
    sa.Column("run_group_id", sa.String(18)),
    sa.Column("batch_id", sa.String(18)),
    sa.Column("run_setting_id", sa.String(128)),
    sa.Column("priority", sa.Integer()),
    sa.Column("parameters", _json()),
    sa.Column("storage_type", sa.String(16)),
    sa.Column("storage_capacity", sa.Integer()),
    sa.Column("output_uri", sa.String(750), nullable=False),
    sa.Column("run_output_uri", sa.String(800)),
    sa.Column("output_uri_prefix_mode", sa.String(32)),
    sa.Column("log_level", sa.String(8)),
    sa.Column("retention_mode", sa.String(8), nullable=False),
    sa.Column("networking_mode", sa.String(16), nullable=False),
    sa.Column("configuration_name", sa.String(128)),
    sa.Column("cache_id", sa.String(18)),
    sa.Column("cache_behavior", sa.String(32)),
    sa.Column("engine", sa.String(16)),
    sa.Column("engine_version", sa.String(32)),
    sa.Column("engine_settings", _json()),
    sa.Column("scratch_storage_mode", sa.String(16)),
    sa.Column("session_policy", sa.Text()),
    sa.Column("accelerators", sa.String(16)),
    sa.Column("digest", sa.String(80)),
    sa.Column("main", sa.String(128)),
    sa.Column("resource_digests", _json()),
    sa.Column("started_by", sa.String(200)),
    sa.Column("storage_max_bytes", sa.BigInteger()),
    sa.Column("outputs", _json()),
    sa.Column("driver_pid", sa.Integer()),
    sa.Column("driver_start", sa.String(32)),
    sa.Column("journal_offset", sa.BigInteger(), nullable=False, default=0),
    sa.Index(None, "status", "priority", "creation_time"),
    sa.Index(None, "creation_time", "id"),
    sa.Index(None, "run_group_id"),
    sa.Index(None, "batch_id", "status"),
    sa.Index(None, "batch_id", "creation_time", "id"),
    sa.Index(None, "name"),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("run_id", sa.String(18), primary_key=True),
    sa.Column("task_id", sa.String(18), primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_message", sa.Text()),
    sa.Column("failure_reason", sa.String(64)),
    sa.Column("cpus", sa.Integer(), nullable=False),
    sa.Column("memory", sa.Integer(), nullable=False),
    sa.Column("gpus", sa.Integer(), nullable=False),
    sa.Column("instance_type", sa.String(32)),
    sa.Column("image", sa.String(512)),
    sa.Column("image_digest", sa.String(80)),
    sa.Column("cache_hit", sa.Boolean()),
    sa.Column("cache_s3_uri", sa.String(1024)),
    sa.Column("exit_status", sa.Integer()),
    sa.Column("metrics", _json()),
    sa.Column("creation_time", UTCDateTime(), nullable=False),
    sa.Column("start_time", UTCDateTime()),
    sa.Column("stop_time", UTCDateTime()),
    sa.Index(None, "run_id", "seq"),
)

run_groups = sa.Table(
    "run_groups",
    metadata,
    sa.Column("id", sa.String(18), primary_key=True),
    sa.Column("name", sa.String(128)),
    sa.Column("max_cpus", sa.Integer()),
    sa.Column("max_gpus", sa.Integer()),
    sa.Column("max_runs", sa.Integer()),
    sa.Column("max_duration", sa.Integer()),
    sa.Column("creation_time", UTCDateTime(), nullable=False),
    sa.Index(None, "creation_time", "id"),
    sa.Index(None, "name"),
)

run_caches = sa.Table(
    "run_caches",
    metadata,
    sa.Column("id", sa.String(18), primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("name", sa.String(128)),
    sa.Column("description", sa.String(256)),
    sa.Column("cache_behavior", sa.String(32), nullable=False),
    sa.Column("cache_s3_uri", sa.String(1100), nullable=False),
    sa.Column("cache_bucket_owner_id", sa.String(12)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("creation_time", UTCDateTime(), nullable=False),
    sa.Index(None, "creation_time", "id"),
)

configurations = sa.Table(
    "configurations",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("description", sa.String(256)),
    sa.Column("run_configurations", _json(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("creation_time", UTCDateTime(), nullable=False),
    sa.Index(None, "creation_time", "name"),
)

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("id", sa.String(18), primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("name", sa.String(64)),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("row_version", sa.Integer(), nullable=False, default=0),
    sa.Column("workflow_id", sa.String(18), nullable=False),
    sa.Column("run_group_id", sa.String(18)),
    sa.Column("default_run_setting", _json(), nullable=False),
    sa.Column("settings_source", sa.String(8), nullable=False),
    sa.Column("inline_settings", _json()),
    sa.Column("settings_uri", sa.String(1024)),
    sa.Column("settings_etag", sa.String(80)),
    sa.Column("total_runs", sa.Integer()),
    sa.Column("failure_reason", sa.Text()),
    sa.Column("operation", sa.String(16)),
    sa.Column("creation_time", UTCDateTime(), nullable=False),
    sa.Column("submitted_time", UTCDateTime()),
    sa.Column("processed_time", UTCDateTime()),
    sa.Column("failed_time", UTCDateTime()),
    sa.Index(None, "creation_time", "id"),
    sa.Index(None, "status"),
    sa.Index(None, "name"),
)

batch_runs = sa.Table(
    "batch_runs",
    metadata,
    sa.Column("batch_id", sa.String(18), primary_key=True),
    sa.Column("run_setting_id", sa.String(128), primary_key=True),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("run_id", sa.String(18)),
    sa.Column("run_uuid", sa.String(36)),
    sa.Column("submission_status", sa.String(16)),
    sa.Column("submission_failure_reason", sa.String(64)),
    sa.Column("submission_failure_message", sa.Text()),
    sa.Index(None, "batch_id", "seq"),
    sa.Index(None, "batch_id", "run_id"),
    sa.Index(None, "batch_id", "submission_status"),
)
