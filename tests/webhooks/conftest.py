"""Webhook tests run the real dispatcher against real HTTP receivers on loopback.

`settings` here replaces the one in tests/conftest.py (so `ctx` and `api` are built on it):
private URLs allowed, retries a fraction of a second apart. A test changes any field with
`@pytest.mark.webhook_settings(field=value, …)`. The dispatcher also looks for due retries
every 50 ms instead of every 500 ms, so that a retry schedule of 0.2 s takes about that long.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from signoff import app as wiring
from signoff.api.app import create_api
from signoff.config import Settings
from signoff.delivery.dispatcher import DispatcherConfig
from tests.conftest import Api

from .support import Receiver, until

FAST: dict[str, Any] = {
    "allow_private_urls": True,
    "webhook_timeout_seconds": 2.0,
    "webhook_retry_schedule": [0.2, 0.2],
    "webhook_concurrency": 8,  # one HTTP client: each takes ~40 ms to make (its TLS context)
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "webhook_settings(**fields): Settings fields a webhook test changes"
    )


@pytest.fixture(autouse=True)
def quick_dispatcher(monkeypatch: pytest.MonkeyPatch) -> None:
    real = wiring.dispatcher_config

    def quick(settings: Settings) -> DispatcherConfig:
        return dataclasses.replace(real(settings), poll_interval=0.05)

    monkeypatch.setattr(wiring, "dispatcher_config", quick)


@pytest.fixture
def settings(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Settings:
    values = dict(FAST)
    marker = request.node.get_closest_marker("webhook_settings")
    if marker is not None:
        values.update(marker.kwargs)
    return Settings(data_dir=tmp_path / "data", database_url=db_url, **values)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = await Receiver().start()
    yield found
    await found.close()


@pytest.fixture
async def live_url(api: Api) -> AsyncIterator[str]:
    """The same app served by uvicorn on a loopback port: streams need a real HTTP server."""
    app = create_api(api.ctx, max_body_bytes=256 * 1024)
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", ws="none", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    serving = asyncio.create_task(server.serve(sockets=[sock]))

    async def started() -> bool:
        return server.started

    await until(started, "uvicorn to start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving
    sock.close()
