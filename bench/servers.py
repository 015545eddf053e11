"""Start and stop the servers under test, each in its own process, and read their CPU use."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"
_KEY = re.compile(rb"sk_[0-9a-f]+_[A-Za-z0-9_\-]+")
_TICK = os.sysconf("SC_CLK_TCK")
CPUS = os.cpu_count() or 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_quiet(limit: float = 0.3, patience: float = 30.0) -> float:
    """Wait up to `patience` seconds for a second in which the machine is nearly idle (other
    work on a 2-core machine skews every figure); answers the busy cores seen last."""
    deadline = time.monotonic() + patience
    while True:
        busy0, total0 = machine_busy()
        time.sleep(1)
        busy1, total1 = machine_busy()
        busy = (busy1 - busy0) / (total1 - total0) * CPUS
        if busy < limit or time.monotonic() > deadline:
            return busy
        print(f"  (waiting for the machine to quiet down: {busy:.1f} cores busy)", flush=True)


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(fields[:8])
    idle = fields[3] + fields[4]
    return (total - idle) / _TICK, total / _TICK


class Server:
    """A server process; its stdout and stderr go to `log`."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = log
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*args, "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**clean, **(env or {})},
                cwd=BENCH.parent,
            )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}")

    def first_key(self) -> str:
        found = _KEY.search(self.log.read_bytes())
        if not found:
            raise RuntimeError("signoff serve printed no admin key")
        return found.group().decode()

    def cpu_seconds(self) -> float:
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime, all threads

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def signoff(data_dir: Path, *, database_url: str | None = None, variant: str = "") -> Server:
    """`signoff serve` as shipped, or with a variant of bench/serve.py (`inline-seal`,
    `sqlite-inline`) patched in."""
    env = {"SIGNOFF_DATA_DIR": str(data_dir)}
    if database_url:
        env["SIGNOFF_DATABASE_URL"] = database_url
    args = [sys.executable, str(BENCH / "serve.py")]
    if variant:
        args.append(f"--{variant}")
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"server-{int(time.time() * 1000)}.log"
    return Server([*args, "--", "serve"], log, env)


def bare(answer: Path, log: Path) -> Server:
    return Server([sys.executable, str(BENCH / "bare_app.py"), "--answer", str(answer)], log)
