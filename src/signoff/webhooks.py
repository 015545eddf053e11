"""Verify Signoff's webhooks in a receiver written in Python.

    from signoff.webhooks import verify, WebhookVerificationError

    try:
        event = verify(secret, request.headers, request.body)
    except WebhookVerificationError as exc:
        return 400, str(exc)
    if event["type"] == "request.completed" and event["data"]["decision"] == "approved": ...

Only the standard library is used: importing this pulls in no server dependency.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from .webhook_signing import matches

__all__ = ["DEFAULT_TOLERANCE", "WebhookVerificationError", "verify"]

DEFAULT_TOLERANCE = 300  # seconds either side of now, as the Standard Webhooks libraries use


class WebhookVerificationError(Exception):
    """The message is not from the holder of the secret, is too old or new, or is malformed."""


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> dict[str, Any]:
    """Check the signature and timestamp of one delivery and answer its parsed body."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id = lower["webhook-id"]
        stamp = lower["webhook-timestamp"]
        signature = lower["webhook-signature"]
    except KeyError as missing:
        raise WebhookVerificationError(f"missing header {missing.args[0]}") from None
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a whole number") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp is {int(current - timestamp)} s away from now "
            f"(tolerance {tolerance} s): a replay, or a clock that is off"
        )
    raw = body.encode() if isinstance(body, str) else body
    try:
        matched = matches(secret, msg_id, timestamp, raw, signature)
    except ValueError:  # binascii.Error: the key part is not base64
        raise WebhookVerificationError(
            "the secret is not a whsec_ secret (whsec_ and base64): check what you configured"
        ) from None
    if not matched:
        raise WebhookVerificationError("no signature matches the secret")
    try:
        parsed: dict[str, Any] = json.loads(raw)
    except ValueError:
        raise WebhookVerificationError("the body is not JSON") from None
    return parsed
