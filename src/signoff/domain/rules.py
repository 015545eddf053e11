"""Rules and stages: CEL conditions on a request, checked when a loop is saved. Pure; no I/O.

A loop's `rules` are read in order when a request is made. Each matching rule that adjusts the
request (`require_approvals`, `set_priority`, `set_timeout`) applies, the first one for each
setting winning; the first matching rule that decides where the request goes (`auto_approve`,
`auto_reject`, `route_to`) ends the reading, so the rules after it are not evaluated.

A condition that cannot be evaluated (a missing key, a wrong type) does not match and the error
is reported beside the rules that fired: an error never decides a request. For the same reason a
stage whose `when` cannot be evaluated is not skipped: when in doubt, a person decides.

Conditions are CEL (https://cel.dev) run by the `cel` package (common-expression-language, a
Rust interpreter): no Python is ever evaluated. They see the request as `title`, `content`,
`content_type`, `context`, `metadata`, `ai_analysis` (an empty map when absent), `priority` and
`requested_by`; `has(metadata.amount)` tells whether a key is there.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import cel

from ..errors import FieldError, ValidationFailed
from .model import (
    Priority,
    Request,
    RequestStage,
    Rule,
    RuleAction,
    Stage,
    StageStatus,
)

VARIABLES: tuple[str, ...] = (
    "title",
    "content",
    "content_type",
    "context",
    "metadata",
    "ai_analysis",
    "priority",
    "requested_by",
)
MAX_CONDITION = 2000
MAX_RULES = 100
MAX_STAGES = 20
# Actions that end the reading of the rules: they decide where the request goes.
TERMINAL = frozenset({RuleAction.auto_approve, RuleAction.auto_reject, RuleAction.route_to})
# The argument each action takes, beside it in the rule.
ARGUMENT: dict[RuleAction, str | None] = {
    RuleAction.auto_approve: None,
    RuleAction.auto_reject: None,
    RuleAction.route_to: "loop_id",
    RuleAction.require_approvals: "approvals",
    RuleAction.set_priority: "priority",
    RuleAction.set_timeout: "timeout_seconds",
}
# Names that CEL's macros bind, as `x` in `ai_analysis.flags.exists(x, x == "pii")`.
_BOUND = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
_PARSE_PREFIX = re.compile(r"^Failed to parse expression .*?: ERROR: <input>:", re.DOTALL)


@functools.cache
def _cel() -> ModuleType:
    """The CEL package, imported on first use: its import also loads its command line (typer,
    rich, prompt-toolkit), which every `signoff` process would otherwise pay for at start."""
    return importlib.import_module("cel")


class ConditionError(ValueError):
    """A condition that cannot be compiled; the message says where and why."""


@functools.lru_cache(maxsize=4096)
def compile_condition(source: str) -> cel.Program:
    """The compiled condition (cached by its text), or ConditionError."""
    if not source.strip():
        raise ConditionError("is empty; write a CEL condition such as `metadata.amount < 100`")
    if len(source) > MAX_CONDITION:
        raise ConditionError(f"is {len(source)} characters long; the limit is {MAX_CONDITION}")
    try:
        program: cel.Program = _cel().compile(source)
    except ValueError as exc:
        raise ConditionError(_parser_message(str(exc))) from None
    unknown = set(program.variables()) - set(VARIABLES) - set(_BOUND.findall(source))
    if unknown:
        raise ConditionError(
            f"unknown name {', '.join(sorted(unknown))}; a condition can use "
            + ", ".join(VARIABLES)
        )
    return program


def _parser_message(message: str) -> str:
    # "Failed to parse expression 'a <': ERROR: <input>:1:4: Syntax error: …" → "1:4: Syntax …"
    found = _PARSE_PREFIX.match(message)
    if found is None:
        return message
    line_col, _, rest = message[found.end() :].partition(": ")
    line, _, column = line_col.partition(":")
    return f"line {line}, column {column}: {rest}"


@dataclass(frozen=True)
class Evaluation:
    matched: bool
    error: str | None = None


def context_for(sources: Sequence[str], facts: Mapping[str, Any]) -> cel.Context:
    """The facts as CEL values, converted once for every condition in `sources`. Only the
    variables they name are converted: a rule on `priority` does not pay for a large `content`."""
    names = {n for source in sources for n in compile_condition(source).variables()}
    try:
        context: cel.Context = _cel().Context(variables={n: facts[n] for n in names if n in facts})
    except Exception:  # a value CEL cannot hold: every condition then errors, and fires nothing
        context = _cel().Context()
    return context


def evaluate(source: str, facts: Mapping[str, Any] | cel.Context) -> Evaluation:
    """Whether the condition holds; an error (and anything but a bool) means it does not."""
    program = compile_condition(source)
    if isinstance(facts, Mapping):
        facts = context_for([source], facts)
    try:
        result = program.execute(facts)
    except KeyError as exc:
        return Evaluation(False, f"no such key: {exc.args[0] if exc.args else exc}")
    except Exception as exc:  # the interpreter's TypeError, ValueError, RuntimeError …
        return Evaluation(False, str(exc).split(". ")[0])
    if isinstance(result, bool):
        return Evaluation(result)
    return Evaluation(False, f"gave {type(result).__name__} {result!r:.60}, not true or false")


def facts_of(
    *,
    title: str | None,
    content: Any,
    content_type: str,
    context: Any,
    metadata: Mapping[str, Any],
    ai_analysis: Mapping[str, Any] | None,
    priority: str,
    requested_by: str | None,
) -> dict[str, Any]:
    """What a condition sees of a request."""
    return {
        "title": title,
        "content": content,
        "content_type": content_type,
        "context": context,
        "metadata": dict(metadata),
        "ai_analysis": dict(ai_analysis or {}),
        "priority": priority,
        "requested_by": requested_by,
    }


def facts_of_request(request: Request) -> dict[str, Any]:
    return facts_of(
        title=request.title,
        content=request.content,
        content_type=request.content_type.value,
        context=request.context,
        metadata=request.metadata,
        ai_analysis=request.ai_analysis,
        priority=request.priority.value,
        requested_by=request.requested_by,
    )


# Saving rules and stages


def parse_rules(raw: Sequence[Mapping[str, Any]], where: str = "body.rules") -> tuple[Rule, ...]:
    """Rules as given (`{"when", "action", <argument>}`), checked; every problem is reported."""
    errors: list[FieldError] = []
    if len(raw) > MAX_RULES:
        errors.append(FieldError(where, f"has {len(raw)} rules; the limit is {MAX_RULES}"))
    rules: list[Rule] = []
    for i, item in enumerate(raw):
        at = f"{where}.{i}"
        try:
            action = RuleAction(str(item.get("action")))
        except ValueError:
            known = ", ".join(a.value for a in RuleAction)
            errors.append(FieldError(f"{at}.action", f"unknown action; one of {known}"))
            continue
        errors += _condition_errors(item.get("when"), f"{at}.when", required=True)
        wanted = ARGUMENT[action]
        for name in ARGUMENT.values():
            if name is None:
                continue
            given = item.get(name) is not None
            if name == wanted and not given:
                errors.append(FieldError(f"{at}.{name}", f"{action.value} needs `{name}`"))
            elif name != wanted and given:
                errors.append(FieldError(f"{at}.{name}", f"does not go with {action.value}"))
        priority = item.get("priority")
        rules.append(
            Rule(
                when=str(item.get("when") or ""),
                action=action,
                loop_id=item.get("loop_id"),
                approvals=item.get("approvals"),
                priority=Priority(priority) if priority is not None else None,
                timeout_seconds=item.get("timeout_seconds"),
            )
        )
    _raise(errors)
    return tuple(rules)


def parse_stages(
    raw: Sequence[Mapping[str, Any]], loop_reviewers: tuple[str, ...], where: str = "body.stages"
) -> tuple[Stage, ...]:
    """Stages as given, checked against the loop's reviewers; every problem is reported."""
    errors: list[FieldError] = []
    if len(raw) > MAX_STAGES:
        errors.append(FieldError(where, f"has {len(raw)} stages; the limit is {MAX_STAGES}"))
    stages: list[Stage] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        at = f"{where}.{i}"
        stage = Stage(
            name=str(item["name"]),
            reviewers=tuple(item.get("reviewers") or ()),
            required_approvals=int(item.get("required_approvals") or 1),
            when=item.get("when"),
            timeout_seconds=item.get("timeout_seconds"),
        )
        if stage.name in names:
            errors.append(FieldError(f"{at}.name", f"another stage is named {stage.name!r}"))
        names.add(stage.name)
        if len(set(stage.reviewers)) != len(stage.reviewers):
            errors.append(FieldError(f"{at}.reviewers", "a reviewer is listed twice"))
        strangers = [r for r in stage.reviewers if r not in loop_reviewers]
        if strangers:
            errors.append(
                FieldError(
                    f"{at}.reviewers",
                    f"not a reviewer of the loop: {', '.join(strangers)};"
                    " add them to the loop's `reviewers` too",
                )
            )
        if stage.when is not None:
            errors += _condition_errors(stage.when, f"{at}.when", required=True)
        stages.append(stage)
    if stages and all(s.when is not None for s in stages):
        errors.append(
            FieldError(where, "at least one stage needs no `when`, so that someone decides")
        )
    _raise(errors)
    return tuple(stages)


