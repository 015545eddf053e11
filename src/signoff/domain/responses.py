"""The answer shapes a request can ask for, and checks that an answer fits its shape."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

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
            FieldError(path, err.message)
            for err in validator.iter_errors(answer)
            for path in _paths(field, err)
        ]
        if errors:
            errors.sort(key=lambda e: e.field)
            raise ValidationFailed("the answer does not satisfy the form's schema", errors)


def _paths(field: str, err: ValidationError) -> list[str]:
    """Where an answer is wrong. A missing or an unexpected property is named itself, not the
    object around it: `body.response_data.amount` for a missing `amount`."""
    at = [field, *(str(p) for p in err.absolute_path)]
    instance = err.instance if isinstance(err.instance, dict) else {}
    if err.validator == "required" and isinstance(err.validator_value, list):
        # One error per missing property, told apart only by its message.
        named = [p for p in err.validator_value if err.message == f"{p!r} is a required property"]
        return [".".join([*at, str(p)]) for p in named[:1]] or [".".join(at)]
    schema = err.schema if isinstance(err.schema, dict) else {}
    if err.validator == "additionalProperties" and "patternProperties" not in schema:
        extra = [p for p in instance if p not in (schema.get("properties") or {})]
        return [".".join([*at, str(p)]) for p in extra] or [".".join(at)]
    return [".".join(at)]
