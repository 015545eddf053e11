"""Canonical JSON and content hashes: the same value always gives the same bytes and digest."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# What content_hash makes; a hash a client sends back must look like it (voting.check_seen_hash).
CONTENT_HASH_FORMAT = "'sha256:' followed by 64 lowercase hex digits"
_CONTENT_HASH = re.compile(r"sha256:[0-9a-f]{64}")


def is_content_hash(value: str) -> bool:
    return _CONTENT_HASH.fullmatch(value) is not None


def content_hash(content: Any, context: Any) -> str:
    """What a vote is bound to: the content and the context the reviewer saw."""
    digest = hashlib.sha256(dumps({"content": content, "context": context}).encode())
    return "sha256:" + digest.hexdigest()
