"""Migrations are tested code: one head, upgrade from empty gives exactly the tables of
`signoff.store.tables`, and every step can be undone and redone, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from signoff.store.db import sync_url
from signoff.store.migrate import HERE, alembic_config, head_revision, heads, upgrade
from signoff.store.tables import metadata
from tests.integration.databases import empty_postgres


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with empty_postgres() as url:
        yield url


def _differences(url: str) -> list[object]:
    engine = sa.create_engine(sync_url(url), poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _state(url: str) -> tuple[str | None, set[str]]:
    """The revision the database is at, and its tables besides alembic's own."""
    engine = sa.create_engine(sync_url(url), poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
            tables = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
    return revision, tables


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory(str(HERE))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def test_there_is_exactly_one_head() -> None:
    assert heads() == [head_revision()]
    # ... and one straight chain down to the first revision, without merges or branches.
    script = ScriptDirectory(str(HERE))
    for revision in script.walk_revisions():
        assert not isinstance(revision.down_revision, tuple | list), revision
    assert script.get_revision(_revisions()[0]).down_revision is None


def test_upgrade_from_empty_matches_the_tables(empty_url: str) -> None:
    upgrade(empty_url)
    assert _differences(empty_url) == []
    assert _state(empty_url) == (head_revision(), set(metadata.tables))


def test_a_migration_against_a_changed_table_would_be_caught(empty_url: str) -> None:
    # The comparison above can fail: drop an index the tables declare and it is reported.
    upgrade(empty_url)
    engine = sa.create_engine(sync_url(empty_url), poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_events_request_id"))
    engine.dispose()
    differences = _differences(empty_url)
    assert [d[0] for d in differences] == ["add_index"], differences  # type: ignore[index]


def test_every_step_can_be_undone_and_redone(empty_url: str) -> None:
    config = alembic_config(empty_url)
    for revision in _revisions():
        command.upgrade(config, revision)
        command.downgrade(config, "-1")
        command.upgrade(config, revision)
        assert _state(empty_url)[0] == revision
    assert _differences(empty_url) == []


def test_downgrade_to_base_and_upgrade_again(empty_url: str) -> None:
    upgrade(empty_url)
    command.downgrade(alembic_config(empty_url), "base")
    assert _state(empty_url) == (None, set())
    upgrade(empty_url)
    assert _differences(empty_url) == []
    assert _state(empty_url) == (head_revision(), set(metadata.tables))


def test_0008_gives_pending_requests_their_rows_and_votes_their_delegates(empty_url: str) -> None:
    """Requests made before 0008 get the rows the inbox reads: their escalation-added reviewers
    and their current stage's own; a delegate's vote gets `on_behalf_of` from its `voter`."""
    config = alembic_config(empty_url)
    command.upgrade(config, "0006")
    engine = sa.create_engine(sync_url(empty_url), poolclass=sa.NullPool)
    now = "2026-11-22 09:00:00+00:00"
    stages = [
        {"name": "lead", "reviewers": ["usr_a"], "status": "approved"},
        {"name": "finance", "reviewers": ["usr_b", "usr_c"], "status": "active"},
    ]
    request = {
        "loop_id": "loop_1",
        "content": '"x"',
        "content_type": "text",
        "content_hash": "h",
        "metadata": "{}",
        "response_spec": "{}",
        "priority": "normal",
        "required_approvals": 1,
        "timeout_action": "expire",
        "edited": False,
        "created_at": now,
        "updated_at": now,
    }
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO loops (id, name, description, required_approvals,"
                " allow_self_approval, allow_timeout_approval, created_at, updated_at)"
                " VALUES ('loop_1', 'l', '', 1, false, false, :now, :now)"
            ),
            {"now": now},
        )
        insert = sa.text(
            "INSERT INTO requests (id, loop_id, status, content, content_type, content_hash,"
            " metadata, response_spec, priority, required_approvals, timeout_action, edited,"
            " created_at, updated_at, added_reviewers, stages, stage) VALUES (:id, :loop_id,"
            " :status, :content, :content_type, :content_hash, :metadata, :response_spec,"
            " :priority, :required_approvals, :timeout_action, :edited, :created_at,"
            " :updated_at, :added, :stages, :stage)"
        )
        rows = [
            ("req_staged", "pending", '["usr_e"]', json.dumps(stages), 1),
            ("req_plain", "pending", None, None, None),
            ("req_done", "completed", '["usr_e"]', json.dumps(stages), 1),
        ]
        for id_, status, added, staged, stage in rows:
            conn.execute(
                insert,
                {
                    **request,
                    "id": id_,
                    "status": status,
                    "added": added,
                    "stages": staged,
                    "stage": stage,
                },
            )
        voter = {"type": "user", "user_id": "usr_d", "on_behalf_of": {"user_id": "usr_b"}}
        for id_, who in (("vote_1", voter), ("vote_2", {"type": "user", "user_id": "usr_a"})):
            conn.execute(
                sa.text(
                    "INSERT INTO votes (id, request_id, voter_id, voter, choice, content_hash,"
                    " created_at, stage) VALUES (:id, 'req_staged', :voter_id, :voter,"
                    " 'approve', 'h', :now, 1)"
                ),
                {"id": id_, "voter_id": who["user_id"], "voter": json.dumps(who), "now": now},
            )
    command.upgrade(config, "0008")
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT request_id, kind, user_id FROM request_reviewers"))
        behalf = conn.execute(sa.text("SELECT id, on_behalf_of FROM votes ORDER BY id"))
        assert sorted(tuple(r) for r in found) == [
            ("req_staged", "added", "usr_e"),
            ("req_staged", "stage", "usr_b"),
            ("req_staged", "stage", "usr_c"),
        ]
        assert [tuple(r) for r in behalf] == [("vote_1", "usr_b"), ("vote_2", None)]
    engine.dispose()
