"""The SQLite event watcher: it announces what other processes wrote, and only that."""

from __future__ import annotations

import pytest

from signoff.app import build_context
from signoff.config import Settings
from signoff.domain.model import SYSTEM
from signoff.errors import InvalidTransition
from signoff.service import loops, requests
from signoff.service.context import Context


async def test_announces_other_processes_events_once_and_never_its_own(
    ctx: Context, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not ctx.db.is_sqlite:
        pytest.skip("PostgreSQL processes tell each other with NOTIFY")
    watcher = ctx.watcher
    assert watcher is not None
    await watcher.stop()  # looks are made by hand below, not on the timer
    loop = await loops.create_loop(ctx, SYSTEM, loops.LoopDraft("l"))
    drafts = [requests.RequestDraft("a"), requests.RequestDraft("b")]
    mine, theirs = await requests.create_requests(ctx, SYSTEM, loop.id, drafts, batch=True)
    woken: list[str] = []
    feeds: list[None] = []
    monkeypatch.setattr(ctx.notifier, "publish", woken.append)
    monkeypatch.setattr(ctx.notifier, "publish_feed", lambda: feeds.append(None))

    assert await watcher.look() == 3  # loop.created, 2 request.created: all this process's
    assert woken == [] and feeds == []

    other = build_context(settings, "http://other")  # another process on the same file
    try:
        await requests.cancel_request(other, SYSTEM, theirs.id, "elsewhere")
    finally:
        await other.db.dispose()
    await requests.cancel_request(ctx, SYSTEM, mine.id, "here")
    with pytest.raises(InvalidTransition):
        await requests.cancel_request(ctx, SYSTEM, mine.id, "twice")  # rolled back
    assert woken == [mine.id] and len(feeds) == 1  # told by the transaction itself
    woken.clear()
    feeds.clear()
    assert await watcher.look() == 2
    assert woken == [theirs.id] and len(feeds) == 1
    assert await watcher.look() == 0
    assert not watcher._mine  # nothing left over: not the committed ids, not the rolled back
