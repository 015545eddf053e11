"""Refuse outgoing URLs that reach into the server's own network.

Checked when an endpoint or callback is saved and again right before each send, because DNS
answers change; the send then connects to the address that was checked (no second lookup that a
rebinding DNS server could answer differently).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import ValidationFailed

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """The URL is not one Signoff may send to."""


def _refused(ip: Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _refused(ip.ipv4_mapped)
    for test, what in (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local (cloud metadata lives here)"),
        (ip.is_private, "private"),
        (ip.is_multicast, "multicast"),
        (ip.is_reserved, "reserved"),
        (ip.is_unspecified, "unspecified"),
    ):
        if test:
            return what
    return None


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to."""

    url: str
    host: str
    ip: str


async def resolve(url: str, *, allow_private: bool) -> Target:
    """The address to send `url` to, or UnsafeURL saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("only http and https URLs with a host can receive webhooks")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        # An address needs no lookup, and a lookup is a hand-off to a thread (on asyncio's own
        # loop a tenth of a delivery's CPU); other spellings, such as `127.1`, are looked up.
        addresses: list[Address] = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise UnsafeURL(f"cannot resolve {host}: {exc.strerror or exc}") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not allow_private:
        for ip in addresses:
            why = _refused(ip)
            if why:
                raise UnsafeURL(
                    f"{host} resolves to {ip}, a {why} address; "
                    "set SIGNOFF_ALLOW_PRIVATE_URLS=true to allow it"
                )
    return Target(url, host, str(addresses[0]))


async def check_url(url: str, *, allow_private: bool, field: str) -> None:
    """The check at subscription time, as a validation error naming the field."""
    try:
        await resolve(url, allow_private=allow_private)
    except UnsafeURL as exc:
        raise ValidationFailed.field(field, str(exc)) from None
