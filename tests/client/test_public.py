"""The SDK's public surface: a tested `__all__`, twins that cannot drift, a light import."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from types import ModuleType

import signoff
import signoff.client
from signoff.client import AsyncClient, Client

SERVER_LIBRARIES = ("fastapi", "starlette", "sqlalchemy", "alembic", "uvicorn", "pydantic")


PROBE = """
import json, sys
import signoff, signoff.client, signoff.errors, signoff.webhooks
print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)))
print(json.dumps(sorted(m for m in sys.modules if m.startswith("signoff."))))
"""


def test_import_signoff_loads_no_server_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    loaded, ours = (json.loads(line) for line in done.stdout.splitlines())
    assert not set(SERVER_LIBRARIES) & set(loaded)
    light = ("signoff.client", "signoff.errors", "signoff.webhooks", "signoff.webhook_signing")
    assert [m for m in ours if not m.startswith(light)] == []


def _public(module: ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }


def test_all_is_sorted_complete_and_resolves() -> None:
    for module in (signoff, signoff.client):
        names = [n for n in module.__all__ if n != "__version__"]
        assert names == sorted(names)
        assert _public(module) == set(names)
    assert set(signoff.__all__) - {"__version__"} <= set(signoff.client.__all__)


def test_the_top_level_names() -> None:
    assert {
        "Client",
        "AsyncClient",
        "require_approval",
        "approval",
        "review_until_approved",
        "areview_until_approved",
        "Rejected",
        "ChangesRequested",
        "WaitTimeout",
        "SignoffError",
    } <= set(signoff.__all__)
    assert signoff.Rejected is signoff.client.Rejected
    assert issubclass(signoff.client.NotFound, signoff.client.SignoffError)


def _api(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if callable(member) and not name.startswith("_")
    }


def _same(annotation: object) -> str:
    """An async twin's annotation written as the sync one's."""
    text = str(annotation)
    for old, new in (("AsyncIterator", "Iterator"), ("AsyncBaseTransport", "BaseTransport")):
        text = text.replace(old, new)
    return text.replace("AsyncClient", "Client")


def test_the_sync_and_async_clients_are_twins() -> None:
    sync, async_ = _api(Client), _api(AsyncClient)
    assert set(sync) - {"close"} == set(async_) - {"aclose"}
    for name, signature in sync.items():
        if name == "close":
            continue
        twin = async_[name]
        assert list(signature.parameters) == list(twin.parameters), name
        for param in signature.parameters.values():
            other = twin.parameters[param.name]
            assert (param.kind, param.default) == (other.kind, other.default), (name, param)
            assert str(param.annotation) == _same(other.annotation), (name, param)
        assert signature.return_annotation == _same(twin.return_annotation), name
        member = getattr(AsyncClient, name)
        # Calls are awaited; iterators are `async for`-ed.
        if signature.return_annotation.startswith("Iterator"):
            assert twin.return_annotation.startswith("AsyncIterator"), name
        else:
            assert inspect.iscoroutinefunction(member), name
