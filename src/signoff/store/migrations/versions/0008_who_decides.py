"""who decides: request_reviewers, votes.on_behalf_of, loops.stage_cursors

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-22 08:00:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.String(length=40)


def upgrade() -> None:
    op.create_table(
        "request_reviewers",
        sa.Column("request_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_request_reviewers_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("request_id", "kind", "user_id", name=op.f("pk_request_reviewers")),
    )
    op.create_index("ix_request_reviewers_user_id_kind", "request_reviewers", ["user_id", "kind"])
    with op.batch_alter_table("votes") as batch:
        batch.add_column(sa.Column("on_behalf_of", Id, nullable=True))
    with op.batch_alter_table("loops") as batch:
        batch.add_column(sa.Column("stage_cursors", sa.JSON(), nullable=True))
    _fill()


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _fill() -> None:
    """The rows of the pending requests as they are now, and the delegates of past votes."""
    conn = op.get_bind()
    pending = conn.execute(
        sa.text(
            "SELECT id, added_reviewers, stages, stage FROM requests WHERE status = 'pending'"
            " AND (added_reviewers IS NOT NULL OR stage IS NOT NULL)"
        )
    )
    rows: list[dict[str, str]] = []
    for r in pending:
        added = _json(r.added_reviewers) or []
        rows += [{"request_id": r.id, "kind": "added", "user_id": u} for u in dict.fromkeys(added)]
        if r.stage is not None:
            own = (_json(r.stages) or [])[r.stage].get("reviewers") or []
            rows += [{"request_id": r.id, "kind": "stage", "user_id": u} for u in own]
    if rows:
        conn.execute(
            sa.text(
                "INSERT INTO request_reviewers (request_id, kind, user_id)"
                " VALUES (:request_id, :kind, :user_id)"
            ),
            rows,
        )
    delegated = conn.execute(
        sa.text("SELECT id, voter FROM votes WHERE CAST(voter AS TEXT) LIKE '%on_behalf_of%'")
    )
    behalf = []
    for r in delegated:
        of = (_json(r.voter) or {}).get("on_behalf_of") or {}
        if of.get("user_id"):
            behalf.append({"id": r.id, "on_behalf_of": of["user_id"]})
    if behalf:
        conn.execute(
            sa.text("UPDATE votes SET on_behalf_of = :on_behalf_of WHERE id = :id"), behalf
        )


def downgrade() -> None:
    with op.batch_alter_table("loops") as batch:
        batch.drop_column("stage_cursors")
    with op.batch_alter_table("votes") as batch:
        batch.drop_column("on_behalf_of")
    op.drop_index("ix_request_reviewers_user_id_kind", table_name="request_reviewers")
    op.drop_table("request_reviewers")
