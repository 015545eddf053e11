"""`signoff users create|list`"""

from __future__ import annotations

from argon2 import PasswordHasher

from tests.cli.support import cli, failed, ok, ok_json, sql


def test_create_with_a_password_from_stdin_and_without_one(env: dict[str, str]) -> None:
    made = cli(
        env,
        "users",
        "create",
        "--email",
        " Ann@Example.com ",
        "--name",
        "Ann Lee",
        "--role",
        "admin",
        "--password",
        input="correct horse battery\n",
    )
    assert made.exit_code == 0, made.output
    ann = made.stdout.strip()
    assert ann.startswith("usr_") and "\n" not in ann
    assert "correct horse" not in made.output + made.stderr
    [(stored,)] = sql(env, "SELECT password_hash FROM users WHERE id = :id", id=ann)
    assert stored.startswith("$argon2")
    assert PasswordHasher().verify(stored, "correct horse battery")

    bo = ok_json(env, "users", "create", "--email", "bo@example.com", "--name", "Bo")
    assert bo["role"] == "reviewer" and bo["has_password"] is False
    hint = cli(env, "users", "create", "--email", "cy@example.com", "--name", "Cy").stderr
    assert "cy@example.com has no password yet" in hint
    assert "signoff keys create --role reviewer --user cy@example.com" in hint

    listed = ok_json(env, "users", "list")
    assert [(u["email"], u["role"], u["has_password"]) for u in listed] == [
        ("ann@example.com", "admin", True),
        ("bo@example.com", "reviewer", False),
        ("cy@example.com", "reviewer", False),
    ]
    assert listed[0]["id"] == ann and set(listed[0]) >= {"name", "active", "created_at"}
    table = ok(env, "users", "list").splitlines()
    assert table[0].split() == ["ID", "EMAIL", "ROLE", "STATE", "PASSWORD", "CREATED", "NAME"]
    assert table[1].split()[:5] == [ann, "ann@example.com", "admin", "active", "yes"]
    assert table[1].endswith("Ann Lee")


def test_create_refuses_what_cannot_work(env: dict[str, str]) -> None:
    bad_role = failed(
        env, "users", "create", "--email", "a@b.co", "--name", "A", "--role", "owner", code=2
    )
    assert "'owner' is not one of 'admin', 'reviewer'" in bad_role
    bad_email = failed(env, "users", "create", "--email", "nobody", "--name", "A", code=2)
    assert "'nobody' is not an email address" in bad_email
    blank = failed(env, "users", "create", "--email", "a@b.co", "--name", "  ", code=2)
    assert "--name" in blank and "needs 1 to 200 characters" in blank
    short = cli(
        env, "users", "create", "--email", "a@b.co", "--name", "A", "--password", input="short\n"
    )
    assert short.exit_code == 2 and "at least 8 characters" in short.stderr
    assert ok_json(env, "users", "list") == []  # nothing was made by the refused calls

    ok(env, "users", "create", "--email", "a@b.co", "--name", "A")
    again = failed(env, "users", "create", "--email", "A@b.co", "--name", "Other")
    assert again == "error: a user with email a@b.co already exists\n"
