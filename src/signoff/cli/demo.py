"""`signoff demo`: sample loops, people and requests, so a new instance shows a living inbox.

Everything is made through the same use cases as the API, with the clock set back so that the
story reads in order: people and loops three days ago, then requests and votes over the days
since. Ids are sortable by time, so each step must be later than the one before (`_Story.at`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import click

from ..domain.model import (
    Choice,
    ContentType,
    Principal,
    Priority,
    Request,
    Role,
    Status,
    UserRole,
)
from ..domain.voting import Ballot
from ..errors import Conflict
from ..service.context import Context
from ._common import CLI, run, settings

PEOPLE = (
    ("dana@example.com", "Dana Okafor", UserRole.admin),
    ("ali@example.com", "Ali Haddad", UserRole.reviewer),
    ("ben@example.com", "Ben Carter", UserRole.reviewer),
    ("chloe@example.com", "Chloé Martin", UserRole.reviewer),
)
LOOPS: tuple[dict[str, Any], ...] = (
    {
        "name": "support-replies",
        "description": "AI-drafted answers to customer tickets, checked before they are sent.",
        "reviewers": ("ali", "ben"),
        "approvals": 1,
        "timeout": 24 * 3600,
    },
    {
        "name": "payments",
        "description": "Refunds and payouts above the automatic limit. Two people must agree.",
        "reviewers": ("ali", "ben", "chloe"),
        "approvals": 2,
        "timeout": 3 * 24 * 3600,
    },
    {
        "name": "content",
        "description": "Blog posts, newsletters and banners before they go public.",
        "reviewers": ("chloe", "ali"),
        "approvals": 1,
        "timeout": None,
    },
    {
        "name": "agent-actions",
        "description": "Actions the operations agent wants to take on production.",
        "reviewers": ("ben",),
        "approvals": 1,
        "timeout": 12 * 3600,
    },
)


@dataclass
class _Story:
    ctx: Context
    start: datetime
    people: dict[str, Principal] = field(default_factory=dict)
    loops: dict[str, str] = field(default_factory=dict)
    agent: Principal = CLI
    last: datetime | None = None

    def at(self, hours: float) -> None:
        """Set the clock to `hours` after the start; the story only moves forward."""
        moment = self.start + timedelta(hours=hours)
        assert self.last is None or moment > self.last, "the demo's steps must be in time order"
        self.last = moment
        self.ctx.clock = lambda: moment

    async def ask(self, hours: float, loop: str, **draft: Any) -> Request:
        from ..service.requests import RequestDraft, create_requests

        self.at(hours)
        [made] = await create_requests(
            self.ctx, self.agent, self.loops[loop], [RequestDraft(**draft)], batch=False
        )
        return made

    async def vote(
        self, hours: float, who: str, request: Request, choice: Choice, **kw: Any
    ) -> None:
        from ..service.votes import vote

        self.at(hours)
        await vote(self.ctx, self.people[who], request.id, Ballot(choice, **kw))


async def _is_fresh(ctx: Context) -> bool:
    from ..service import loops, requests, users

    if await users.list_users(ctx, None, 1) or await loops.list_loops(ctx, None, 1):
        return False
    page, _ = await requests.list_requests(
        ctx,
        CLI,
        loop_id=None,
        status=None,
        priority=None,
        created_after=None,
        created_before=None,
        cursor=None,
        limit=1,
    )
    return not page


@dataclass(frozen=True)
class Made:
    password: str
    admin_key: str
    loops: list[str]
    pending: int
    decided: int


async def make_demo(ctx: Context) -> Made:
    """Fill a fresh instance; refuses (Conflict) one that has people, loops or requests."""
    from ..service import loops, users

    if not await _is_fresh(ctx):
        raise Conflict(
            "this instance already has people, loops or requests; the demo fills only a "
            "fresh one (point SIGNOFF_DATA_DIR at a new folder to try it)"
        )
    now = ctx.clock()
    story = _Story(ctx, now - timedelta(days=3))
    password = secrets.token_urlsafe(9)
    story.at(0)
    for email, name, role in PEOPLE:
        user = await users.create_user(ctx, CLI, email, name, role, password)
        short = email.split("@")[0]
        story.people[short] = Principal(
            role=Role.admin if role is UserRole.admin else Role.reviewer,
            user_id=user.id,
            user_email=user.email,
            name=user.name,
        )
    agent = await users.create_key(ctx, CLI, "demo agents", Role.requester, None)
    story.agent = Principal(role=Role.requester, key_id=agent.key.id, name="demo agents")
    for spec in LOOPS:
        story.at(0.1 + len(story.loops) / 100)
        draft = loops.LoopDraft(
            name=spec["name"],
            description=spec["description"],
            reviewers=tuple(story.people[r].user_id or "" for r in spec["reviewers"]),
            required_approvals=spec["approvals"],
            default_timeout_seconds=spec["timeout"],
        )
        story.loops[spec["name"]] = (await loops.create_loop(ctx, CLI, draft)).id
    pending, decided = await _requests(story)
    ctx.clock = lambda: now
    story.last = None
    admin = await users.create_key(
        ctx, CLI, "demo admin key", Role.admin, story.people["dana"].user_id
    )
    return Made(password, admin.secret, list(story.loops), pending, decided)


async def _requests(s: _Story) -> tuple[int, int]:
    """The requests and votes, in time order. Answers (pending, decided) counts."""
    # Day 1: support replies; one approved as edited, one rejected.
    r = await s.ask(
        2,
        "support-replies",
        title="Reply to ticket #4411: damaged parcel",
        content="Hi Jane,\n\nSorry your order arrived damaged. We have sent a replacement; it "
        "should reach you within 3 days. No need to return the broken one.\n\nBest,\nAcme",
        context="Customer sent a photo of a crushed box. Order total: $89.",
        metadata={"ticket": "T-4411", "customer": "jane@example.com"},
        ai_analysis={"confidence": 0.91, "summary": "Apology and replacement offer."},
        requested_by="support-agent",
    )
    await s.vote(
        3,
        "ali",
        r,
        Choice.approve,
        edited_content=str(r.content).replace("within 3 days", "within 2 working days"),
        feedback="Shipping is 2 working days for replacements.",
    )
    r = await s.ask(
        5,
        "support-replies",
        title="Reply to ticket #4420: refund policy question",
        content="Hi Marc,\n\nYou can return any item within 90 days for a full refund, "
        "shipping included.\n\nBest,\nAcme",
        metadata={"ticket": "T-4420", "customer": "marc@example.com"},
        ai_analysis={"confidence": 0.64, "flags": ["policy_claim"]},
        requested_by="support-agent",
    )
    await s.vote(
        6,
        "ben",
        r,
        Choice.reject,
        feedback="Our return window is 30 days and return shipping is not refunded. "
        "Quote the policy page, do not invent terms.",
    )
    # Payments: one approved by two reviewers, one rejected, one half-approved.
    r = await s.ask(
        20,
        "payments",
        title="Refund $640.00 to order 7781",
        content_type=ContentType.json,
        content={"action": "refund", "order": "7781", "amount": 640.0, "currency": "USD"},
        context="Customer cancelled within the trial; the charge went through twice.",
        metadata={"order": "7781", "customer": "lee@example.com"},
        ai_analysis={"confidence": 0.88, "risk_score": 0.12},
        priority=Priority.high,
        requested_by="billing-agent",
    )
    await s.vote(21, "ali", r, Choice.approve)
    await s.vote(22, "chloe", r, Choice.approve, feedback="Double charge confirmed in Stripe.")
    r = await s.ask(
        26,
        "payments",
        title="Pay invoice INV-2231 from Northwind ($4,200.00)",
        content_type=ContentType.json,
        content={"action": "payout", "vendor": "Northwind", "invoice": "INV-2231", "amount": 4200},
        metadata={"vendor": "northwind"},
        ai_analysis={"confidence": 0.7, "risk_score": 0.45, "flags": ["possible_duplicate"]},
        requested_by="billing-agent",
    )
    await s.vote(27, "chloe", r, Choice.reject, feedback="Duplicate of INV-2229, paid last week.")
    # Content: a blog post sent back for changes, then its revision (still pending).
    first = await s.ask(
        30,
        "content",
        title="Blog: Five ways to cut your cloud bill",
        content_type=ContentType.markdown,
        content="# Five ways to cut your cloud bill\n\n1. Turn off idle machines.\n"
        "2. Buy reserved capacity.\n3. Right-size databases.\n4. Cache more.\n"
        "5. Move everything to our platform today!!!",
        ai_analysis={"confidence": 0.77, "summary": "Listicle, 5 tips, ends with a pitch."},
        requested_by="marketing-agent",
    )
    await s.vote(
        31,
        "chloe",
        first,
        Choice.needs_changes,
        feedback="Tip 5 is an ad, not a tip. Replace it with storage lifecycle rules and "
        "put one line about us at the end instead.",
    )
    await s.ask(
        33,
        "content",
        title="Blog: Five ways to cut your cloud bill (revision 2)",
        content_type=ContentType.markdown,
        content="# Five ways to cut your cloud bill\n\n1. Turn off idle machines.\n"
        "2. Buy reserved capacity.\n3. Right-size databases.\n4. Cache more.\n"
        "5. Expire old objects with storage lifecycle rules.\n\n"
        "*Acme Cloud does the first four for you.*",
        context="Revised after review: tip 5 replaced, pitch moved to one line.",
        ai_analysis={"confidence": 0.86},
        requested_by="marketing-agent",
        previous_request_id=first.id,
    )
    # An agent action approved, another cancelled by its agent.
    r = await s.ask(
        40,
        "agent-actions",
        title="Restart the payment worker",
        content_type=ContentType.json,
        content={"tool": "kubectl", "args": ["rollout", "restart", "deploy/payment-worker"]},
        context="Queue depth 12,400 and rising; worker heartbeats stopped 9 minutes ago.",
        ai_analysis={"confidence": 0.93, "risk_score": 0.2},
        priority=Priority.urgent,
        requested_by="ops-agent",
    )
    await s.vote(40.2, "ben", r, Choice.approve)
    r = await s.ask(
        44,
        "agent-actions",
        title="Scale the search cluster to 12 nodes",
        content_type=ContentType.json,
        content={"tool": "terraform", "set": {"search_nodes": 12}},
        requested_by="ops-agent",
    )
    from ..service.requests import cancel_request

    s.at(45)
    await cancel_request(s.ctx, s.agent, r.id, "Traffic went back to normal.")

    # Still waiting: the living inbox.
    await s.ask(
        50,
        "support-replies",
        title="Reply to ticket #4502: angry about a late delivery",
        content_type=ContentType.markdown,
        content="Hi Sam,\n\nI understand how frustrating this is. Your parcel is at the local "
        "depot and will be delivered **tomorrow before noon**. I have refunded the shipping "
        "fee ($7.99).\n\nBest,\nAcme",
        context={"previous_messages": 4, "sentiment": "very negative", "order": "8120"},
        metadata={"ticket": "T-4502", "customer": "sam@example.com"},
        ai_analysis={"confidence": 0.72, "flags": ["negative_sentiment", "refund_promised"]},
        priority=Priority.high,
        requested_by="support-agent",
    )
    half = await s.ask(
        54,
        "payments",
        title="Refund $1,450.00 to order 8002",
        content_type=ContentType.json,
        content={"action": "refund", "order": "8002", "amount": 1450.0, "currency": "EUR"},
        context="Wrong size delivered twice; customer returned both.",
        metadata={"order": "8002", "customer": "ines@example.com"},
        ai_analysis={"confidence": 0.84, "risk_score": 0.35},
        priority=Priority.high,
        requested_by="billing-agent",
    )
    await s.vote(55, "ali", half, Choice.approve, feedback="Both returns received.")
    await s.ask(
        58,
        "payments",
        title="Reimburse Ben's conference travel (€860.00)",
        content_type=ContentType.json,
        content={"action": "reimburse", "employee": "ben@example.com", "amount": 860.0},
        metadata={"expense_report": "EXP-301"},
        ai_analysis={"confidence": 0.95, "risk_score": 0.1},
        requested_by="ben@example.com",  # Ben may not approve his own reimbursement
    )
    await s.ask(
        60,
        "payments",
        title="First payout to new vendor Globex ($12,000.00)",
        content_type=ContentType.json,
        content={"action": "payout", "vendor": "Globex", "amount": 12000, "iban": "DE89…3000"},
        context="Vendor added yesterday; bank details changed once since.",
        ai_analysis={
            "confidence": 0.41,
            "risk_score": 0.71,
            "flags": ["new_vendor", "bank_details_changed", "amount_above_p99"],
        },
        priority=Priority.urgent,
        requested_by="billing-agent",
    )
    await s.ask(
        62,
        "content",
        title="Pick the headline for Tuesday's newsletter",
        content="Three headlines the agent wrote; choose one.",
        response={
            "type": "choice",
            "options": [
                "Your cloud bill, halved",
                "Stop paying for idle servers",
                "The 5-minute cost review",
            ],
        },
        requested_by="marketing-agent",
    )
    await s.ask(
        64,
        "content",
        title="Newsletter banner",
        content_type=ContentType.image_url,
        content="https://images.example.com/banners/november.png",
        context="Alt text: a piggy bank wearing a cloud-shaped hat.",
        priority=Priority.low,
        requested_by="marketing-agent",
    )
    await s.ask(
        66,
        "agent-actions",
        title="Delete 3,412 inactive accounts",
        content_type=ContentType.json,
        content={"tool": "sql", "query": "DELETE FROM accounts WHERE last_login < now() - '2y'"},
        context="Accounts without a login for 2 years; GDPR retention policy.",
        ai_analysis={
            "confidence": 0.8,
            "risk_score": 0.9,
            "flags": ["destructive", "irreversible"],
        },
        priority=Priority.urgent,
        requested_by="ops-agent",
    )
    await s.ask(
        68,
        "agent-actions",
        title="What should we tell customers about this morning's outage?",
        content="The API returned errors for 14 minutes (09:02-09:16 UTC). Draft a status-page "
        "note, or write your own.",
        response={"type": "text"},
        requested_by="ops-agent",
    )
    return await _count(s.ctx)


async def _count(ctx: Context) -> tuple[int, int]:
    from ..service.requests import list_requests

    counts = []
    for status in (Status.pending, Status.completed):
        page, _ = await list_requests(
            ctx,
            CLI,
            loop_id=None,
            status=status,
            priority=None,
            created_after=None,
            created_before=None,
            cursor=None,
            limit=1000,
        )
        counts.append(len(page))
    return counts[0], counts[1]


@click.command()
def demo() -> None:
    """Fill a fresh instance with sample people, loops and requests to try Signoff on.

    Makes four people (one admin, three reviewers) sharing one new password, four loops, and
    requests both pending and decided: text, Markdown, JSON, an image and questions with a
    choice or a text answer, priorities, AI analysis, a request sent back for changes and its
    revision. Refuses an instance that already has people, loops or requests.

    \b
    Example:
      export SIGNOFF_DATA_DIR=/tmp/signoff-demo
      signoff demo && signoff serve
    """

    async def work(ctx: Context) -> Made:
        return await make_demo(ctx)

    made = run(settings(), work)
    emails = ", ".join(e for e, _, _ in PEOPLE[1:])
    click.echo(
        f"Made a demo: {len(made.loops)} loops ({', '.join(made.loops)}), "
        f"{made.pending} pending and {made.decided} decided requests.\n"
        f"People (password for all: {made.password}):\n"
        f"  {PEOPLE[0][0]} (admin); reviewers {emails}\n"
        f"Admin API key (shown only this once):\n  {made.admin_key}\n\n"
        "Next:\n"
        "  signoff requests list --status pending\n"
        "  signoff requests approve <id> --as ali@example.com\n"
        "  signoff serve     # then sign in at http://127.0.0.1:8000 as dana@example.com\n"
    )
