"""Request content as a reviewer sees it: by content type, sanitized, and diffs between
versions. Everything that comes from a request goes through Jinja's escaping or nh3."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from ..domain.model import ContentType

# CommonMark without raw HTML; what it makes is sanitized again all the same.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_LINK_ATTRS = {"a": {"href", "title"}, "img": {"src", "alt", "title"}}


def markdown(text: str) -> Markup:
    html = _markdown.render(text)
    return Markup(
        nh3.clean(
            html, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow"
        )
    )


def sanitized_html(text: str) -> str:
    """HTML content without scripts, handlers, styles or frames; shown in a sandboxed frame."""
    return nh3.clean(
        text, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow"
    )


def as_text(content: Any, content_type: ContentType) -> str:
    """The content as editable text: JSON pretty-printed, everything else as it is."""
    if content_type is ContentType.json or not isinstance(content, str):
        return json.dumps(content, indent=2, ensure_ascii=False, sort_keys=False)
    return content


def json_tree(value: Any, depth: int = 0) -> Markup:
    """Pretty JSON whose objects and arrays fold (<details>), open to two levels."""
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        if not value:
            return Markup("{}" if isinstance(value, dict) else "[]")
        n = len(value)
        kind = (
            f"{{{n} key{'s' if n != 1 else ''}}}"
            if isinstance(value, dict)
            else f"[{n} item{'s' if n != 1 else ''}]"
        )
        parts = []
        for key, item in items:
            label = (
                escape(json.dumps(key, ensure_ascii=False))
                if isinstance(value, dict)
                else escape(str(key))
            )
            parts.append(
                Markup('<li><span class="key">{}:</span> {}</li>').format(
                    label, json_tree(item, depth + 1)
                )
            )
        open_ = " open" if depth < 2 else ""
        return Markup("<details{}><summary>{}</summary><ul>{}</ul></details>").format(
            Markup(open_), kind, Markup("").join(parts)
        )
    return Markup("<code>{}</code>").format(json.dumps(value, ensure_ascii=False))


def image_url(content: Any) -> str | None:
    if isinstance(content, str) and urlsplit(content.strip()).scheme in ("http", "https"):
        return content.strip()
    return None


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "ins", "del", "ctx" or "hunk"
    text: str


def diff(before: str, after: str, *, context: int = 3) -> list[DiffLine]:
    """A unified diff, line by line; empty when nothing changed."""
    lines = list(
        difflib.unified_diff(
            before.splitlines(), after.splitlines(), "before", "after", n=context, lineterm=""
        )
    )[2:]
    out = []
    for line in lines:
        if line.startswith("@@"):
            out.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            out.append(DiffLine("ins", line))
        elif line.startswith("-"):
            out.append(DiffLine("del", line))
        else:
            out.append(DiffLine("ctx", line))
    return out
