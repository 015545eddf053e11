"""A `form` request's JSON Schema as HTML inputs, and the submitted fields back as JSON.

Covers the common shapes: an object whose properties are strings, numbers, integers,
booleans, enums and arrays of enums, some required. The answer is then checked against the
whole schema by the service (jsonschema), like an answer sent to the API; when it is refused,
`explain` words each complaint for the person at the form and puts it next to its field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
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
                unreadable[field.name] = "Give a whole number."
        elif field.kind == "number":
            try:
                number = float(value)
                answer[field.name] = (
                    int(number) if number.is_integer() and "." not in value else number
                )
            except ValueError:
                unreadable[field.name] = "Give a number."
        elif field.kind == "json":
            try:
                answer[field.name] = json.loads(value)
            except ValueError:
                unreadable[field.name] = "Give valid JSON."
        else:
            answer[field.name] = value
    return answer, unreadable


def _option(field: Field, value: str) -> Any:
    """The enum option whose text is `value` (options may be numbers)."""
    return next((o for o in field.options if str(o) == value), value)


def as_sent(fields: list[Field], form: FormData) -> dict[str, Any]:
    """What the form held, by property, to fill the fields in again next to their errors."""
    sent: dict[str, Any] = {}
    for field in fields:
        raw = [v for v in form.getlist(field.input_name) if isinstance(v, str)]
        if field.kind == "multi":
            sent[field.name] = raw
        elif field.kind == "boolean":
            sent[field.name] = "true" if "true" in raw else "false"
        else:
            sent[field.name] = raw[0] if raw else ""
    return sent


_TYPES = {
    "integer": "Give a whole number.",
    "number": "Give a number.",
    "string": "Give some text.",
    "boolean": "Tick it or leave it.",
    "array": "Pick from the list.",
    "object": "Give a JSON object.",
}


def _worded(err: ValidationError) -> str:
    """One schema complaint as the person at the form would say it."""
    v = err.validator_value
    kind = str(err.validator)
    words = {
        "maximum": f"At most {v}.",
        "exclusiveMaximum": f"Less than {v}.",
        "minimum": f"At least {v}.",
        "exclusiveMinimum": f"More than {v}.",
        "multipleOf": f"Give a multiple of {v}.",
        "maxLength": f"At most {v} characters.",
        "minLength": "Fill this in." if v == 1 else f"At least {v} characters.",
        "enum": "Pick one of the options.",
        "const": f"Only {v!r} is accepted.",
        "pattern": "This is not in the expected form.",
        "format": f"Give a valid {v}.",
        "minItems": f"Pick at least {v}.",
        "maxItems": f"Pick at most {v}.",
        "uniqueItems": "Pick each option once.",
    }
    if kind == "type":
        return _TYPES.get(
            v if isinstance(v, str) else "", "This is not the expected kind of value."
        )
    return words.get(kind) or err.message[:1].upper() + err.message[1:] + "."


def explain(schema: dict[str, Any] | None, answer: Any) -> dict[str, str]:
    """Why the schema refuses `answer`, by input name (`field.amount`); what belongs to no
    field (a rule across fields) under `form`. The service has the last word; this only words it."""
    out: dict[str, str] = {}
    for err in Draft202012Validator(schema or {}).iter_errors(answer):
        at = [str(p) for p in err.absolute_path]
        if err.validator == "required" and not at and isinstance(err.instance, dict):
            for name in err.validator_value:
                if name not in err.instance:
                    out.setdefault(PREFIX + str(name), "Fill this in.")
        elif at:
            out.setdefault(PREFIX + at[0], _worded(err))
        else:
            out.setdefault("form", _worded(err))
    return out
