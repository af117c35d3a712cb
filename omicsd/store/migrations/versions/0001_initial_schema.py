"""initial schema: workflows, tags, idempotency keys, runs, tasks

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("caller", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=200), nullable=False),
        sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("operation", "caller", "request_id", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=18), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.String(length=64), nullable=True),
        sa.Column("workflow_id", sa.String(length=18), nullable=False),
        sa.Column("workflow_version_name", sa.String(length=64), nullable=True),
        sa.Column("workflow_type", sa.String(length=16), nullable=False),
        sa.Column("workflow_owner_id", sa.String(length=12), nullable=True),
        sa.Column("workflow_uuid", sa.String(length=36), nullable=True),
        sa.Column("workflow_name", sa.String(length=128), nullable=True),
        sa.Column("source_run_id", sa.String(length=18), nullable=True),
        sa.Column("role_arn", sa.String(length=128), nullable=False),
        sa.Column("run_group_id", sa.String(length=18), nullable=True),
        sa.Column("batch_id", sa.String(length=18), nullable=True),
        sa.Column("run_setting_id", sa.String(length=128), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("parameters", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("storage_type", sa.String(length=16), nullable=True),
        sa.Column("storage_capacity", sa.Integer(), nullable=True),
        sa.Column("output_uri", sa.String(length=750), nullable=False),
        sa.Column("run_output_uri", sa.String(length=800), nullable=True),
        sa.Column("output_uri_prefix_mode", sa.String(length=32), nullable=True),
        sa.Column("log_level", sa.String(length=8), nullable=True),
        sa.Column("retention_mode", sa.String(length=8), nullable=False),
        sa.Column("networking_mode", sa.String(length=16), nullable=False),
        sa.Column("configuration_name", sa.String(length=128), nullable=True),
        sa.Column("cache_id", sa.String(length=18), nullable=True),
        sa.Column("cache_behavior", sa.String(length=32), nullable=True),
        sa.Column("engine", sa.String(length=16), nullable=True),
        sa.Column("engine_version", sa.String(length=32), nullable=True),
        sa.Column("engine_settings", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("scratch_storage_mode", sa.String(length=16), nullable=True),
        sa.Column("session_policy", sa.Text(), nullable=True),
        sa.Column("accelerators", sa.String(length=16), nullable=True),
        sa.Column("digest", sa.String(length=80), nullable=True),
        sa.Column("main", sa.String(length=128), nullable=True),
        sa.Column("resource_digests", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("started_by", sa.String(length=200), nullable=True),
        sa.Column("storage_max_bytes", sa.BigInteger(), nullable=True),
        sa.Column("outputs", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("driver_pid", sa.Integer(), nullable=True),
        sa.Column("driver_start", sa.String(length=32), nullable=True),
        sa.Column("journal_offset", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("uuid", name=op.f("uq_runs__uuid")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_runs__batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_runs__creation_time_id"), ["creation_time", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_runs__name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_runs__run_group_id"), ["run_group_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_runs__status_priority_creation_time"),
            ["status", "priority", "creation_time"],
            unique=False,
        )

    op.create_table(
        "tags",
        sa.Column("resource_arn", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("resource_arn", "key", name=op.f("pk_tags")),
    )
    op.create_table(
        "tasks",
        sa.Column("run_id", sa.String(length=18), nullable=False),
        sa.Column("task_id", sa.String(length=18), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.String(length=64), nullable=True),
        sa.Column("cpus", sa.Integer(), nullable=False),
        sa.Column("memory", sa.Integer(), nullable=False),
        sa.Column("gpus", sa.Integer(), nullable=False),
        sa.Column("instance_type", sa.String(length=32), nullable=True),
        sa.Column("image", sa.String(length=512), nullable=True),
        sa.Column("image_digest", sa.String(length=80), nullable=True),
        sa.Column("cache_hit", sa.Boolean(), nullable=True),
        sa.Column("cache_s3_uri", sa.String(length=1024), nullable=True),
        sa.Column("exit_status", sa.Integer(), nullable=True),
        sa.Column("metrics", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "task_id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks__run_id_seq"), ["run_id", "seq"], unique=False)

    op.create_table(
        "workflows",
        sa.Column("id", sa.String(length=18), nullable=False),
        sa.Column("version_name", sa.String(length=64), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=256), nullable=True),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("engine", sa.String(length=16), nullable=True),
        sa.Column("requested_engine", sa.String(length=16), nullable=True),
        sa.Column("main", sa.String(length=128), nullable=True),
        sa.Column("requested_main", sa.String(length=128), nullable=True),
        sa.Column("digest", sa.String(length=80), nullable=True),
        sa.Column("parameter_template", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("supplied_template", sa.Boolean(), nullable=False),
        sa.Column("storage_type", sa.String(length=16), nullable=True),
        sa.Column("storage_capacity", sa.Integer(), nullable=True),
        sa.Column("accelerators", sa.String(length=16), nullable=True),
        sa.Column("container_registry_map", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("readme_markdown", sa.Text(), nullable=True),
        sa.Column("readme_path", sa.String(length=1024), nullable=True),
        sa.Column("source", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("definition_repository_details", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("metadata", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("profiles", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("profile_parameter_templates", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("workflow_bucket_owner_id", sa.String(length=12), nullable=True),
        sa.Column("language_version", sa.String(length=32), nullable=True),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", "version_name", name=op.f("pk_workflows")),
        sa.UniqueConstraint("uuid", name=op.f("uq_workflows__uuid")),
    )
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workflows__creation_time_id"), ["creation_time", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_workflows__name"), ["name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workflows__name"))
        batch_op.drop_index(batch_op.f("ix_workflows__creation_time_id"))

    op.drop_table("workflows")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks__run_id_seq"))

    op.drop_table("tasks")
    op.drop_table("tags")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs__status_priority_creation_time"))
        batch_op.drop_index(batch_op.f("ix_runs__run_group_id"))
        batch_op.drop_index(batch_op.f("ix_runs__name"))
        batch_op.drop_index(batch_op.f("ix_runs__creation_time_id"))
        batch_op.drop_index(batch_op.f("ix_runs__batch_id"))

    op.drop_table("runs")
    op.drop_table("idempotency_keys")
