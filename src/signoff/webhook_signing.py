"""Standard Webhooks signatures, standard library only (shared by delivery/ and the SDK).

A secret is `whsec_` + base64 of the key bytes. A signature is `v1,` + base64 of
HMAC-SHA256(key, f"{msg_id}.{timestamp}.{body}"); the `webhook-signature` header holds one or
more, separated by spaces (two while a rotated secret's grace period lasts).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _secrets

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets)


def matches(secret: str, msg_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """Whether any `v1` signature in `header` was made with `secret`."""
    expected = sign(secret, msg_id, timestamp, body).encode()
    return any(
        hmac.compare_digest(expected, candidate.encode())
        for candidate in header.split()
        if candidate.startswith("v1,")
    )
