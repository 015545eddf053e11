"""When to try a failed delivery again, and when to give up on an endpoint."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

# Seconds after the first try; about a day in all (README: "Webhooks").
DEFAULT_SCHEDULE: tuple[float, ...] = (
    5,
    30,
    120,
    600,
    1800,
    3600,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    8 * 3600,
)
JITTER = 0.2


def next_attempt(
    attempts: int, now: datetime, schedule: tuple[float, ...], rng: random.Random | None = None
) -> datetime | None:
    """When to try again after `attempts` failed tries; None when the schedule is spent.

    Each wait is spread by ±20 % so that receivers coming back from an outage are not hit by
    every retry in the same second.
    """
    if attempts > len(schedule):
        return None
    wait = schedule[attempts - 1]
    spread = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return now + timedelta(seconds=wait * spread)
