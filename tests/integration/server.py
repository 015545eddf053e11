"""Running the real `signoff` command: a server in its own process, or a one-off command.

The tests' own process has its SIGNOFF_* variables cleared (tests/conftest.py); a child gets
exactly the variables a test names, and nothing from the developer's shell.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

_SCRIPT = Path(sys.executable).with_name("signoff")
SIGNOFF = (
    [str(_SCRIPT)]
    if _SCRIPT.exists()
    else [sys.executable, "-c", "from signoff.cli import main; main()"]
)
KEY = re.compile(r"\bsk_[0-9a-f]+_[A-Za-z0-9_-]+")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def signoff_env(**settings: str) -> dict[str, str]:
    """This process's environment without any SIGNOFF_* variable, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
    env.update({f"SIGNOFF_{name.upper()}": value for name, value in settings.items()})
    return env


def run_signoff(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIGNOFF, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def first_key(self) -> str | None:
        """The admin key this start printed, if it printed one."""
        found = KEY.findall(self.stdout)
        assert len(found) <= 1, self.stdout
        return found[0] if found else None


@contextlib.contextmanager
def serve(env: dict[str, str], logs: Path, *, timeout: float = 90) -> Iterator[Server]:
    """`signoff serve` on a free port, ready (GET /healthz is 200); stopped on the way out."""
    with serve_many(env, logs, 1, timeout=timeout) as [server]:
        yield server


@contextlib.contextmanager
def serve_many(
    env: dict[str, str], logs: Path, count: int, *, timeout: float = 90
) -> Iterator[list[Server]]:
    """`count` servers on one database, started at the same time, as replicas would be."""
    logs.mkdir(parents=True, exist_ok=True)
    servers: list[Server] = []
    try:
        for _ in range(count):
            port = free_port()
            out_path, err_path = logs / f"serve-{port}.out", logs / f"serve-{port}.err"
            with out_path.open("wb") as out, err_path.open("wb") as err:
                process = subprocess.Popen(
                    [*SIGNOFF, "serve", "--port", str(port)], env=env, stdout=out, stderr=err
                )
            servers.append(Server(f"http://127.0.0.1:{port}", process, out_path, err_path))
        for server in servers:
            _wait_ready(server, timeout)
        yield servers
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.process.terminate()
        for server in servers:
            stop(server.process)


def _wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(
                f"signoff serve exited with {server.process.returncode}:\n{server.stderr}"
            )
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.url}/healthz", timeout=1, trust_env=False).status_code == 200:
                return
        time.sleep(0.05)
    raise AssertionError(f"signoff serve was not ready within {timeout} s:\n{server.stderr}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass(frozen=True)
class Live:
    """A running server with its first admin key, a requester key and a reviewer, Ann."""

    server: Server
    admin_key: str
    requester_key: str
    reviewer_key: str
    reviewer_id: str

    @property
    def url(self) -> str:
        return self.server.url


def staffed(server: Server) -> Live:
    """Make Ann (a reviewer, with her key) and an agent's requester key on a fresh server."""
    from signoff.client import Client

    key = server.first_key()
    assert key, server.stdout
    with Client(server.url, key) as admin:
        ann = admin.create_user("ann@example.com", "Ann", role="reviewer")
        ann_key = admin.create_api_key("ann", "reviewer", user_id=ann.id).key
        agent_key = admin.create_api_key("agent", "requester").key
    assert ann_key and agent_key
    return Live(server, key, agent_key, ann_key, ann.id)
