"""rules and stages

Revision ID: 0005
Revises: 0007
Create Date: 2026-11-22 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("loops", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rules", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("stages", sa.JSON(), nullable=True))
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stages", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("stage", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("stage_started_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_column("stage")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("stage_started_at")
        batch_op.drop_column("stage")
        batch_op.drop_column("stages")
    with op.batch_alter_table("loops", schema=None) as batch_op:
        batch_op.drop_column("stages")
        batch_op.drop_column("rules")
