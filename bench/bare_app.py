"""The baseline: a bare FastAPI app that answers `POST /v1/loops/{loop_id}/requests` with the same
JSON Signoff answers, without auth, database or events, on the same server stack as
`signoff serve` (uvicorn with its defaults: uvloop, httptools, info-level access log).

    python bench/bare_app.py --port 8101 --answer sample.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel


class DraftIn(BaseModel):
    content: Any
    title: str | None = None
    metadata: dict[str, Any] = {}


def build(answer: dict[str, Any]) -> FastAPI:
    app = FastAPI(title="bare baseline")

    @app.post("/v1/loops/{loop_id}/requests", status_code=201)
    async def create(loop_id: str, body: DraftIn) -> dict[str, Any]:
        return answer

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answer", type=Path, required=True, help="JSON file to answer with")
    args = parser.parse_args()
    app = build(json.loads(args.answer.read_text()))
    print("bare baseline ready", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="info", proxy_headers=True)


if __name__ == "__main__":
    main()
