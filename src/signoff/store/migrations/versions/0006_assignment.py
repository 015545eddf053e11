"""assignment and delegation

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.String(length=40)
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("loops") as batch:
        batch.add_column(
            sa.Column("assignment", sa.String(length=20), nullable=False, server_default="open")
        )
        batch.add_column(
            sa.Column("assignment_cursor", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "assignments",
        sa.Column("id", Id, nullable=False),
        sa.Column("request_id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("delegate_id", Id, nullable=True),
        sa.Column("assigned_at", Time, nullable=False),
        sa.Column("ended_at", Time, nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_assignments_request_id_requests")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_assignments_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["delegate_id"], ["users.id"], name=op.f("fk_assignments_delegate_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    op.create_index("ix_assignments_request_id", "assignments", ["request_id"])
    op.create_index("ix_assignments_user_id", "assignments", ["user_id"])
    op.create_index("ix_assignments_delegate_id", "assignments", ["delegate_id"])
    op.create_table(
        "request_claims",
        sa.Column("request_id", Id, nullable=False),
        sa.Column("claimed_by", Id, nullable=False),
        sa.Column("claimed_at", Time, nullable=False),
        sa.Column("until", Time, nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_request_claims_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_request_claims")),
    )
    op.create_table(
        "absences",
        sa.Column("user_id", Id, nullable=False),
        sa.Column("away_from", Time, nullable=False),
        sa.Column("away_until", Time, nullable=True),
        sa.Column("delegate_id", Id, nullable=True),
        sa.Column("updated_at", Time, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_absences_user_id_users")),
        sa.ForeignKeyConstraint(
            ["delegate_id"], ["users.id"], name=op.f("fk_absences_delegate_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_absences")),
    )
    op.create_index("ix_absences_delegate_id", "absences", ["delegate_id"])


def downgrade() -> None:
    op.drop_index("ix_absences_delegate_id", table_name="absences")
    op.drop_table("absences")
    op.drop_table("request_claims")
    op.drop_index("ix_assignments_delegate_id", table_name="assignments")
    op.drop_index("ix_assignments_user_id", table_name="assignments")
    op.drop_index("ix_assignments_request_id", table_name="assignments")
    op.drop_table("assignments")
    with op.batch_alter_table("loops") as batch:
        batch.drop_column("assignment_cursor")
        batch.drop_column("assignment")
