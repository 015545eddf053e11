"""Ids: prefixed, sortable, strictly increasing within one process, and carrying their time."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from signoff.domain.ids import id_time, lowest_id, new_id

_SHAPE = re.compile(r"^req_[0-9A-HJKMNP-TV-Z]{26}$")
# Times an id can carry: 48 bits of milliseconds, from the epoch on.
times = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)


def _ms(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def test_shape() -> None:
    assert _SHAPE.match(new_id("req", datetime.now(UTC)))


def test_strictly_increasing_within_one_millisecond() -> None:
    now = datetime.now(UTC)
    made = [new_id("req", now) for _ in range(2000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert {id_time(i) for i in made} == {_ms(now)}


def test_still_increasing_when_the_clock_steps_back() -> None:
    now = datetime.now(UTC)
    first = new_id("req", now)
    assert new_id("req", now - timedelta(hours=1)) > first


def test_sorting_by_id_sorts_by_creation_time() -> None:
    made = []
    for _ in range(5):
        made.append(new_id("req", datetime.now(UTC)))
        time.sleep(0.002)
    assert made == sorted(made)
    stamps = [id_time(i) for i in made]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


def test_id_time_round_trip() -> None:
    now = datetime.now(UTC)
    assert id_time(new_id("evt", now)) == _ms(now)


def test_lowest_id_bounds_the_ids_of_its_millisecond() -> None:
    now = datetime.now(UTC)
    made = new_id("req", now)
    assert lowest_id("req", now) <= made < lowest_id("req", now + timedelta(milliseconds=1))


@given(times)
# An exact millisecond that float arithmetic (timestamp() * 1000) rounds down to the one before.
@example(datetime(2004, 2, 9, 19, 58, 35, 929000, tzinfo=UTC))
def test_lowest_id_carries_its_millisecond(at: datetime) -> None:
    assert id_time(lowest_id("req", at)) == _ms(at)


@given(times, times)
def test_lowest_ids_sort_like_their_times(a: datetime, b: datetime) -> None:
    if _ms(a) < _ms(b):
        assert lowest_id("req", a) < lowest_id("req", b)
    elif _ms(a) == _ms(b):
        assert lowest_id("req", a) == lowest_id("req", b)


def test_a_test_may_run_its_clock_ahead() -> None:
    new_id("req", datetime.now(UTC) + timedelta(hours=1))


def test_the_next_test_makes_its_ids_on_its_own_clock() -> None:
    """tests/conftest.py `fresh_ids`: the test before left an id an hour ahead."""
    now = datetime.now(UTC)
    assert id_time(new_id("req", now)) == _ms(now)
