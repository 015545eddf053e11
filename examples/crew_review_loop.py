"""A CrewAI-style crew whose reviewed task goes to a person, and comes back by webhook.

The crew kicks off its tasks in order, each agent working from the inputs and what the agents
before it delivered. A task marked `human_review` does not hand its output on at once: the
output goes to Signoff as a review request whose `callback` is a small webhook receiver in
this process. When the decision arrives (signed: the receiver checks it with
`signoff.webhooks.verify` and refuses anything else):

- approved: the crew goes on with the approved output (with the reviewer's edits);
- needs changes or rejected: the agent does the task again with the feedback added to its
  context, and the new output goes to review as a revision of the last request
  (`previous_request_id`), so the reviewer sees the rounds side by side;
- after `--max-rounds` rounds without approval the crew stops.

Webhooks are delivered at least once, but a receiver can be down or out of reach: after
`--recheck` seconds without one, the crew reads the decision from the API instead.

CrewAI itself is not needed: `Agent`, `Task` and `Crew` below have its shape, and
`Agent.perform` is where a model call goes. With CrewAI, call `HumanReview.until_approved`
from your own loop around `task.execute_sync`. (Without webhooks, `signoff.review_until_approved`
does the same loop by long-polling.)

    export SIGNOFF_URL=http://127.0.0.1:8000 SIGNOFF_API_KEY=sk_...   # a requester key
    python examples/crew_review_loop.py --loop support-replies --customer Bob \\
        --issue "the kettle arrived broken"

The receiver listens on 127.0.0.1 (`--listen HOST:PORT` to choose); a server that delivers to
it needs `SIGNOFF_ALLOW_PRIVATE_URLS=true`, and one on another machine needs `--public-url`,
the address under which it reaches the receiver.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from signoff import Client
from signoff.webhooks import WebhookVerificationError, verify

# The crew: the shape of CrewAI's Agent, Task and Crew, without a model behind them.


@dataclass(frozen=True)
class Agent:
    role: str
    goal: str

    def perform(self, task: Task, context: Mapping[str, Any]) -> str:
        """The agent's work. A model call goes here, prompted with the role, the goal, the
        task and the context; a template stands in for it, so that the example runs offline."""
        inputs = context["inputs"]
        if task.name == "draft_reply":
            reply = (
                f"Dear {inputs['customer']}, we are sorry that {inputs['issue']}. "
                "A replacement is on its way."
            )
            for note in context.get("reviewer_feedback", []):
                reply += f" [{note}]"
            return reply
        approved = context["delivered"]["draft_reply"]
        return f"sent to {inputs['customer']}: {approved}"


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    agent: Agent
    human_review: bool = False


@dataclass
class Crew:
    tasks: list[Task]
    review: HumanReview

    def kickoff(self, inputs: Mapping[str, Any]) -> dict[str, str]:
        """Run the tasks in order; answers what each delivered."""
        delivered: dict[str, str] = {}
        for task in self.tasks:
            context = {"inputs": dict(inputs), "delivered": dict(delivered)}
            if task.human_review:
                delivered[task.name] = self.review.until_approved(task, context)
            else:
                delivered[task.name] = task.agent.perform(task, context)
            print(f"[{task.agent.role}] delivered: {delivered[task.name]}", flush=True)
        return delivered


# The review: a request per round, its decision by webhook.


class Inbox:
    """A webhook receiver on this machine: keeps each verified decision by its request id.

    Deliveries are at least once: the same decision may come twice, which changes nothing
    here. A delivery whose signature does not match the secret gets 400 and is forgotten.
    """

    def __init__(self, secret: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.decisions: dict[str, dict[str, Any]] = {}
        self.arrived = threading.Condition()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    event = verify(secret, dict(self.headers), body)
                except WebhookVerificationError as refused:
                    print(f"webhook refused: {refused}", flush=True)
                    self.send_response(400)
                    self.end_headers()
                    return
                if event["type"] == "request.completed":
                    inbox.keep(event)
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://{host}:{self.server.server_port}/signoff"

    def keep(self, event: Mapping[str, Any]) -> None:
        data = event["data"]
        with self.arrived:
            self.decisions[data["request_id"]] = data
            self.arrived.notify_all()

    def wait(self, request_id: str, timeout: float) -> dict[str, Any] | None:
        """The decision on `request_id` once its webhook arrived; None after `timeout` s."""
        with self.arrived:
            self.arrived.wait_for(lambda: request_id in self.decisions, timeout)
            return self.decisions.get(request_id)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ReviewEnded(Exception):
    """The review ended without approval: out of rounds, timed out or cancelled."""


@dataclass
class HumanReview:
    signoff: Client
    loop_id: str
    inbox: Inbox
    callback_url: str
    max_rounds: int = 3
    recheck: float = 60.0  # seconds without a webhook before asking Signoff directly
    rounds: list[str] = field(default_factory=list)  # every request made, oldest first

    def decision_on(self, request_id: str) -> dict[str, Any]:
        """The decision, from its webhook. Every `recheck` seconds without one, ask Signoff
        itself: a receiver that was down or unreachable must not leave the crew hanging."""
        while True:
            heard = self.inbox.wait(request_id, self.recheck)
            if heard is not None:
                return heard
            answer = self.signoff.get_response(request_id)
            if not answer.pending:
                print(f"no webhook for {request_id}: read the decision from the API", flush=True)
                return {
                    "status": answer.status,
                    "decision": answer.decision,
                    "feedback": answer.feedback,
                    "content": answer.content,
                }

    def until_approved(self, task: Task, context: Mapping[str, Any]) -> str:
        """Do `task` and ask for review until a reviewer approves; answers the approved
        output. Each new round has the feedback of all the rounds before in its context."""
        notes: list[str] = []
        previous: str | None = None
        for round_ in range(1, self.max_rounds + 1):
            worked_from = {**context, "reviewer_feedback": list(notes)}
            output = task.agent.perform(task, worked_from)
            request = self.signoff.create_request(
                self.loop_id,
                output,
                title=f"{task.agent.role}: {task.description}",
                context=worked_from,
                metadata={"task": task.name, "round": round_},
                previous_request_id=previous,
                callback={"url": self.callback_url, "events": ["request.completed"]},
            )
            self.rounds.append(request.id)
            print(f"[{task.agent.role}] round {round_}: in review as {request.id}", flush=True)
            decision = self.decision_on(request.id)
            print(f"[{task.agent.role}] round {round_}: {decision['decision']}", flush=True)
            if decision["decision"] == "approved":
                return str(decision["content"])
            if decision["decision"] is None:  # timed out or cancelled: nobody asked for more
                raise ReviewEnded(f"{task.name}: review {decision['status']}")
            notes.append(decision["feedback"])
            previous = request.id
        raise ReviewEnded(f"{task.name}: not approved after {self.max_rounds} rounds")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loop", default="support-replies", help="the loop's name or id")
    parser.add_argument("--customer", default="Bob")
    parser.add_argument("--issue", default="the kettle arrived broken")
    parser.add_argument("--max-rounds", type=int, default=3)
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT of the receiver")
    parser.add_argument("--public-url", help="where the Signoff server reaches the receiver")
    parser.add_argument(
        "--recheck", type=float, default=60.0, help="seconds without a webhook before asking"
    )
    args = parser.parse_args(argv)
    host, port = args.listen.rsplit(":", 1)

    writer = Agent("Support writer", "Answer customers kindly and correctly")
    dispatcher = Agent("Dispatcher", "Send approved replies")
    with Client() as signoff:
        inbox = Inbox(signoff.callback_secret(), host, int(port))
        print(f"webhook receiver on {inbox.url}", flush=True)
        review = HumanReview(
            signoff,
            signoff.find_loop(args.loop).id,
            inbox,
            args.public_url or inbox.url,
            args.max_rounds,
            args.recheck,
        )
        crew = Crew(
            [
                Task("draft_reply", "Draft the reply to the customer", writer, human_review=True),
                Task("send_reply", "Send the approved reply", dispatcher),
            ],
            review,
        )
        try:
            delivered = crew.kickoff({"customer": args.customer, "issue": args.issue})
        except ReviewEnded as out:
            print(f"crew stopped: {out}", flush=True)
            return 1
        finally:
            inbox.close()
    print(json.dumps({"crew_output": delivered["send_reply"], "rounds": review.rounds}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
