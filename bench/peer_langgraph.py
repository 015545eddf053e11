"""The peer to beat: LangGraph's own pause/resume, in-process, with its SQLite checkpointer.

One cycle = run a graph until its review node calls `interrupt(...)` (the pause is checkpointed),
then resume it with `Command(resume="approve")` and read the decision from the final state: the
same create / decide / learn-the-decision cycle Signoff does over HTTP. LangGraph's defaults are
kept: durability "async", SqliteSaver's WAL with SQLite's default synchronous=FULL.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any, TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from loadgen import percentile


class ReviewState(TypedDict):
    content: str
    decision: str | None


def review(state: ReviewState) -> dict[str, Any]:
    answer = interrupt({"content": state["content"]})
    return {"decision": answer}


def _graph() -> StateGraph[ReviewState]:
    graph = StateGraph(ReviewState)
    graph.add_node("review", review)
    graph.add_edge(START, "review")
    graph.add_edge("review", END)
    return graph


def _summary(latencies: list[float], seconds: float, clients: int) -> dict[str, Any]:
    latencies.sort()
    return {
        "clients": clients,
        "per_second": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "ops": len(latencies),
    }


def sequential(folder: Path, warmup: float, seconds: float) -> dict[str, Any]:
    conn = sqlite3.connect(folder / "langgraph-seq.db", check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    app = _graph().compile(checkpointer=saver)

    def cycle() -> None:
        config: Any = {"configurable": {"thread_id": uuid.uuid4().hex}}
        paused = app.invoke({"content": "Send the refund of $120?", "decision": None}, config)
        assert "__interrupt__" in paused, paused
        done = app.invoke(Command(resume="approve"), config)
        assert done["decision"] == "approve", done

    latencies: list[float] = []
    start = time.perf_counter()
    begin, end = start + warmup, start + warmup + seconds
    while (t0 := time.perf_counter()) < end:
        cycle()
        if t0 >= begin:
            latencies.append(time.perf_counter() - t0)
    conn.close()
    return _summary(latencies, time.perf_counter() - begin, 1)


def concurrent(folder: Path, clients: int, warmup: float, seconds: float) -> dict[str, Any]:
    return asyncio.run(_concurrent(folder, clients, warmup, seconds))


async def _concurrent(folder: Path, clients: int, warmup: float, seconds: float) -> dict[str, Any]:
    async with AsyncSqliteSaver.from_conn_string(str(folder / "langgraph-async.db")) as saver:
        await saver.setup()
        app = _graph().compile(checkpointer=saver)
        start = time.perf_counter()
        begin, end = start + warmup, start + warmup + seconds
        latencies: list[float] = []

        async def client() -> None:
            while (t0 := time.perf_counter()) < end:
                config: Any = {"configurable": {"thread_id": uuid.uuid4().hex}}
                draft = {"content": "Send the refund of $120?", "decision": None}
                paused = await app.ainvoke(draft, config)
                assert "__interrupt__" in paused, paused
                done = await app.ainvoke(Command(resume="approve"), config)
                assert done["decision"] == "approve", done
                if t0 >= begin and time.perf_counter() <= end:
                    latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(client() for _ in range(clients)))
        return _summary(latencies, seconds, clients)
