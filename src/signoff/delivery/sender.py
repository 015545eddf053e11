"""One HTTP attempt: sign, authenticate, send to the checked address, and say what happened."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..domain.model import Attempt
from ..service.deliveries import Outgoing
from ..webhook_signing import signature_header
from .ssrf import UnsafeURL, resolve

USER_AGENT = "Signoff-Webhooks/1"
EXCERPT_BYTES = 1000


def _auth_header(auth: dict[str, str] | None) -> dict[str, str]:
    if not auth:
        return {}
    if auth.get("strategy") == "bearer":
        return {"Authorization": f"Bearer {auth['token']}"}
    if auth.get("strategy") == "basic":
        pair = f"{auth['username']}:{auth.get('password', '')}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return {}


def _pinned(url: str, ip: str) -> str:
    """`url` with its host replaced by the address that was checked."""
    parts = urlsplit(url)
    host = f"[{ip}]" if ":" in ip else ip
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


async def send(
    client: httpx.AsyncClient,
    out: Outgoing,
    *,
    now: Callable[[], datetime],
    allow_private: bool,
    timeout: float,
) -> Attempt:
    message = out.message
    started = now()
    clock = time.perf_counter()

    def attempt(**kw: object) -> Attempt:
        return Attempt(started, (time.perf_counter() - clock) * 1000, **kw)  # type: ignore[arg-type]

    try:
        async with asyncio.timeout(timeout):
            target = await resolve(message.url, allow_private=allow_private)
    except UnsafeURL as exc:
        return attempt(error=f"refused: {exc}")
    except TimeoutError:
        return attempt(error=f"resolving the host timed out after {timeout:g} s")
    stamp = int(started.timestamp())
    body = message.payload.encode()
    parts = urlsplit(message.url)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": parts.netloc.rsplit("@", 1)[-1],
    }
    if message.channel is None:  # a webhook; a chat post (incoming webhook) is sent plain
        headers.update(
            {
                "webhook-id": message.id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": signature_header(out.secrets, message.id, stamp, body),
                **_auth_header(out.auth),
            }
        )
    extensions = {"sni_hostname": target.host} if parts.scheme == "https" else {}
    try:
        # httpx's timeout bounds each read, not the answer: a receiver trickling one byte at a
        # time would hold the send open past the claim's lease (then sent twice at once).
        async with (
            asyncio.timeout(timeout),
            client.stream(
                "POST",
                _pinned(message.url, target.ip),
                content=body,
                headers=headers,
                timeout=timeout,
                extensions=extensions,
            ) as response,
        ):
            excerpt = await _excerpt(response)
    except (httpx.TimeoutException, TimeoutError):
        return attempt(error=f"timed out after {timeout:g} s")
    except httpx.HTTPError as exc:
        return attempt(error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    return attempt(status_code=response.status_code, response_excerpt=excerpt)


async def _excerpt(response: httpx.Response) -> str:
    """The start of the receiver's answer, for the delivery log; the rest is not read."""
    kept = b""
    async for chunk in response.aiter_bytes():
        kept += chunk
        if len(kept) >= EXCERPT_BYTES:
            break
    return kept[:EXCERPT_BYTES].decode(response.encoding or "utf-8", errors="replace")
