"""Signoff's tables (SQLAlchemy Core). One Alembic chain in `migrations/` builds them on both
SQLite and PostgreSQL; a test checks that upgrading from empty gives exactly this metadata."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = sa.String(40)
Time = sa.DateTime(timezone=True)
# Event rows are numbered in the order they were written; BIGINT on PostgreSQL, the rowid on SQLite.
BigPk = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("password_hash", sa.String(200)),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("notify", sa.JSON),  # how they hear of work: email (null), chat URL, none
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("prefix", sa.String(20), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("user_id", Id, sa.ForeignKey("users.id")),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("revoked_at", Time),
)

loops = sa.Table(
    "loops",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("required_approvals", sa.Integer, nullable=False),
    sa.Column("allow_self_approval", sa.Boolean, nullable=False),
    sa.Column("default_timeout_seconds", sa.Integer),
    sa.Column("allow_timeout_approval", sa.Boolean, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("deleted_at", Time),
    # Time: what a timeout does by default, the pickup clock, reminders, the escalation ladder.
    sa.Column("default_timeout_action", sa.String(10)),
    sa.Column("pickup_timeout_seconds", sa.Integer),
    sa.Column("reminders", sa.JSON),
    sa.Column("escalation", sa.JSON),
    # Rules and stages, as checked when saved (domain/rules.py): lists of objects, null for none.
    sa.Column("rules", sa.JSON),
    sa.Column("stages", sa.JSON),
    # open, round_robin or least_loaded; the cursor is the round robin position of the next turn.
    sa.Column("assignment", sa.String(20), nullable=False, server_default="open"),
    sa.Column("assignment_cursor", sa.Integer, nullable=False, server_default="0"),
    # Round robin inside stages: each stage's own position, by stage name (migration 0008); the
    # cursor above serves loops without stages.
    sa.Column("stage_cursors", sa.JSON),
    # A deleted loop keeps its history; its name is free again.
    sa.Index(
        "uq_loops_live_name",
        "name",
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    ),
)

loop_reviewers = sa.Table(
    "loop_reviewers",
    metadata,
    sa.Column("loop_id", Id, sa.ForeignKey("loops.id"), primary_key=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Index("ix_loop_reviewers_user_id", "user_id"),
)

requests = sa.Table(
    "requests",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("loop_id", Id, sa.ForeignKey("loops.id"), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("decision", sa.String(20)),
    sa.Column("title", sa.String(500)),
    sa.Column("content", sa.JSON, nullable=False),
    sa.Column("content_type", sa.String(20), nullable=False),
    sa.Column("content_hash", sa.String(80), nullable=False),
    sa.Column("context", sa.JSON),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("ai_analysis", sa.JSON),
    sa.Column("response_spec", sa.JSON, nullable=False),
    sa.Column("priority", sa.String(10), nullable=False),
    sa.Column("required_approvals", sa.Integer, nullable=False),
    sa.Column("requested_by", sa.String(320)),
    sa.Column("created_by_key_id", Id),
    sa.Column("created_by_user_id", Id),
    sa.Column("timeout_seconds", sa.Integer),
    sa.Column("timeout_action", sa.String(10), nullable=False),
    sa.Column("deadline_at", Time),
    sa.Column("callback", sa.JSON),
    # Kept apart from `callback` so that no query that builds an answer can read it by accident.
    sa.Column("callback_auth", sa.JSON),
    sa.Column("previous_request_id", Id, sa.ForeignKey("requests.id")),
    sa.Column("feedback", sa.Text),
    sa.Column("final_content", sa.JSON),
    sa.Column("edited", sa.Boolean, nullable=False),
    sa.Column("response_data", sa.JSON),
    sa.Column("decided_by", sa.JSON),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("completed_at", Time),
    # Time: the pickup clock, and what escalation changed.
    sa.Column("picked_up_at", Time),
    sa.Column("pickup_deadline_at", Time),
    sa.Column("escalation_level", sa.Integer),
    sa.Column("added_reviewers", sa.JSON),
    # On a loop with stages: the loop's stages as copied at creation with each one's status, the
    # index of the current one, and when it became current.
    sa.Column("stages", sa.JSON),
    sa.Column("stage", sa.Integer),
    sa.Column("stage_started_at", Time),
    # Lists walk ids downwards under a filter; each index serves one filter shape.
    sa.Index("ix_requests_loop_id_id", "loop_id", "id"),
    sa.Index("ix_requests_status_id", "status", "id"),
    sa.Index("ix_requests_priority_id", "priority", "id"),
    sa.Index("ix_requests_loop_id_status_id", "loop_id", "status", "id"),
    sa.Index("ix_requests_previous_request_id", "previous_request_id"),
    # The inbox walks pending requests one priority at a time, oldest first.
    sa.Index("ix_requests_status_priority_id", "status", "priority", "id"),
)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("request_id", Id, sa.ForeignKey("requests.id"), nullable=False),
    sa.Column("voter_id", Id, nullable=False),
    sa.Column("voter", sa.JSON, nullable=False),
    sa.Column("choice", sa.String(20), nullable=False),
    sa.Column("feedback", sa.Text),
    sa.Column("edited_content", sa.JSON),
    sa.Column("response_data", sa.JSON),
    sa.Column("content_hash", sa.String(80), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("voided_at", Time),
    sa.Column("stage", sa.Integer),  # the stage it was cast in, on a loop with stages
    # A delegate's vote: the reviewer it was cast for (also in `voter`), so that the inbox can
    # leave out what that reviewer has had decided for them (migration 0008).
    sa.Column("on_behalf_of", Id),
    # One live vote per voter and request, guarded by the database as well as by the domain.
    sa.Index(
        "uq_votes_live_voter",
        "request_id",
        "voter_id",
        unique=True,
        sqlite_where=sa.text("voided_at IS NULL"),
        postgresql_where=sa.text("voided_at IS NULL"),
    ),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("pk", BigPk, primary_key=True, autoincrement=True),
    sa.Column("id", Id, nullable=False, unique=True),
    # `seq`, `prev_hash` and `hash` are set when the event is sealed into the chain; see
    # audit/chain.py for why sealing is a step of its own.
    sa.Column("seq", sa.BigInteger, unique=True),
    sa.Column("type", sa.String(60), nullable=False),
    sa.Column("occurred_at", Time, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("request_id", Id),
    sa.Column("loop_id", Id),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(80)),
    sa.Column("hash", sa.String(80)),
    sa.Index("ix_events_request_id", "request_id"),
    sa.Index(
        "ix_events_unsealed",
        "pk",
        sqlite_where=sa.text("seq IS NULL"),
        postgresql_where=sa.text("seq IS NULL"),
    ),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("principal", Id, primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("body", sa.LargeBinary),
    sa.Column("created_at", Time, nullable=False),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("events", sa.JSON),  # null: every event type
    sa.Column("loop_id", Id),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("disabled_reason", sa.Text),
    # Signing secrets must be readable to sign with; they never leave the server after creation
    # (or rotation) and never appear in events.
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("previous_secret", sa.String(100)),
    sa.Column("previous_secret_until", Time),
    sa.Column("failing_since", Time),
    # The key that made it: a requester key sees and manages only its own endpoints.
    sa.Column("created_by_key_id", Id),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("deleted_at", Time),
)

# The outbox: one row per event and receiver, written in the transaction that wrote the event.
messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", Id, primary_key=True),  # also the `webhook-id` header, kept across retries
    sa.Column("event_id", Id, nullable=False),
    sa.Column("event_type", sa.String(60), nullable=False),
    sa.Column("endpoint_id", Id, sa.ForeignKey("webhook_endpoints.id")),
    sa.Column("request_id", Id, sa.ForeignKey("requests.id")),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # pending, delivered, failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", Time, nullable=False),
    # A claimed message belongs to one dispatcher until this time: no one else sends it.
    sa.Column("locked_until", Time),
    sa.Column("last_attempt_at", Time),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("delivered_at", Time),
    # null: a webhook; "email" or "chat": a notification to a person (url: mailto: or chat URL).
    sa.Column("channel", sa.String(10)),
    sa.Index("ix_messages_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_messages_endpoint_id_id", "endpoint_id", "id"),
    sa.Index("ix_messages_request_id", "request_id"),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("message_id", Id, sa.ForeignKey("messages.id"), nullable=False),
    sa.Column("attempted_at", Time, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("response_excerpt", sa.Text),
    sa.Column("error", sa.Text),
    sa.Index("ix_delivery_attempts_message_id", "message_id"),
)

# Secrets the server makes for itself, such as the key that signs per-request callbacks.
server_secrets = sa.Table(
    "server_secrets",
    metadata,
    sa.Column("name", sa.String(60), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

# Signed review links: one reviewer, one request, until spent by their vote, revoked or expired.
review_links = sa.Table(
    "review_links",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("request_id", Id, sa.ForeignKey("requests.id"), nullable=False),
    # A user's link votes as that user; a link without one votes as its email.
    sa.Column("user_id", Id, sa.ForeignKey("users.id")),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("content_hash", sa.String(80), nullable=False),
    # Only the token's SHA-256: the token itself exists in the link alone.
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("expires_at", Time, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("created_by", sa.JSON, nullable=False),
    sa.Column("spent_at", Time),
    sa.Column("vote_id", Id),
    sa.Column("revoked_at", Time),
    sa.Index("ix_review_links_request_id", "request_id"),
    sa.Index("ix_review_links_user_id", "user_id"),
)

# One-time account links: the first admin's setup link, and invites that set a password.
account_tokens = sa.Table(
    "account_tokens",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("user_id", Id, sa.ForeignKey("users.id")),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("expires_at", Time, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("used_at", Time),
    sa.Column("revoked_at", Time),
    sa.Index("ix_account_tokens_user_id", "user_id"),
)

# A signed-in browser: the cookie holds a random token, this row only its hash.
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("csrf_secret", sa.String(64), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("last_seen_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
    sa.Index("ix_web_sessions_user_id", "user_id"),
)

# Sign-in attempts, kept for a while to slow down password guessing per account and address.
login_attempts = sa.Table(
    "login_attempts",
    metadata,
    sa.Column("pk", BigPk, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("succeeded", sa.Boolean, nullable=False),
    sa.Column("attempted_at", Time, nullable=False),
    sa.Index("ix_login_attempts_email_attempted_at", "email", "attempted_at"),
    sa.Index("ix_login_attempts_address_attempted_at", "address", "attempted_at"),
)

# Due work of the scheduler: one row per reminder, escalation step, pickup and timeout of a
# request. Claimed FOR UPDATE SKIP LOCKED and deleted in the transaction that fires it, so each
# fires once; a firing that fails waits until `locked_until` and is tried again.
timers = sa.Table(
    "timers",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("request_id", Id, sa.ForeignKey("requests.id"), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # pickup, reminder, escalation, timeout
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("data", sa.JSON),  # what the firing needs: a reminder's fraction, a rung's actions
    sa.Column("due_at", Time, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("locked_until", Time),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_timers_due_at", "due_at"),
    sa.Index("ix_timers_request_id", "request_id"),
)

# Assignment and delegation (migration 0006).

# Who a request is assigned to; a row ends (`ended_at`) when an admin reassigns it.
assignments = sa.Table(
    "assignments",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("request_id", Id, sa.ForeignKey("requests.id"), nullable=False),
    sa.Column("user_id", Id, sa.ForeignKey("users.id"), nullable=False),
    # Who acts for `user_id`, when they were away at the time of the assignment.
    sa.Column("delegate_id", Id, sa.ForeignKey("users.id")),
    sa.Column("assigned_at", Time, nullable=False),
    sa.Column("ended_at", Time),
    sa.Index("ix_assignments_request_id", "request_id"),
    sa.Index("ix_assignments_user_id", "user_id"),
    sa.Index("ix_assignments_delegate_id", "delegate_id"),
)

# The claim lease on a request: who is deciding it now, until when.
request_claims = sa.Table(
    "request_claims",
    metadata,
    sa.Column("request_id", Id, sa.ForeignKey("requests.id"), primary_key=True),
    # A user id, or the id of a key that acts for no user (as a vote's `voter_id`).
    sa.Column("claimed_by", Id, nullable=False),
    sa.Column("claimed_at", Time, nullable=False),
    sa.Column("until", Time, nullable=False),
)

# A reviewer away for a period, and who acts for them meanwhile.
absences = sa.Table(
    "absences",
    metadata,
    sa.Column("user_id", Id, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("away_from", Time, nullable=False),
    sa.Column("away_until", Time),
    sa.Column("delegate_id", Id, sa.ForeignKey("users.id")),
    sa.Column("updated_at", Time, nullable=False),
    sa.Index("ix_absences_delegate_id", "delegate_id"),
)

# The people a request names beyond its loop, one row each, so that "what may this person
# decide" is an index lookup (migration 0008): `added`, whom an escalation added to it (as in
# `requests.added_reviewers`); `stage`, its current stage's own reviewers (none when the stage
# takes the loop's, as in `requests.stages`). service/deciders.py keeps them in step.
request_reviewers = sa.Table(
    "request_reviewers",
    metadata,
    sa.Column("request_id", Id, sa.ForeignKey("requests.id"), primary_key=True),
    sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("user_id", Id, primary_key=True),
    sa.Index("ix_request_reviewers_user_id_kind", "user_id", "kind"),
)
