"""What rules cost a request: a loop's rules and stages read on each new request.

Two figures, each beside its baseline from the same run, in CPU time of this process (so that
other processes on a busy machine do not inflate them; wall time is printed beside):

- evaluation alone: `apply_rules` and `start_stages` on a typical request, for a loop with
  10 rules and 2 stages, against reading the same request's facts with no rule at all;
- a whole create (`service.create_requests` on a fresh SQLite database, in this process): a loop
  with those rules and stages against a loop with none, interleaved in rounds so that drift in
  the machine hits both alike. The difference per request is what the rules add.

    .venv/bin/python bench/rules.py [--requests 2000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from signoff.app import Runtime, build_context
from signoff.config import Settings
from signoff.domain.model import SYSTEM, UserRole
from signoff.domain.rules import apply_rules, parse_rules, parse_stages, start_stages
from signoff.service.loops import LoopDraft, create_loop
from signoff.service.requests import RequestDraft, create_requests, draft_facts
from signoff.service.users import create_user
from signoff.store.migrate import upgrade

RULES: list[dict[str, Any]] = [
    {"when": "has(ai_analysis.flags) && 'pii' in ai_analysis.flags", "action": "auto_reject"},
    {"when": "has(ai_analysis.risk_score) && ai_analysis.risk_score > 0.9",
     "action": "auto_reject"},
    {"when": "metadata.amount > 100000", "action": "require_approvals", "approvals": 2},
    {"when": "metadata.amount > 10000", "action": "set_priority", "priority": "urgent"},
    {"when": "ai_analysis.confidence < 0.5", "action": "set_priority", "priority": "high"},
    {"when": "metadata.customer.tier == 'gold'", "action": "set_timeout", "timeout_seconds": 3600},
    {"when": "requested_by == 'nightly-batch'", "action": "set_timeout", "timeout_seconds": 86400},
    {"when": "content_type == 'json' && size(metadata) > 20", "action": "set_priority",
     "priority": "low"},
    {"when": "title.contains('TEST') && priority == 'low'", "action": "auto_approve"},
    {"when": "metadata.amount < 50 && ai_analysis.confidence > 0.95", "action": "auto_approve"},
]  # fmt: skip
STAGES = [
    {"name": "lead"},
    {"name": "finance", "when": "metadata.amount > 10000", "required_approvals": 1},
]


def draft(n: int) -> RequestDraft:
    return RequestDraft(
        content=f"Refund ${200 + n} to customer {n} for order {4000 + n}.",
        title=f"Refund order {4000 + n}",
        metadata={"amount": 200 + n % 20000, "order": 4000 + n, "customer": {"tier": "silver"}},
        ai_analysis={"confidence": 0.8, "flags": [], "risk_score": 0.2},
        requested_by="refund-agent",
    )


def per_call_us(fn: Any, arg: Any, repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        fn(arg)
    return (time.process_time() - start) / repeat * 1e6


def evaluation(repeat: int) -> dict[str, float]:
    rules = parse_rules(RULES)
    stages = parse_stages(STAGES, ())
    drafts = [draft(n) for n in range(100)]

    def facts_only(d: RequestDraft) -> object:
        return draft_facts(d)

    def with_rules(d: RequestDraft) -> object:
        plan = apply_rules(rules, draft_facts(d))
        return start_stages(stages, plan.approvals, draft_facts(d, plan.priority))

    base = [per_call_us(facts_only, d, repeat // 100) for d in drafts]
    ruled = [per_call_us(with_rules, d, repeat // 100) for d in drafts]
    return {
        "facts_only_us": statistics.median(base),
        "rules_and_stages_us": statistics.median(ruled),
        "rules_and_stages_p99_us": sorted(ruled)[98],
    }


async def creates(requests: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="signoff-bench-rules-") as folder:
        url = f"sqlite:///{Path(folder) / 'signoff.db'}"
        upgrade(url)
        settings = Settings(data_dir=Path(folder), database_url=url)
        runtime = Runtime(build_context(settings, "http://127.0.0.1"), settings)
        async with runtime.running() as ctx:
            user = await create_user(ctx, SYSTEM, "ann@example.com", "Ann", UserRole.reviewer, None)
            plain = await create_loop(ctx, SYSTEM, LoopDraft("plain", reviewers=(user.id,)))
            ruled = await create_loop(
                ctx,
                SYSTEM,
                LoopDraft(
                    "ruled",
                    reviewers=(user.id,),
                    rules=tuple(RULES),
                    stages=tuple(STAGES),
                ),
            )
            batch = requests // rounds
            cpu: dict[str, list[float]] = {"plain": [], "ruled": []}
            wall: dict[str, list[float]] = {"plain": [], "ruled": []}
            for r in range(rounds):
                for name, loop in (("plain", plain), ("ruled", ruled))[:: 1 if r % 2 else -1]:
                    start, start_cpu = time.perf_counter(), time.process_time()
                    for n in range(batch):
                        await create_requests(ctx, SYSTEM, loop.id, [draft(n)], batch=False)
                    cpu[name].append((time.process_time() - start_cpu) / batch * 1e3)
                    wall[name].append((time.perf_counter() - start) / batch * 1e3)
    plain_ms, ruled_ms = statistics.median(cpu["plain"]), statistics.median(cpu["ruled"])
    return {"create_plain_cpu_ms": plain_ms, "create_ruled_cpu_ms": ruled_ms,
            "added_cpu_ms": ruled_ms - plain_ms,
            "create_plain_wall_ms": statistics.median(wall["plain"]),
            "create_ruled_wall_ms": statistics.median(wall["ruled"])}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20000)
    args = parser.parse_args()
    figures = {**evaluation(args.repeat), **asyncio.run(creates(args.requests, args.rounds))}
    print(f"{'rules (10) and stages (2), evaluation alone':52} "
          f"{figures['rules_and_stages_us']:8.1f} µs"
          f"  (p99 {figures['rules_and_stages_p99_us']:.1f})"
          f"   baseline, facts only: {figures['facts_only_us']:.1f} µs")  # fmt: skip
    print(f"{'one create, loop with rules and stages, CPU':52} "
          f"{figures['create_ruled_cpu_ms']:8.3f} ms"
          f"   baseline, loop without: {figures['create_plain_cpu_ms']:.3f} ms"
          f"   added: {figures['added_cpu_ms']:.3f} ms"
          f"   (wall {figures['create_ruled_wall_ms']:.1f}"
          f" vs {figures['create_plain_wall_ms']:.1f})")  # fmt: skip
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"rules-{int(time.time())}.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
