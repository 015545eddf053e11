"""How a loop routes requests, in words: its rules, stages and clocks, and a dry run's timeline.

The loop admin page shows these beside the JSON it edits, so a person can read what the JSON
says. Everything here reads plain values (the API's JSON shapes, or domain objects) and names
people and loops through `Names`; nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..domain.model import Loop, TimeoutAction
from .render import duration


@dataclass(frozen=True)
class Names:
    """Users and loops by id, for showing names instead of ids."""

    users: Mapping[str, str]
    loops: Mapping[str, str]

    def user(self, user_id: str) -> str:
        return self.users.get(user_id, user_id)

    def people(self, ids: Iterable[str]) -> str:
        return ", ".join(self.user(i) for i in ids)

    def loop(self, loop_id: str) -> str:
        name = self.loops.get(loop_id)
        return f"loop {name}" if name else f"loop {loop_id} (not found)"


TIMEOUT_ACTIONS = {
    TimeoutAction.expire: "it expires (timed out, no decision)",
    TimeoutAction.reject: "it is rejected",
    TimeoutAction.approve: "it is approved (this loop allows approval on timeout)",
}


def timeout_action_text(action: str) -> str:
    return TIMEOUT_ACTIONS[TimeoutAction(action)]


def rule_action(rule: Mapping[str, Any], names: Names) -> str:
    """What a rule does when its `when` holds: `approve automatically`, `send to loop …`."""
    action = rule["action"]
    if action == "auto_approve":
        return "approve automatically"
    if action == "auto_reject":
        return "reject automatically"
    if action == "route_to":
        return f"send to {names.loop(rule['loop_id'])}"
    if action == "require_approvals":
        count = rule["approvals"]
        return f"require {count} approval{'' if count == 1 else 's'}"
    if action == "set_priority":
        return f"set the priority to {rule['priority']}"
    if action == "set_timeout":
        return f"set the timeout to {duration(rule['timeout_seconds'])}"
    return str(action)


def reminders_text(loop: Loop) -> str:
    if not loop.reminders:
        return "No reminders."
    shares = ", ".join(f"{round(f * 100)} %" for f in loop.reminders)
    text = f"At {shares} of the time to decide"
    if loop.default_timeout_seconds:
        whens = ", ".join(duration(f * loop.default_timeout_seconds) for f in loop.reminders)
        text += f" (with the default timeout: after {whens})"
    else:
        text += " (only requests with a timeout get them: this loop has no default timeout)"
    return text + ", the reviewers are reminded."


def step_text(step: Mapping[str, Any], names: Names) -> str:
    """What one rung of the escalation ladder does."""
    parts = []
    if step.get("add_reviewers"):
        parts.append(f"add {names.people(step['add_reviewers'])} as reviewers")
    if step.get("route_to"):
        parts.append(f"move it to {names.loop(step['route_to'])}")
    return " and ".join(parts) or "nothing"


def pickup_text(loop: Loop) -> str:
    if loop.pickup_timeout_seconds is None:
        return "No pickup clock."
    return (
        f"If nobody has opened, claimed or voted on a request after "
        f"{duration(loop.pickup_timeout_seconds)}, the reviewers are told it is waiting."
    )


def timeout_text(loop: Loop) -> str:
    action = timeout_action_text(loop.default_timeout_action)
    if loop.default_timeout_seconds is None:
        return (
            "No default timeout: a request waits until decided, unless it or a rule sets a "
            f"timeout; then {action}."
        )
    return (
        f"After {duration(loop.default_timeout_seconds)} (unless a request or a rule sets "
        f"another timeout), {action}."
    )


# A dry run's timeline (the `timeline` of POST /v1/loops/{id}/simulate)


def when_text(entry: Mapping[str, Any]) -> str:
    offset = entry.get("offset_seconds")
    if offset == 0:
        return "at creation"
    if offset is None:
        after = entry.get("seconds_after_stage_starts")
        start = f"stage {entry.get('stage')} starts"
        return f"{duration(after)} after {start}" if after else f"when {start}"
    return f"after {duration(offset)}"


def event_text(entry: Mapping[str, Any], names: Names, timeout_action: str) -> str:
    """What happens at one point of the timeline; `timeout_action`, the request's."""
    kind = entry["type"]
    if kind == "created":
        return "The request is created."
    if kind == "completed":
        return f"It is {entry.get('decision')} automatically, by a rule; no one is asked."
    if kind == "pickup":
        return "If nobody has opened, claimed or voted on it yet, the reviewers are told."
    if kind == "reminder":
        share = round(float(entry.get("fraction") or 0) * 100)
        return f"The reviewers are reminded ({share} % of the time to decide)."
    if kind == "escalation":
        return f"Escalation: {step_text(entry, names)}."
    if kind == "stage_timeout":
        action = timeout_action_text(timeout_action)
        return f"If stage {entry.get('stage')} is still waiting, it runs out of time: {action}."
    if kind == "timeout":
        return f"Timeout: {timeout_action_text(entry['action'])}."
    return str(kind)
