"""`signoff export`: decisions as JSONL or CSV, read back and checked."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from signoff.domain.model import ContentType
from signoff.service import export
from signoff.service.context import Context
from tests.cli.support import ask, cli, failed, ok, service


def _history(env: dict[str, str]) -> dict[str, str]:
    """Three decided requests in two loops, one pending, one cancelled."""
    for name in ("ann", "bo"):
        ok(env, "users", "create", "--email", f"{name}@example.com", "--name", name.title())
    pay = ok(env, "loops", "create", "payments", "--reviewer", "ann@example.com",
             "--reviewer", "bo@example.com", "--approvals", "2").strip()  # fmt: skip
    sup = ok(env, "loops", "create", "support", "--reviewer", "ann@example.com").strip()
    made = {
        "refund": ask(
            env,
            pay,
            {"amount": 640, "order": "7781"},
            content_type=ContentType.json,
            title="Refund 7781",
            context="Charged twice",
            metadata={"ticket": "T-1"},
            ai_analysis={"confidence": 0.9},
        ),
        "reply": ask(env, sup, 'Dear Jo,\nwe refund, "always".', title="Reply, to Jo"),
        "policy": ask(env, sup, "We refund forever.", requested_by="support-agent"),
        "waiting": ask(env, pay, "Refund $5"),
        "dropped": ask(env, sup, "Never mind"),
    }
    ok(env, "requests", "approve", made["refund"], "--as", "ann@example.com", "--feedback", "ok")
    ok(env, "requests", "approve", made["refund"], "--as", "bo@example.com",
       "--content", '{"amount": 600, "order": "7781"}', "--feedback", "minus the fee")  # fmt: skip
    ok(env, "requests", "approve", made["reply"], "--as", "ann@example.com",
       "--content", "Dear Jo,\nwe refund within 30 days.")  # fmt: skip
    ok(env, "requests", "reject", made["policy"], "--as", "ann@example.com",
       "--feedback", "Invented policy")  # fmt: skip
    ok(env, "requests", "cancel", made["dropped"])
    return made


def test_jsonl_and_csv_read_back(env: dict[str, str], tmp_path: Path) -> None:
    made = _history(env)
    result = cli(env, "export")
    assert result.exit_code == 0 and result.stderr == "exported 3 decisions\n", result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["request_id"] for r in records] == [made["refund"], made["reply"], made["policy"]]
    refund = records[0]
    assert {k: refund[k] for k in ("loop", "title", "content_type", "decision", "edited")} == {
        "loop": "payments",
        "title": "Refund 7781",
        "content_type": "json",
        "decision": "approved",
        "edited": True,
    }
    assert refund["content"] == {"amount": 640, "order": "7781"}
    assert refund["final_content"] == {"amount": 600, "order": "7781"}
    assert (refund["context"], refund["metadata"]) == ("Charged twice", {"ticket": "T-1"})
    assert refund["ai_analysis"] == {"confidence": 0.9}
    assert refund["feedback"] == "ok\n\nminus the fee"
    assert [(v["voter"]["email"], v["choice"], v["feedback"]) for v in refund["voters"]] == [
        ("ann@example.com", "approve", "ok"),
        ("bo@example.com", "approve", "minus the fee"),
    ]
    assert refund["voters"][1]["edited_content"] == {"amount": 600, "order": "7781"}
    assert [d["email"] for d in refund["decided_by"]] == ["ann@example.com", "bo@example.com"]
    assert refund["created_at"] < refund["completed_at"]
    assert refund["completed_at"].endswith("Z")
    policy = records[2]
    assert (policy["decision"], policy["feedback"], policy["requested_by"]) == (
        "rejected",
        "Invented policy",
        "support-agent",
    )
    assert policy["final_content"] == "We refund forever." and policy["edited"] is False

    out = tmp_path / "decisions.csv"
    written = cli(env, "export", "--format", "csv", "-o", str(out))
    assert written.exit_code == 0 and written.stdout == ""
    assert written.stderr == f"exported 3 decisions to {out}\n"
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(records[0])
    assert [r["request_id"] for r in rows] == [r["request_id"] for r in records]
    for row, record in zip(rows, records, strict=True):
        for name, value in record.items():
            if value is None:
                assert row[name] == "", name
            elif isinstance(value, str):
                assert row[name] == value, name  # text as it is: commas, quotes, newlines
            else:
                assert json.loads(row[name]) == value, name
    assert not list(tmp_path.glob("*.partial"))


def test_filters(env: dict[str, str], tmp_path: Path) -> None:
    made = _history(env)

    def ids(*args: str) -> list[str]:
        return [json.loads(line)["request_id"] for line in ok(env, "export", *args).splitlines()]

    assert ids("--loop", "support") == [made["reply"], made["policy"]]
    loop_id = json.loads(ok(env, "loops", "list", "--json"))[0]["id"]
    assert ids("--loop", loop_id) == [made["refund"]]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert ids("--since", tomorrow) == []
    assert len(ids("--since", "2020-01-01T00:00:00+02:00")) == 3
    assert len(ids("--since", "2020-01-01")) == 3

    (tmp_path / "out").mkdir()
    missing = tmp_path / "out" / "nothing.jsonl"
    assert failed(env, "export", "--loop", "nope", "-o", str(missing)) == (
        "error: no loop with id or name 'nope'\n"
    )
    assert not list((tmp_path / "out").iterdir())
    assert "is not a date or time" in failed(env, "export", "--since", "last week", code=2)
    assert "'xml' is not one of" in failed(env, "export", "--format", "xml", code=2)


def test_pages_cover_everything_once(env: dict[str, str]) -> None:
    """The export reads in pages: with pages of 2, seven decisions still come out in order."""
    ok(env, "users", "create", "--email", "ann@example.com", "--name", "Ann")
    loop = ok(env, "loops", "create", "l", "--reviewer", "ann@example.com").strip()
    decided = []
    for n in range(7):
        req = ask(env, loop, f"item {n}")
        ok(env, "requests", "approve", req, "--as", "ann@example.com")
        decided.append(req)
    ask(env, loop, "still pending")

    async def read(ctx: Context) -> list[str]:
        return [d.request.id async for d in export.decisions(ctx, page_size=2)]

    assert service(env, read) == decided
    assert len(io.StringIO(ok(env, "export")).readlines()) == 7