def _condition_errors(source: Any, field: str, *, required: bool) -> list[FieldError]:
    if source is None and not required:
        return []
    if not isinstance(source, str):
        return [FieldError(field, "needs a CEL condition, such as `metadata.amount < 100`")]
    try:
        compile_condition(source)
    except ConditionError as exc:
        return [FieldError(field, str(exc))]
    return []


def _raise(errors: list[FieldError]) -> None:
    if errors:
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        raise ValidationFailed(detail, errors)


def rules_from_json(raw: list[dict[str, Any]] | None) -> tuple[Rule, ...]:
    """Rules as stored (they were checked when saved)."""
    return tuple(
        Rule(
            when=r["when"],
            action=RuleAction(r["action"]),
            loop_id=r.get("loop_id"),
            approvals=r.get("approvals"),
            priority=Priority(r["priority"]) if r.get("priority") else None,
            timeout_seconds=r.get("timeout_seconds"),
        )
        for r in raw or ()
    )


def stage_from_json(raw: Mapping[str, Any]) -> Stage:
    return Stage(
        name=raw["name"],
        reviewers=tuple(raw.get("reviewers") or ()),
        required_approvals=raw.get("required_approvals") or 1,
        when=raw.get("when"),
        timeout_seconds=raw.get("timeout_seconds"),
    )


