"""The reviewer's inbox with 10,000 pending requests: server time per page, against the API's
list of the same requests in the same run.

    .venv-bench/bin/python bench/inbox.py             # 10,000 pending, 300 pages per shape
    .venv-bench/bin/python bench/inbox.py --quick     # 2,000 pending, 50 pages per shape

`signoff serve` runs as shipped, in its own process, on a fresh SQLite data folder. The
requests are made through the API (batches of 1,000) in 5 loops; the reviewer, signed in with
a password like a person, reviews 3 of them (about 6,000 pending requests). One connection asks
for one page after another (the loadgen.py client, a session cookie), so a page's latency is
the server's time plus loopback; each shape is measured after the machine is quiet.

Baseline: `GET /v1/requests?status=pending&limit=50` with an API key of the same reviewer, the
JSON list of the same requests; target: the inbox's p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvloop

import servers
from loadgen import Conn, percentile

PASSWORD = "bench password 1"
PRIORITIES = ["low", "normal", "normal", "normal", "high", "urgent"]
TARGET_MS = 50.0


def seed(url: str, key: str, pending: int) -> tuple[str, list[str], str]:
    """Loops, a reviewer with a password and a key, and `pending` requests; answers the
    reviewer's key, their loop ids, and the ids of every loop."""
    admin = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=admin, timeout=120, trust_env=False) as api:
        user = api.post(
            "/v1/users",
            json={
                "email": "rev@example.com",
                "name": "Rev",
                "role": "reviewer",
                "password": PASSWORD,
            },
        ).json()
        loops = [
            api.post(
                "/v1/loops",
                json={"name": f"loop {i}", "reviewers": [user["id"]] if i < 3 else []},
            ).json()["id"]
            for i in range(5)
        ]
        rng = random.Random(7)
        made = 0
        while made < pending:
            n = min(1000, pending - made)
            items = [
                {
                    "title": f"Refund request {made + i}",
                    "content": f"Dear customer {made + i}, your refund of "
                    f"{rng.randint(5, 500)} EUR is on its way. " * 3,
                    "priority": rng.choice(PRIORITIES),
                    "metadata": {"ticket": f"T-{made + i}", "customer": f"c{(made + i) % 977}"},
                    "timeout_seconds": rng.randint(600, 86_400),
                }
                for i in range(n)
            ]
            answer = api.post(
                f"/v1/loops/{loops[(made // 1000) % 5]}/requests/batch", json={"items": items}
            )
            answer.raise_for_status()
            made += n
        reviewer_key = api.post(
            "/v1/api-keys", json={"name": "rev", "role": "reviewer", "user_id": user["id"]}
        ).json()["key"]
    return reviewer_key, loops[:3], loops[0]


def sign_in(url: str) -> str:
    """The session cookie of the reviewer, signed in through the login form."""
    with httpx.Client(base_url=url, trust_env=False, follow_redirects=False) as browser:
        form = browser.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text[:500]
        done = browser.post(
            "/login",
            data={"email": "rev@example.com", "password": PASSWORD, "csrf_token": token.group(1)},
        )
        assert done.status_code == 303, done.text[:500]
        return str(browser.cookies["signoff_session"])


def cursors(url: str, cookie: str, limit: int) -> list[str]:
    """Every page's `after` position of the reviewer's inbox, by walking it."""
    found: list[str] = []
    path: str | None = "/"
    with httpx.Client(base_url=url, trust_env=False, cookies={"signoff_session": cookie}) as c:
        while path and len(found) < limit:
            page = c.get(path).text
            nxt = re.search(r'href="([^"]+)" rel="next"', page)
            path = nxt.group(1).replace("&amp;", "&") if nxt else None
            if path:
                found.append(path)
    return found


