"""`signoff export`: the decisions people made, as a data set to learn from."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import click

from ..service.context import Context
from ..service.export import Decided
from ..service.views import rfc3339
from ._common import moment, run, settings

FIELDS = (
    "request_id",
    "loop_id",
    "loop",
    "title",
    "content_type",
    "priority",
    "requested_by",
    "previous_request_id",
    "content",
    "context",
    "metadata",
    "ai_analysis",
    "response_type",
    "decision",
    "feedback",
    "final_content",
    "edited",
    "response_data",
    "voters",
    "decided_by",
    "content_hash",
    "created_at",
    "completed_at",
)


def row(item: Decided) -> dict[str, Any]:
    r = item.request
    return {
        "request_id": r.id,
        "loop_id": r.loop_id,
        "loop": item.loop_name,
        "title": r.title,
        "content_type": r.content_type.value,
        "priority": r.priority.value,
        "requested_by": r.requested_by,
        "previous_request_id": r.previous_request_id,
        "content": r.content,
        "context": r.context,
        "metadata": r.metadata,
        "ai_analysis": r.ai_analysis,
        "response_type": r.response.type.value,
        "decision": r.decision.value if r.decision else None,
        "feedback": r.feedback,
        "final_content": r.final_content,
        "edited": r.edited,
        "response_data": r.response_data,
        "voters": [
            {
                "voter": v.voter,
                "choice": v.choice.value,
                "feedback": v.feedback,
                "edited_content": v.edited_content,
                "response_data": v.response_data,
                "voted_at": rfc3339(v.created_at),
            }
            for v in item.votes
        ],
        "decided_by": r.decided_by,
        "content_hash": r.content_hash,
        "created_at": rfc3339(r.created_at),
        "completed_at": rfc3339(r.completed_at),
    }


def _cell(value: Any) -> str:
    """A CSV cell: text as it is, nothing as empty, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    """stdout, or a file that appears only once the export is complete."""
    if path is None:
        yield sys.stdout
        return
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="jsonl: one JSON object a line. csv: a header, then nested values as JSON text.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file (made whole at the end) instead of stdout.",
)
@click.option("--loop", "loop_ref", metavar="LOOP", help="Only this loop (its id or name).")
@click.option(
    "--since",
    metavar="TIME",
    callback=moment,
    help="Only decisions made at or after this time (ISO 8601; UTC without a zone).",
)
def export(fmt: str, output: Path | None, loop_ref: str | None, since: datetime | None) -> None:
    """Export decided requests with their content, edits, feedback, answers and voters.

    One record per completed request, oldest first, read in pages so any size works:
    what was asked (content, context, metadata, ai_analysis), what was decided (decision,
    feedback, final_content, edited, response_data) and who voted what (voters).

    \b
    Examples:
      signoff export > decisions.jsonl
      signoff export --format csv --loop payments --since 2026-11-01 -o payments.csv
    """
    from ..service import export as service
    from ..service import loops

    async def work(ctx: Context) -> int:
        loop_id = (await loops.find_loop(ctx, loop_ref)).id if loop_ref else None
        count = 0
        with _output(output) as out:
            writer = csv.writer(out) if fmt == "csv" else None
            if writer:
                writer.writerow(FIELDS)
            async for item in service.decisions(ctx, loop_id=loop_id, since=since):
                record = row(item)
                if writer:
                    writer.writerow([_cell(record[f]) for f in FIELDS])
                else:
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        return count

    count = run(settings(), work)
    click.echo(f"exported {count} decisions" + (f" to {output}" if output else ""), err=True)
