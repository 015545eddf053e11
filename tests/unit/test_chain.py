"""The event chain's verify(): an intact chain holds; any edit, gap or swap is named."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from signoff.audit.chain import GENESIS, Link, link_hash, verify

START = datetime(2026, 1, 1, 12, tzinfo=UTC)


def make_chain(count: int) -> list[Link]:
    """`count` sealed links, each hashed onto the one before, as the sealer writes them."""
    links: list[Link] = []
    prev = GENESIS
    for seq in range(1, count + 1):
        link = Link(
            seq=seq,
            id=f"evt_{seq:026}",
            type="request.vote" if seq % 2 else "request.created",
            occurred_at=START + timedelta(seconds=seq, microseconds=seq),
            actor=json.dumps({"type": "api_key", "key_id": "key_1"}),
            request_id=f"req_{seq // 3:026}",
            loop_id=None if seq == 1 else "loop_1",
            data=json.dumps({"n": seq, "content": "Refund $120 to Bob"}),
            prev_hash=prev,
        )
        link = replace(link, hash=link_hash(prev, link))
        links.append(link)
        prev = link.hash or ""
    return links


def test_an_intact_chain_verifies() -> None:
    chain = make_chain(10)
    verdict = verify(chain)
    assert verdict.ok and verdict.broken_seq is None and verdict.reason is None
    assert (verdict.checked, verdict.head_seq, verdict.head_hash) == (10, 10, chain[-1].hash)


def test_an_empty_chain_verifies_to_genesis() -> None:
    verdict = verify([])
    assert verdict.ok and (verdict.checked, verdict.head_seq, verdict.head_hash) == (0, 0, GENESIS)


def test_every_field_is_covered_by_the_hash() -> None:
    link = make_chain(1)[0]
    edits = {
        "id": "evt_other",
        "type": "request.completed",
        "occurred_at": link.occurred_at + timedelta(microseconds=1),
        "actor": json.dumps({"type": "system"}),
        "request_id": "req_other",
        "loop_id": "loop_other",
        "data": link.data.replace("120", "12"),
    }
    for field, value in edits.items():
        assert link_hash(GENESIS, replace(link, **{field: value})) != link.hash, field
    assert link_hash("sha256:" + "1" * 64, link) != link.hash


@pytest.mark.parametrize("at", [1, 5, 10])
def test_an_edited_row_is_named(at: int) -> None:
    chain = make_chain(10)
    chain[at - 1] = replace(chain[at - 1], data=chain[at - 1].data.replace("120", "12"))
    verdict = verify(chain)
    assert not verdict.ok
    assert (verdict.broken_seq, verdict.broken_id) == (at, chain[at - 1].id)
    assert verdict.reason and "edited" in verdict.reason
    assert (verdict.checked, verdict.head_seq) == (at - 1, at - 1)
    assert verdict.head_hash == (chain[at - 2].hash if at > 1 else GENESIS)


def test_an_edited_row_with_a_recomputed_hash_breaks_the_next_link() -> None:
    chain = make_chain(10)
    forged = replace(chain[4], data="{}")
    chain[4] = replace(forged, hash=link_hash(chain[3].hash or "", forged))
    verdict = verify(chain)
    assert not verdict.ok and verdict.broken_seq == 6
    assert verdict.reason and "prev_hash" in verdict.reason


@pytest.mark.parametrize("at", [1, 5, 9])
def test_a_deleted_row_is_named_at_the_gap(at: int) -> None:
    chain = make_chain(10)
    del chain[at - 1]
    verdict = verify(chain)
    assert not verdict.ok
    # The first link that does not hold is the one found where the deleted one should be.
    assert (verdict.broken_seq, verdict.checked, verdict.head_seq) == (at + 1, at - 1, at - 1)
    assert verdict.reason and f"expected event #{at}" in verdict.reason


@pytest.mark.parametrize("at", [1, 5, 9])
def test_reordered_rows_are_named(at: int) -> None:
    chain = make_chain(10)
    chain[at - 1], chain[at] = chain[at], chain[at - 1]
    verdict = verify(chain)
    assert not verdict.ok and verdict.broken_seq == at + 1
    assert verdict.reason and "reordered" in verdict.reason


@pytest.mark.parametrize("at", [1, 5, 9])
def test_swapped_seq_values_are_named(at: int) -> None:
    # What `UPDATE events SET seq = …` on two rows looks like when read back in seq order.
    chain = make_chain(10)
    a, b = chain[at - 1], chain[at]
    chain[at - 1], chain[at] = replace(b, seq=a.seq), replace(a, seq=b.seq)
    verdict = verify(chain)
    assert not verdict.ok and (verdict.broken_seq, verdict.broken_id) == (at, b.id)
    assert verdict.checked == at - 1


def test_a_dropped_tail_verifies_but_the_head_moves() -> None:
    # Truncation is caught by comparing the head with one kept elsewhere, as the docs say.
    chain = make_chain(10)
    verdict = verify(chain[:7])
    assert verdict.ok and verdict.head_seq == 7 and verdict.head_hash != chain[-1].hash
