"""Prefixed, sortable, opaque ids: `req_` + 26 Crockford base32 characters (48-bit ms + 80 bits).

Ids made by one process are strictly increasing, even within one millisecond, so sorting by id
sorts by creation; that is what makes cursor pagination an index range scan.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_lock = threading.Lock()
_last = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _ms(now: datetime) -> int:
    # Integer arithmetic: `int(now.timestamp() * 1000)` is a float and lands 1 ms low on some
    # exact milliseconds, which moves `created_after`/`created_before` bounds by one.
    return (now - _EPOCH) // _MS


def new_id(prefix: str, now: datetime) -> str:
    global _last
    value = (_ms(now) << _RANDOM_BITS) | int.from_bytes(os.urandom(10), "big")
    with _lock:
        if value <= _last:
            value = _last + 1
        _last = value
    return f"{prefix}_{_encode(value, 26)}"


def lowest_id(prefix: str, at: datetime) -> str:
    """The smallest id that could have been made at `at`: turns a time range into an id range.

    Before 1970 no id was made: the bound is the lowest id of all, not a negative number.
    """
    return f"{prefix}_{_encode(max(_ms(at), 0) << _RANDOM_BITS, 26)}"


# How far an id's time may run ahead of the time it was made for. `new_id` keeps one process's
# ids increasing: an id made for `now` after one made for a later time (transactions in flight
# at once, a clock set back) takes that later time. A transaction is shorter than this.
MAX_ID_LEAD = timedelta(minutes=1)


def id_range(
    prefix: str, after: datetime | None, before: datetime | None
) -> tuple[str | None, str | None]:
    """Bounds (low inclusive, high exclusive) on the ids of things made in [after, before).

    Wider than the range: ids know only the millisecond, and may run ahead of their time
    (MAX_ID_LEAD). They make an index range scan; the exact test is on the creation time.
    """
    low = lowest_id(prefix, after) if after is not None else None
    high = None
    if before is not None:
        try:
            high = lowest_id(prefix, before + _MS + MAX_ID_LEAD)
        except OverflowError:  # past the last datetime: no id is that late
            high = None
    return low, high


def id_time(id_: str) -> datetime:
    body = id_.split("_", 1)[1]
    value = 0
    for char in body:
        value = value * 32 + _ALPHABET.index(char)
    return _EPOCH + (value >> _RANDOM_BITS) * _MS