def request_stages_from_json(raw: list[dict[str, Any]] | None) -> tuple[RequestStage, ...]:
    return tuple(RequestStage(stage_from_json(s), StageStatus(s["status"])) for s in raw or ())


# Evaluating rules on a new request


@dataclass(frozen=True)
class Fired:
    index: int
    rule: Rule

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, **self.rule.to_json()}


@dataclass(frozen=True)
class RuleError:
    index: int
    rule: Rule
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "when": self.rule.when, "error": self.error}


@dataclass(frozen=True)
class RulePlan:
    """What a loop's rules do to one new request."""

    fired: tuple[Fired, ...] = ()
    errors: tuple[RuleError, ...] = ()
    decided_by: Fired | None = None  # the auto_approve, auto_reject or route_to that fired
    approvals: int | None = None
    priority: Priority | None = None
    timeout_seconds: int | None = None

    @property
    def action(self) -> RuleAction | None:
        return self.decided_by.rule.action if self.decided_by else None

    def to_json(self) -> dict[str, Any]:
        """How events record it: every rule that fired, and the ones that could not be read."""
        return {
            "fired": [f.to_json() for f in self.fired],
            "errors": [e.to_json() for e in self.errors],
        }


def apply_rules(rules: tuple[Rule, ...], facts: Mapping[str, Any]) -> RulePlan:
    fired: list[Fired] = []
    errors: list[RuleError] = []
    settings: dict[str, Any] = {}
    decided_by = None
    context = context_for([r.when for r in rules], facts) if rules else None
    for index, rule in enumerate(rules):
        assert context is not None
        result = evaluate(rule.when, context)
        if result.error is not None:
            errors.append(RuleError(index, rule, result.error))
        if not result.matched:
            continue
        fired.append(Fired(index, rule))
        if rule.action in TERMINAL:
            decided_by = fired[-1]
            break
        name = ARGUMENT[rule.action]
        assert name is not None
        settings.setdefault(name, getattr(rule, name))
    return RulePlan(tuple(fired), tuple(errors), decided_by, **settings)


def rule_actor(fired: Fired) -> dict[str, Any]:
    """Who decided, when a rule did: the system, naming the rule (DESIGN: silence is not consent,
    and an approval by the system is recorded as the system's)."""
    return {"type": "system", "name": "rules", "rule": fired.to_json()}


# Stages of a request


def stage_applies(stage: Stage, facts: Mapping[str, Any] | cel.Context) -> bool:
    """Whether a request reaching `stage` must pass it; an unreadable `when` means it must."""
    if stage.when is None:
        return True
    result = evaluate(stage.when, facts)
    return result.matched or result.error is not None


def start_stages(
    stages: tuple[Stage, ...], min_approvals: int | None, facts: Mapping[str, Any]
) -> tuple[tuple[RequestStage, ...], int | None]:
    """A new request's copy of its loop's stages, and the first one that applies.

    `min_approvals` (from the request or a `require_approvals` rule) raises each stage's quorum;
    it never lowers what the loop asks of a stage.
    """
    copied = tuple(
        RequestStage(replace(s, required_approvals=max(s.required_approvals, min_approvals or 0)))
        for s in stages
    )
    return enter_next(copied, -1, facts)


def enter_next(
    stages: tuple[RequestStage, ...], after: int, facts: Mapping[str, Any]
) -> tuple[tuple[RequestStage, ...], int | None]:
    """Skip the stages after `after` that do not apply; the next one becomes active (None: done)."""
    out = list(stages)
    context = context_for([s.stage.when for s in out[after + 1 :] if s.stage.when], facts)
    for i in range(after + 1, len(out)):
        if stage_applies(out[i].stage, context):
            out[i] = replace(out[i], status=StageStatus.active)
            return tuple(out), i
        out[i] = replace(out[i], status=StageStatus.skipped)
    return tuple(out), None


def mark_stage(
    stages: tuple[RequestStage, ...], index: int, status: StageStatus
) -> tuple[RequestStage, ...]:
    return tuple(replace(s, status=status) if i == index else s for i, s in enumerate(stages))


def stages_to_json(stages: tuple[RequestStage, ...]) -> list[dict[str, Any]] | None:
    return [s.to_json() for s in stages] if stages else None
