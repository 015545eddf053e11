"""Problem+json answers become the classes of `signoff.errors`, with what the answer said."""

from __future__ import annotations

import httpx
import pytest

import signoff.errors
from signoff.client import (
    Client,
    Conflict,
    FieldError,
    Forbidden,
    InvalidTransition,
    Loop,
    SignoffError,
    Unauthenticated,
    ValidationFailed,
)
from signoff.client._base import Call

from .conftest import FAST, Live


def test_not_found(admin: Client) -> None:
    with pytest.raises(signoff.errors.NotFound) as caught:
        admin.get_request("req_00000000000000000000000000")
    error = caught.value
    assert error.status == 404
    assert error.problem_type == "urn:signoff:problem:not-found"
    assert "req_00000000000000000000000000" in error.detail
    assert error.problem and error.problem["status"] == 404
    assert str(error) == error.detail


def test_validation_names_the_fields(admin: Client, loop: Loop) -> None:
    with pytest.raises(ValidationFailed) as caught:
        admin.create_request(loop.id, "x", priority="sky-high", timeout_seconds=0)
    error = caught.value
    assert error.status == 422
    assert error.problem_type == "urn:signoff:problem:validation-failed"
    fields = {e.field for e in error.errors}
    assert {"body.priority", "body.timeout_seconds"} <= fields, error.errors
    assert all(isinstance(e, FieldError) and e.message for e in error.errors)


def test_unauthenticated(live: Live) -> None:
    with Client(live.url, "sk_nope_nope", **FAST) as stranger:  # type: ignore[arg-type]
        with pytest.raises(Unauthenticated) as caught:
            stranger.list_loops()
    assert caught.value.status == 401


def test_forbidden(reviewer: Client) -> None:
    with pytest.raises(Forbidden) as caught:
        reviewer.create_loop("reviewers-cannot")
    assert caught.value.status == 403 and "admin" in caught.value.detail


def test_conflict_and_invalid_transition(admin: Client, reviewer: Client, loop: Loop) -> None:
    with pytest.raises(Conflict) as caught:
        admin.create_loop(loop.name)
    assert type(caught.value) is Conflict and caught.value.status == 409

    request = admin.create_request(loop.id, "once")
    reviewer.decide(request.id, "approve")
    with pytest.raises(InvalidTransition) as late:
        reviewer.decide(request.id, "reject", feedback="too late")
    assert isinstance(late.value, Conflict)
    assert late.value.problem_type == "urn:signoff:problem:invalid-transition"


def test_the_same_key_with_another_body_is_refused(admin: Client, loop: Loop) -> None:
    first = admin.create_request(loop.id, "one", idempotency_key="sdk-same-key")
    again = admin.create_request(loop.id, "one", idempotency_key="sdk-same-key")
    assert again.id == first.id
    with pytest.raises(ValidationFailed) as caught:
        admin.create_request(loop.id, "two", idempotency_key="sdk-same-key")
    assert caught.value.errors[0].field == "header.Idempotency-Key"


def test_an_unknown_problem_type_keeps_its_name(admin: Client) -> None:
    # A body that is not JSON is a 400 with a problem type the SDK has no class for: a plain
    # SignoffError that keeps the type's name.
    headers = {**admin._calls.headers, "Content-Type": "application/json"}
    broken = httpx.Request("POST", f"{admin.url}/v1/loops", content=b"{not json", headers=headers)
    with pytest.raises(SignoffError) as caught:
        admin._send(Call(broken, lambda answer: answer))
    error = caught.value
    assert type(error) is SignoffError
    assert error.status == 400
    assert error.problem_type == "urn:signoff:problem:malformed-json"
    assert "JSON" in error.detail


def test_without_a_key_the_client_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGNOFF_API_KEY", raising=False)
    with pytest.raises(ValueError, match="SIGNOFF_API_KEY"):
        Client("http://127.0.0.1:1")


def test_settings_come_from_the_environment(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNOFF_URL", live.url + "/")
    monkeypatch.setenv("SIGNOFF_API_KEY", live.admin_key)
    with Client() as client:
        assert client.url == live.url
        assert client.list_loops() is not None
