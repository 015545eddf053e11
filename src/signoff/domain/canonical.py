"""Canonical JSON and content hashes: the same value always gives the same bytes and digest."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(content: Any, context: Any) -> str:
    """What a vote is bound to: the content and the context the reviewer saw."""
    digest = hashlib.sha256(dumps({"content": content, "context": context}).encode())
    return "sha256:" + digest.hexdigest()
