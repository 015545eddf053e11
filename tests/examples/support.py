"""Running an example as its own process, as a user would, and reading what it prints."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from signoff.client import Client, Request
from tests.client.support import until
from tests.integration.server import signoff_env, stop

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# The longest any bounded wait may take: an example's process imports its libraries first
# (LangGraph's take seconds on a busy machine). Only a failure waits this long.
WAIT = 60.0
_runs = itertools.count()


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    out_path: Path
    err_path: Path

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    def wait_for(self, pattern: str, timeout: float = WAIT, *, log: bool = False) -> re.Match[str]:
        """The first match of `pattern` in what the example printed (on stderr, its log,
        with `log`), once it printed it."""
        path = self.err_path if log else self.out_path
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, path.read_text())
            if found:
                return found
            if self.process.poll() is not None:
                found = re.search(pattern, path.read_text())
                if found:
                    return found
                raise AssertionError(
                    f"the example exited with {self.process.returncode} before printing "
                    f"{pattern!r}:\n{self.stdout}\n{self.stderr}"
                )
            time.sleep(0.02)
        raise AssertionError(
            f"the example did not print {pattern!r}:\n{self.stdout}\n{self.stderr}"
        )

    def finish(self, timeout: float = WAIT, *, status: int = 0) -> str:
        """What it printed, once it exited with `status`."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the example did not finish:\n{self.stdout}\n{self.stderr}"
            ) from None
        assert self.process.returncode == status, f"{self.stdout}\n{self.stderr}"
        return self.stdout

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash or an OOM kill."""
        self.process.kill()
        self.process.wait(WAIT)


@dataclass
class Example:
    url: str
    api_key: str
    folder: Path
    started: list[Running] = field(default_factory=list)

    def start(self, script: str, *args: str, **env: str) -> Running:
        """`python examples/<script> args…` in the test's folder, with SIGNOFF_URL and
        SIGNOFF_API_KEY (a requester key) set, and nothing else of SIGNOFF_* from outside."""
        number = next(_runs)
        out_path = self.folder / f"{script}.{number}.out"
        err_path = self.folder / f"{script}.{number}.err"
        environment = signoff_env(url=self.url, api_key=self.api_key)
        environment.update(env, PYTHONUNBUFFERED="1")
        with out_path.open("wb") as out, err_path.open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, str(EXAMPLES / script), *args],
                cwd=self.folder,
                env=environment,
                stdout=out,
                stderr=err,
            )
        running = Running(process, out_path, err_path)
        self.started.append(running)
        return running

    def stop_all(self) -> None:
        for running in self.started:
            stop(running.process)


def pending_in(client: Client, loop_id: str) -> Request:
    """The one pending request of the loop, once there is one."""

    def check() -> Request | None:
        found = client.list_requests(loop_id=loop_id, status="pending").data
        assert len(found) <= 1, found
        return found[0] if found else None

    return until(check, f"a pending request in {loop_id}", WAIT)
