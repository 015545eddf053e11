"""A LangGraph graph whose approval node asks Signoff, and that survives a restart.

    draft ──► review ──approved──► refund ──► END
      ▲         │
      └─────────┤ needs_changes (the feedback goes into the next draft), up to MAX_ROUNDS
                └─rejected / out of rounds──► give_up ──► END

`review` creates a Signoff request and pauses the graph with LangGraph's `interrupt`; the
pause is written to a SQLite checkpoint file. The runner (`run` below) then waits on Signoff
and resumes the thread with `Command(resume=decision)`. Kill the process while it waits and
start it again with the same thread id: the runner finds the interrupted thread in the
checkpoint file and waits on the same request. (A service that cannot block on `wait` can
resume the same way from a webhook receiver: on `request.completed`, look up the thread by the
request's `metadata.thread_id` and invoke it with `Command(resume=…)`.)

Two things make the review node safe to run more than once, as LangGraph runs it: on resume,
a node runs again from its first line, and a crash may fall between the request's creation
and the checkpoint. So the node creates its request with an Idempotency-Key made of the thread
id and the round: every run of the node for one round finds the one request (the key must not
be reused for other content: that is a 422).

    pip install langgraph langgraph-checkpoint-sqlite      # beside Signoff itself
    export SIGNOFF_URL=http://127.0.0.1:8000 SIGNOFF_API_KEY=sk_...   # a requester key
    python examples/langgraph_approval.py --thread refund-4711 --order 4711 --amount 250

The loop (`--loop`, default `refunds`) must exist; the checkpoints go to `--checkpoints`
(default `langgraph-checkpoints.db`). Swap `draft` for a model call in a real agent.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt

from signoff import Client, Decision

MAX_ROUNDS = 3


class Refund(TypedDict, total=False):
    order: int
    amount: int
    complaint: str
    loop: str
    round: int  # how many drafts so far
    draft: str  # the refund note the reviewer sees
    feedback: list[str]  # the reviewers' notes, oldest first
    request_ids: list[str]  # one Signoff request per round
    decision: dict[str, Any]  # the last round's decision, as Signoff answered it
    outcome: str


def draft(state: Refund) -> Refund:
    """The agent's work: a refund note, redone with every note the reviewers wrote."""
    note = f"Refund ${state['amount']} on order {state['order']}: {state['complaint']}."
    for feedback in state.get("feedback", []):
        note += f" Revised after review: {feedback}"
    return {"draft": note, "round": state.get("round", 0) + 1}


class Review:
    """The approval node: asks Signoff, then pauses the graph until the runner resumes it."""

    def __init__(self, signoff: Client) -> None:
        self.signoff = signoff

    def __call__(self, state: Refund, config: RunnableConfig) -> Refund:
        thread = config["configurable"]["thread_id"]
        earlier = state.get("request_ids", [])
        request = self.signoff.create_request(
            self.signoff.find_loop(state["loop"]).id,
            state["draft"],
            title=f"Refund ${state['amount']} on order {state['order']}",
            metadata={"order": state["order"], "thread_id": thread, "round": state["round"]},
            previous_request_id=earlier[-1] if earlier else None,
            # Runs again on resume and after a crash: one key per thread and round.
            idempotency_key=f"langgraph-{thread}-review-{state['round']}",
        )
        # Pauses here the first time; on resume, answers the runner's Command(resume=…).
        decision: dict[str, Any] = interrupt(
            {"request_id": request.id, "review_url": request.review_url}
        )
        update: Refund = {"decision": decision, "request_ids": [*earlier, request.id]}
        if decision["decision"] == "needs_changes":
            update["feedback"] = [*state.get("feedback", []), decision["feedback"]]
        return update


def after_review(state: Refund) -> str:
    decision = state["decision"]["decision"]
    if decision == "approved":
        return "refund"
    if decision == "needs_changes" and state["round"] < MAX_ROUNDS:
        return "draft"
    return "give_up"


def refund(state: Refund) -> Refund:
    decision = state["decision"]
    edited = " (as edited by the reviewer)" if decision["edited"] else ""
    return {"outcome": f"refunded: {decision['content']}{edited}"}


def give_up(state: Refund) -> Refund:
    decision = state["decision"]
    ended = decision["decision"] or decision["status"]
    return {"outcome": f"not refunded: {ended}: {decision['feedback']}"}


def build(signoff: Client, checkpointer: SqliteSaver) -> CompiledStateGraph[Any, Any, Any, Any]:
    graph = StateGraph(Refund)
    graph.add_node("draft", draft)
    graph.add_node("review", Review(signoff))
    graph.add_node("refund", refund)
    graph.add_node("give_up", give_up)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "review")
    graph.add_conditional_edges("review", after_review, ["refund", "draft", "give_up"])
    graph.add_edge("refund", END)
    graph.add_edge("give_up", END)
    return graph.compile(checkpointer=checkpointer)


def as_resume(decision: Decision) -> dict[str, Any]:
    """What the graph resumes with: plain JSON, as the checkpoint stores it."""
    return {
        "request_id": decision.request_id,
        "status": decision.status,  # completed, or timed_out / cancelled (decision None)
        "decision": decision.decision,
        "feedback": decision.feedback,
        "content": decision.content,
        "edited": decision.edited,
    }


def run(thread: str, start: Refund, checkpoints: str) -> str:
    """Run the thread to its end: start it, or pick it up where a killed process left it."""
    config: RunnableConfig = {"configurable": {"thread_id": thread}}
    with Client() as signoff, SqliteSaver.from_conn_string(checkpoints) as saver:
        graph = build(signoff, saver)
        if graph.get_state(config).created_at is None:
            print(f"thread {thread}: starting", flush=True)
            # durability="sync": the pause is on disk before this returns and we start waiting.
            graph.invoke(start, config, durability="sync")
        else:
            print(f"thread {thread}: picked up from the checkpoint", flush=True)
        while interrupts := graph.get_state(config).interrupts:
            asked = interrupts[0].value
            print(f"thread {thread}: waiting for review of {asked['request_id']}", flush=True)
            decision = signoff.wait(asked["request_id"])
            print(f"thread {thread}: {decision.decision}", flush=True)
            graph.invoke(Command(resume=as_resume(decision)), config, durability="sync")
        outcome: str = graph.get_state(config).values["outcome"]
        return outcome


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--thread", required=True, help="the LangGraph thread id")
    parser.add_argument("--order", type=int, default=4711)
    parser.add_argument("--amount", type=int, default=250)
    parser.add_argument("--complaint", default="the kettle arrived broken")
    parser.add_argument("--loop", default="refunds", help="the Signoff loop: its name or id")
    parser.add_argument("--checkpoints", default="langgraph-checkpoints.db")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    start: Refund = {
        "order": args.order,
        "amount": args.amount,
        "complaint": args.complaint,
        "loop": args.loop,
    }
    print(run(args.thread, start, args.checkpoints), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
