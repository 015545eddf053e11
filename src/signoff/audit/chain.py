"""The event chain.

Each sealed event carries `hash = sha256(prev_hash | seq | id | type | occurred_at | actor |
request_id | loop_id | data)`. Editing, deleting or reordering any sealed row breaks the link
after it; truncating the tail is caught by comparing the head hash with one kept elsewhere.

Why sealing is its own step: if every writer had to link its event to the previous one inside its
own transaction, every write in the system would queue on one row lock (the chain head) for the
whole of its transaction. Instead writers insert unsealed events, and a sealer — one at a time,
under a lock — links all committed unsealed events in one short transaction, in the order it
finds them. The sealed order is also the commit-visible order, so `seq` doubles as the gap-free
cursor of `GET /v1/events?after=N`: an event never appears behind one a reader already saw.
On SQLite, where writers are serialized anyway, the writer seals in its own transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

GENESIS = "sha256:" + "0" * 64


@dataclass(frozen=True)
class Link:
    """The parts of an event row that its hash covers (data and actor as stored text)."""

    seq: int
    id: str
    type: str
    occurred_at: datetime
    actor: str
    request_id: str | None
    loop_id: str | None
    data: str
    prev_hash: str | None = None
    hash: str | None = None


def link_hash(prev_hash: str, link: Link) -> str:
    parts = [
        prev_hash,
        str(link.seq),
        link.id,
        link.type,
        link.occurred_at.isoformat(timespec="microseconds"),
        link.actor,
        link.request_id or "",
        link.loop_id or "",
        link.data,
    ]
    digest = hashlib.sha256("\x1f".join(parts).encode())
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    broken_id: str | None = None
    reason: str | None = None


def verify(links: Iterable[Link]) -> Verdict:
    """Walk the sealed events in `seq` order and report the first link that does not hold."""
    prev, expected_seq, checked = GENESIS, 1, 0
    for link in links:
        reason = None
        if link.seq != expected_seq:
            reason = (
                f"expected event #{expected_seq} here but found #{link.seq}: "
                "rows are missing or reordered"
            )
        elif link.prev_hash != prev:
            reason = "prev_hash does not match the hash of the event before it"
        else:
            digest = link_hash(prev, link)
            if link.hash != digest:
                reason = "the stored hash does not match the event's content: the row was edited"
        if reason:
            return Verdict(False, checked, expected_seq - 1, prev, link.seq, link.id, reason)
        prev, expected_seq, checked = digest, expected_seq + 1, checked + 1
    return Verdict(True, checked, expected_seq - 1, prev)