async def measure(
    server: servers.Server, paths: list[str], auth: bytes, samples: int
) -> dict[str, Any]:
    servers.wait_quiet()
    conn = Conn(servers.HOST, server.port)
    for path in paths[:5]:  # warm up: connection, caches
        await conn.request("GET", path, auth=auth)
    times: list[float] = []
    sizes: list[int] = []
    cpu0 = server.cpu_seconds()
    busy0 = servers.machine_busy()
    for i in range(samples):
        path = paths[i % len(paths)]
        start = time.perf_counter()
        status, body = await conn.request("GET", path, auth=auth)
        times.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
        sizes.append(len(body))
    cpu = server.cpu_seconds() - cpu0
    busy1 = servers.machine_busy()
    await conn.close()
    times.sort()
    wall = sum(times) / 1000
    return {
        "samples": samples,
        "p50_ms": percentile(times, 50),
        "p99_ms": percentile(times, 99),
        "max_ms": times[-1],
        "server_cpu_ms_per_page": cpu / samples * 1000,
        "machine_busy_cores": (busy1[0] - busy0[0]) / max(wall, 1e-9),
        "bytes": sum(sizes) // len(sizes),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="signoff-bench-inbox-"))
    server = servers.signoff(root / "data")
    try:
        url = f"http://{servers.HOST}:{server.port}"
        started = time.monotonic()
        reviewer_key, _, first_loop = seed(url, server.first_key(), args.pending)
        seeded = time.monotonic() - started
        cookie = sign_in(url)
        deep = cursors(url, cookie, 1000)
        rng = random.Random(11)
        rng.shuffle(deep)
        web = f"Cookie: signoff_session={cookie}\r\n".encode()
        api = f"Authorization: Bearer {reviewer_key}\r\n".encode()
        shapes: dict[str, tuple[list[str], bytes]] = {
            "API list, status=pending (baseline)": (["/v1/requests?status=pending&limit=50"], api),
            "inbox, first page": (["/"], web),
            "inbox, deep pages": (deep, web),
            "inbox, one loop": ([f"/?loop={first_loop}"], web),
            "inbox, priority=urgent": (["/?priority=urgent"], web),
            "inbox, search (a ticket)": ([f"/?q=T-{args.pending // 2}"], web),
            "inbox, search (no match)": (["/?q=no-such-words"], web),
        }
        results = {"pending": args.pending, "seed_seconds": seeded, "pages_deep": len(deep)}
        for name, (paths, auth) in shapes.items():
            print(f"measuring {name} …", flush=True)
            results[name] = await measure(server, paths, auth, args.samples)
        return results
    finally:
        server.stop()


def report(r: dict[str, Any]) -> None:
    base = r["API list, status=pending (baseline)"]
    print(
        f"\n{r['pending']:,} pending requests (seeded in {r['seed_seconds']:.0f} s); "
        f"{r['pages_deep'] + 1} inbox pages for the reviewer\n"
    )
    print(
        "| shape | p50 | p99 (target < 50 ms) | vs API list p99 "
        "| server CPU per page | machine busy |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, m in r.items():
        if not isinstance(m, dict):
            continue
        verdict = "baseline" if m is base else ("met" if m["p99_ms"] < TARGET_MS else "**missed**")
        ratio = "" if m is base else f"{m['p99_ms'] / base['p99_ms']:.2f}x"
        print(
            f"| {name} | {m['p50_ms']:.1f} ms | {m['p99_ms']:.1f} ms ({verdict}) | {ratio} | "
            f"{m['server_cpu_ms_per_page']:.1f} ms | {m['machine_busy_cores']:.2f} cores |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 pending, 50 pages per shape")
    parser.add_argument("--pending", type=int, help="pending requests to make (default 10,000)")
    parser.add_argument("--samples", type=int, help="pages per shape (default 300)")
    args = parser.parse_args()
    args.pending = args.pending or (2000 if args.quick else 10_000)
    args.samples = args.samples or (50 if args.quick else 300)
    results = uvloop.run(run(args))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"inbox-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    report(results)
    print(f"\nJSON: {path}")


if __name__ == "__main__":
    main()
