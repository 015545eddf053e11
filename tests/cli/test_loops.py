"""`signoff loops create|list`"""

from __future__ import annotations

from tests.cli.support import failed, ok, ok_json


def _people(env: dict[str, str]) -> dict[str, str]:
    return {
        name: ok(env, "users", "create", "--email", f"{name}@example.com", "--name", name).strip()
        for name in ("ann", "bo")
    }


def test_create_and_list(env: dict[str, str]) -> None:
    ids = _people(env)
    payments = ok(
        env,
        "loops",
        "create",
        "payments",
        "--reviewer",
        "Ann@example.com",
        "--reviewer",
        "bo@example.com",
        "--approvals",
        "2",
        "--timeout",
        "86400",
        "--description",
        "Refunds over $500",
    ).strip()
    assert payments.startswith("loop_")
    drafts = ok_json(env, "loops", "create", "drafts", "--allow-self-approval")
    assert drafts["reviewers"] == [] and drafts["allow_self_approval"] is True

    listed = ok_json(env, "loops", "list")
    assert [lp["id"] for lp in listed] == [payments, drafts["id"]]
    assert {k: listed[0][k] for k in ("name", "reviewers", "required_approvals")} == {
        "name": "payments",
        "reviewers": [ids["ann"], ids["bo"]],
        "required_approvals": 2,
    }
    assert listed[0]["default_timeout_seconds"] == 86400
    assert listed[0]["allow_self_approval"] is False
    assert listed[0]["description"] == "Refunds over $500"
    table = ok(env, "loops", "list").splitlines()
    assert table[0].split() == ["ID", "NAME", "APPROVALS", "SELF-APPROVAL", "TIMEOUT", "REVIEWERS"]
    assert table[1].split() == [
        payments,
        "payments",
        "2",
        "refused",
        "1d",
        "ann@example.com,",
        "bo@example.com",
    ]
    assert table[2].split()[1:5] == ["drafts", "1", "allowed", "none"]


def test_create_refuses_what_cannot_work(env: dict[str, str]) -> None:
    _people(env)
    unknown = failed(env, "loops", "create", "x", "--reviewer", "zed@example.com")
    assert unknown == "error: --reviewer: no user with email zed@example.com\n"
    twice = failed(
        env,
        "loops",
        "create",
        "x",
        "--reviewer",
        "ann@example.com",
        "--reviewer",
        "ann@example.com",
    )
    assert twice == "error: --reviewer: a reviewer is listed twice\n"
    zero = failed(env, "loops", "create", "x", "--approvals", "0", code=2)
    assert "0 is not in the range 1<=x<=100" in zero
    assert ok_json(env, "loops", "list") == []

    ok(env, "loops", "create", "x")
    taken = failed(env, "loops", "create", "x")
    assert taken == "error: a loop named 'x' already exists\n"
