"""The answer shapes a request can ask for, and checks that an answer fits its shape."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from ..errors import FieldError, ValidationFailed
from .model import ResponseSpec, ResponseType


def parse_spec(raw: dict[str, Any] | None) -> ResponseSpec:
    """The ResponseSpec of a new request's `response` field, refusing what cannot work."""
    if not raw:
        return ResponseSpec()
    kind = ResponseType(raw.get("type", "approval"))
    if kind is ResponseType.choice:
        options = raw.get("options") or []
        if not options or len(set(options)) != len(options):
            raise ValidationFailed.field(
                "body.response.options", "a choice needs at least one option, each named once"
            )
        return ResponseSpec(kind, options=tuple(options), multiple=bool(raw.get("multiple")))
    if kind is ResponseType.form:
        schema = raw.get("schema")
        if not isinstance(schema, dict):
            raise ValidationFailed.field(
                "body.response.schema", "a form needs a JSON Schema object"
            )
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise ValidationFailed.field("body.response.schema", exc.message) from None
        return ResponseSpec(kind, schema=schema)
    return ResponseSpec(kind)


def spec_from_json(raw: dict[str, Any]) -> ResponseSpec:
    """Rebuild a stored spec without re-checking it."""
    return ResponseSpec(
        ResponseType(raw["type"]),
        options=tuple(raw.get("options", ())),
        multiple=bool(raw.get("multiple", False)),
        schema=raw.get("schema"),
    )


def check_answer(spec: ResponseSpec, answer: Any) -> None:
    """Raise ValidationFailed naming each wrong part of `answer` for this response shape."""
    field = "body.response_data"
    if spec.type is ResponseType.approval:
        return
    if answer is None:
        raise ValidationFailed.field(field, f"a {spec.type.value} request needs response_data")
    if spec.type is ResponseType.text:
        if not isinstance(answer, str) or not answer.strip():
            raise ValidationFailed.field(field, "must be a non-empty string")
    elif spec.type is ResponseType.choice:
        chosen = answer if isinstance(answer, list) else [answer]
        if not spec.multiple and len(chosen) != 1:
            raise ValidationFailed.field(field, "choose exactly one option")
        if not chosen:
            raise ValidationFailed.field(field, "choose at least one option")
        unknown = [c for c in chosen if c not in spec.options]
        if unknown:
            raise ValidationFailed.field(
                field, f"not an option: {unknown!r}; options are {list(spec.options)!r}"
            )
    elif spec.type is ResponseType.form:
        validator = Draft202012Validator(spec.schema or {})
        errors = [
            FieldError(".".join([field, *(str(p) for p in err.absolute_path)]), err.message)
            for err in sorted(
                validator.iter_errors(answer), key=lambda e: [str(p) for p in e.absolute_path]
            )
        ]
        if errors:
            raise ValidationFailed("the answer does not satisfy the form's schema", errors)
