"""What the SQLite event watcher costs when idle, and how fast it wakes for another process.

    .venv/bin/python bench/sqlite_watch.py [--seconds 30] [--samples 100]

Idle: two `signoff serve` processes on their own fresh SQLite folders, one as shipped (the
watcher looks every 0.25 s) and one with SIGNOFF_SQLITE_WATCH_SECONDS=0, side by side for the
same window; their CPU seconds are read from /proc. The one without the watcher is the baseline:
an idle server still runs its dispatcher's poll.

Wake: a long-poll `GET /v1/requests/{id}/response?wait=30` is parked on the server, then a
separate process (this script, as `--decide`) approves the request through the service layer
and reports the moment its commit returned; the figure is from that moment to the long-poll's
answer. One sample at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import servers


def decide_forever(data_dir: str) -> None:
    """`--decide`: approve each request id read from stdin; print the time of each commit."""
    from signoff.app import build_context
    from signoff.config import Settings
    from signoff.domain.model import Choice, Principal, Role
    from signoff.domain.voting import Ballot
    from signoff.service.votes import vote

    async def main() -> None:
        ctx = build_context(Settings(data_dir=Path(data_dir)), "http://bench")
        admin = Principal(role=Role.admin, name="bench decider")
        loop = asyncio.get_running_loop()
        try:
            while line := await loop.run_in_executor(None, sys.stdin.readline):
                await vote(ctx, admin, line.strip(), Ballot(Choice.approve))
                print(time.time(), flush=True)
        finally:
            await ctx.db.dispose()

    asyncio.run(main())


def idle_cpu(root: Path, seconds: float) -> dict[str, float]:
    on = servers.signoff(root / "on")
    off = servers.Server(
        [sys.executable, str(servers.BENCH / "serve.py"), "--", "serve"],
        root / "off.log",
        {"SIGNOFF_DATA_DIR": str(root / "off"), "SIGNOFF_SQLITE_WATCH_SECONDS": "0"},
    )
    try:
        time.sleep(3)  # past start-up
        servers.wait_quiet()
        busy0, total0 = servers.machine_busy()
        a0, b0 = on.cpu_seconds(), off.cpu_seconds()
        time.sleep(seconds)
        a1, b1 = on.cpu_seconds(), off.cpu_seconds()
        busy1, total1 = servers.machine_busy()
    finally:
        on.stop()
        off.stop()
    window = (total1 - total0) / servers.CPUS
    own = (a1 - a0) + (b1 - b0)
    return {
        "seconds": round(window, 1),
        "with_watcher_cpu_ms_per_s": round((a1 - a0) / window * 1000, 2),
        "without_watcher_cpu_ms_per_s": round((b1 - b0) / window * 1000, 2),
        "watcher_cpu_ms_per_s": round(((a1 - a0) - (b1 - b0)) / window * 1000, 2),
        "other_cpu_cores": round(((busy1 - busy0) - own) / window, 2),
    }


def wake(root: Path, samples: int) -> dict[str, float]:
    server = servers.signoff(root / "wake")
    headers = {"Authorization": f"Bearer {server.first_key()}"}
    url = f"http://{servers.HOST}:{server.port}"
    decider = subprocess.Popen(
        [sys.executable, __file__, "--decide", str(root / "wake")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert decider.stdin and decider.stdout
    found: list[float] = []
    try:
        with httpx.Client(base_url=url, headers=headers, trust_env=False, timeout=60) as http:
            loop_id = http.post("/v1/loops", json={"name": "bench"}).json()["id"]
            for _ in range(samples):
                request_id = http.post(
                    f"/v1/loops/{loop_id}/requests", json={"content": "ok?"}
                ).json()["id"]
                answered: list[float] = []

                def poll(request_id: str = request_id, answered: list[float] = answered) -> None:
                    with httpx.Client(base_url=url, headers=headers, trust_env=False) as c:
                        answer = c.get(
                            f"/v1/requests/{request_id}/response", params={"wait": 30}, timeout=60
                        ).json()
                    answered.append(time.time())
                    assert answer["decision"] == "approved", answer

                waiter = threading.Thread(target=poll)
                waiter.start()
                time.sleep(0.1)  # parked
                decider.stdin.write(request_id + "\n")
                decider.stdin.flush()
                committed = float(decider.stdout.readline())
                waiter.join()
                found.append(answered[0] - committed)
    finally:
        decider.stdin.close()
        decider.wait(30)
        server.stop()
    found.sort()
    return {
        "samples": len(found),
        "p50_ms": round(statistics.median(found) * 1000, 1),
        "p99_ms": round(found[min(len(found) - 1, int(len(found) * 0.99))] * 1000, 1),
        "max_ms": round(found[-1] * 1000, 1),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--decide":
        decide_forever(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="signoff-watch-") as tmp:
        root = Path(tmp)
        print(json.dumps({"idle": idle_cpu(root, args.seconds)}), flush=True)
        print(json.dumps({"wake_from_another_process": wake(root, args.samples)}), flush=True)


if __name__ == "__main__":
    main()
