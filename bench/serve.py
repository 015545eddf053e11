"""Run `signoff serve` exactly as shipped, or with a variant patched in for comparison.

    python bench/serve.py [--inline-seal] -- serve --port 8100

`--inline-seal` (PostgreSQL): the design the sealer replaced. Every writer takes the chain-head
lock and links its own events inside its transaction, instead of leaving them to the background
sealer (see src/signoff/audit/chain.py).
"""

from __future__ import annotations

import sys
from typing import Any


def inline_seal() -> None:
    from signoff.service.context import Sealer
    from signoff.store import events

    insert = events.insert_events

    async def insert_and_seal(conn: Any, new: Any, now: Any, **options: Any) -> Any:
        inserted = await insert(conn, new, now, **options)
        if new:
            await events.seal_events(conn, lock=True)
        return inserted

    events.insert_events = insert_and_seal  # type: ignore[assignment]
    Sealer.poke = lambda self: None  # type: ignore[method-assign]  # nothing left to seal


def main() -> None:
    args = sys.argv[1:]
    while args and args[0].startswith("--") and args[0] != "--":
        {"--inline-seal": inline_seal}[args.pop(0)]()
    if args and args[0] == "--":
        args = args[1:]
    from signoff.cli import main as cli

    cli(args)


if __name__ == "__main__":
    main()
