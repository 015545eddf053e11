"""time and notifications: timers, loop schedules, request clocks, user notify, message channel

Revision ID: 0007
Revises: 0002
Create Date: 2026-11-22 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_timers_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timers")),
    )
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.create_index("ix_timers_due_at", ["due_at"], unique=False)
        batch_op.create_index("ix_timers_request_id", ["request_id"], unique=False)
    with op.batch_alter_table("loops", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("default_timeout_action", sa.String(length=10), nullable=True)
        )
        batch_op.add_column(sa.Column("pickup_timeout_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reminders", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("escalation", sa.JSON(), nullable=True))
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("picked_up_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("pickup_deadline_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("escalation_level", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("added_reviewers", sa.JSON(), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notify", sa.JSON(), nullable=True))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("channel")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("notify")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("added_reviewers")
        batch_op.drop_column("escalation_level")
        batch_op.drop_column("pickup_deadline_at")
        batch_op.drop_column("picked_up_at")
    with op.batch_alter_table("loops", schema=None) as batch_op:
        batch_op.drop_column("escalation")
        batch_op.drop_column("reminders")
        batch_op.drop_column("pickup_timeout_seconds")
        batch_op.drop_column("default_timeout_action")
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index("ix_timers_request_id")
        batch_op.drop_index("ix_timers_due_at")
    op.drop_table("timers")
