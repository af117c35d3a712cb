"""run groups, run caches, configurations, batches

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_runs",
        sa.Column("batch_id", sa.String(length=18), nullable=False),
        sa.Column("run_setting_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=18), nullable=True),
        sa.Column("run_uuid", sa.String(length=36), nullable=True),
        sa.Column("submission_status", sa.String(length=16), nullable=True),
        sa.Column("submission_failure_reason", sa.String(length=64), nullable=True),
        sa.Column("submission_failure_message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("batch_id", "run_setting_id", name=op.f("pk_batch_runs")),
    )
    with op.batch_alter_table("batch_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batch_runs__batch_id_run_id"), ["batch_id", "run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_batch_runs__batch_id_seq"), ["batch_id", "seq"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_batch_runs__batch_id_submission_status"), ["batch_id", "submission_status"], unique=False
        )

    op.create_table(
        "batches",
        sa.Column("id", sa.String(length=18), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(length=18), nullable=False),
        sa.Column("run_group_id", sa.String(length=18), nullable=True),
        sa.Column("default_run_setting", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("settings_source", sa.String(length=8), nullable=False),
        sa.Column("inline_settings", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("settings_uri", sa.String(length=1024), nullable=True),
        sa.Column("settings_etag", sa.String(length=80), nullable=True),
        sa.Column("total_runs", sa.Integer(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("operation", sa.String(length=16), nullable=True),
        sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processed_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
        sa.UniqueConstraint("uuid", name=op.f("uq_batches__uuid")),
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batches__creation_time_id"), ["creation_time", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_batches__name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_batches__status"), ["status"], unique=False)

    op.create_table(
        "configurations",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("description", sa.String(length=256), nullable=True),
        sa.Column("run_configurations", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_configurations")),
        sa.UniqueConstraint("uuid", name=op.f("uq_configurations__uuid")),
    )
    with op.batch_alter_table("configurations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_configurations__creation_time_name"), ["creation_time", "name"], unique=False
        )

    op.create_table(
        "run_caches",
        sa.Column("id", sa.String(length=18), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("description", sa.String(length=256), nullable=True),
        sa.Column("cache_behavior", sa.String(length=32), nullable=False),
        sa.Column("cache_s3_uri", sa.String(length=1100), nullable=False),
        sa.Column("cache_bucket_owner_id", sa.String(length=12), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_caches")),
        sa.UniqueConstraint("uuid", name=op.f("uq_run_caches__uuid")),
    )
    with op.batch_alter_table("run_caches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_caches__creation_time_id"), ["creation_time", "id"], unique=False)

    op.create_table(
        "run_groups",
        sa.Column("id", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("max_cpus", sa.Integer(), nullable=True),
        sa.Column("max_gpus", sa.Integer(), nullable=True),
        sa.Column("max_runs", sa.Integer(), nullable=True),
        sa.Column("max_duration", sa.Integer(), nullable=True),
        sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_groups")),
    )
    with op.batch_alter_table("run_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_groups__creation_time_id"), ["creation_time", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_run_groups__name"), ["name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("run_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_groups__name"))
        batch_op.drop_index(batch_op.f("ix_run_groups__creation_time_id"))

    op.drop_table("run_groups")
    with op.batch_alter_table("run_caches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_caches__creation_time_id"))

    op.drop_table("run_caches")
    with op.batch_alter_table("configurations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_configurations__creation_time_name"))

    op.drop_table("configurations")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batches__status"))
        batch_op.drop_index(batch_op.f("ix_batches__name"))
        batch_op.drop_index(batch_op.f("ix_batches__creation_time_id"))

    op.drop_table("batches")
    with op.batch_alter_table("batch_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batch_runs__batch_id_submission_status"))
        batch_op.drop_index(batch_op.f("ix_batch_runs__batch_id_seq"))
        batch_op.drop_index(batch_op.f("ix_batch_runs__batch_id_run_id"))

    op.drop_table("batch_runs")
