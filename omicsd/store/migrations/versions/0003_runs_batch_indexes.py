"""runs: indexes for a batch's runs by status and in list order

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs__batch_id"))
        batch_op.create_index(batch_op.f("ix_runs__batch_id_status"), ["batch_id", "status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_runs__batch_id_creation_time_id"), ["batch_id", "creation_time", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs__batch_id_creation_time_id"))
        batch_op.drop_index(batch_op.f("ix_runs__batch_id_status"))
        batch_op.create_index(batch_op.f("ix_runs__batch_id"), ["batch_id"], unique=False)
