"""A real `signoff serve` and a real Chromium for the browser tests.

The browser is Debian's (/usr/bin/chromium), driven by Playwright. Without it the browser
tests are skipped, unless SIGNOFF_TEST_REQUIRE_BROWSER=1 (as CI sets), where they fail.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from signoff.client import Client
from tests.integration.server import Server, serve, signoff_env
from tests.web.support import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
_names = itertools.count()


def need_browser() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("SIGNOFF_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} is missing and SIGNOFF_TEST_REQUIRE_BROWSER=1")
    pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")


@dataclass(frozen=True)
class Reviewer:
    id: str
    email: str


@dataclass
class LiveSite:
    server: Server
    admin: Client

    @property
    def url(self) -> str:
        return self.server.url

    def reviewer(self, name: str = "rev") -> Reviewer:
        """A new reviewer with a password, in no loop yet."""
        n = next(_names)
        email = f"{name}{n}@example.com"
        user = self.admin.create_user(
            email, f"{name.title()} {n}", role="reviewer", password=PASSWORD
        )
        return Reviewer(user.id, email)

    def loop(self, *reviewers: Reviewer, approvals: int = 1) -> str:
        loop = self.admin.create_loop(
            f"loop-{next(_names)}",
            reviewers=[r.id for r in reviewers],
            required_approvals=approvals,
        )
        return loop.id


# Module scope, not session: Playwright's sync API keeps its own event loop running while a
# browser is open, and pytest-asyncio cannot run the async tests of later modules beside it.
@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    need_browser()
    root = tmp_path_factory.mktemp("web")
    env = signoff_env(data_dir=str(root / "data"), allow_private_urls="true")
    with serve(env, root / "logs") as server:
        key = server.first_key()
        assert key, server.stdout
        with Client(server.url, key) as admin:
            yield LiveSite(server, admin)


@pytest.fixture(scope="module")
def chromium(live_site: LiveSite) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()
