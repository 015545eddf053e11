"""A `form` request's JSON Schema as HTML inputs, and the submitted fields back as JSON.

Covers the common shapes: an object whose properties are strings, numbers, integers,
booleans, enums and arrays of enums, some required. The answer is then checked against the
whole schema by the service (jsonschema), like an answer sent to the API; errors come back by
field and are shown next to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

PREFIX = "field."


@dataclass(frozen=True)
class Field:
    name: str  # the property
    label: str
    kind: str  # "string", "text", "number", "integer", "boolean", "enum", "multi", "json"
    required: bool
    description: str | None = None
    options: tuple[Any, ...] = ()

    @property
    def input_name(self) -> str:
        return PREFIX + self.name

    @property
    def input_id(self) -> str:
        return "f-" + "".join(c if c.isalnum() else "-" for c in self.name)


def fields_of(schema: dict[str, Any] | None) -> list[Field]:
    schema = schema or {}
    required = set(schema.get("required") or [])
    fields = []
    for name, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, dict) else {}
        label = str(prop.get("title") or name)
        kind = _kind(prop)
        options: tuple[Any, ...] = ()
        if kind == "enum":
            options = tuple(prop["enum"])
        elif kind == "multi":
            options = tuple(prop["items"]["enum"])
        fields.append(Field(name, label, kind, name in required, prop.get("description"), options))
    return fields


def _kind(prop: dict[str, Any]) -> str:
    kind = prop.get("type")
    if "enum" in prop:
        return "enum"
    if kind == "array" and isinstance(prop.get("items"), dict) and "enum" in prop["items"]:
        return "multi"
    if kind == "string":
        return (
            "text"
            if (prop.get("maxLength") or 0) > 200 or prop.get("format") == "textarea"
            else "string"
        )
    if kind in ("number", "integer", "boolean"):
        return str(kind)
    return "json"


def answer_of(fields: list[Field], form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The answer the fields make, and what could not even be read (by property)."""
    answer: dict[str, Any] = {}
    unreadable: dict[str, str] = {}
    for field in fields:
        raw = [v for v in form.getlist(field.input_name) if isinstance(v, str)]
        value = raw[0].strip() if raw else ""
        if field.kind == "boolean":
            answer[field.name] = "true" in raw  # the hidden "false" comes first
        elif field.kind == "multi":
            answer[field.name] = [_option(field, v) for v in raw]
        elif not value:
            continue  # left empty: absent (the schema says whether that is allowed)
        elif field.kind == "enum":
            answer[field.name] = _option(field, value)
        elif field.kind == "integer":
            try:
                answer[field.name] = int(value)
            except ValueError:
                unreadable[field.name] = "must be a whole number"
        elif field.kind == "number":
            try:
                number = float(value)
                answer[field.name] = (
                    int(number) if number.is_integer() and "." not in value else number
                )
            except ValueError:
                unreadable[field.name] = "must be a number"
        elif field.kind == "json":
            try:
                answer[field.name] = json.loads(value)
            except ValueError:
                unreadable[field.name] = "must be JSON"
        else:
            answer[field.name] = value
    return answer, unreadable


def _option(field: Field, value: str) -> Any:
    """The enum option whose text is `value` (options may be numbers)."""
    return next((o for o in field.options if str(o) == value), value)
