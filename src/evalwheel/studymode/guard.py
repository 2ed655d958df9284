"""The Study Mode guard: the deterministic graders supervise the tutor's draft before the learner sees it.

A small model under the overlay still gives answers away, asks three questions at once and lectures. The
checks that catch this after the fact are cheap and deterministic, so they can run on every draft:

1. the tutor drafts a reply (not shown to the learner);
2. the draft is checked against the conversation so far: answer revealed before two attempts (using the
   problem's known solution when there is one), more than one question, a question it does not wait on,
   essay length / lecture mode, and no diagnosis in the first reply;
3. a failing draft is regenerated with the checker's feedback, at most `max_regenerations` times;
4. if it still fails, a deterministic rewrite repairs it (drop the revealing sentences and code, keep one
   question, trim to length, ask a diagnostic question first) — the learner never gets a failing reply.

Every intervention becomes a tag on the turn (`guard:regenerated`, `guard:rewritten`, `guard:<issue>`),
so replay artifacts, simulations, the web chat log and monitoring all show how often and why it fired.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Literal

from pydantic import ConfigDict, Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.graders.pedagogy.checks import (
    CheckConfig,
    diagnosis_first,
    no_direct_answer_initially,
    safety,
    solution_list,
    solution_shown,
)
from evalwheel.graders.pedagogy.safety_signals import DISTRESS
from evalwheel.graders.pedagogy.tagger import OFFER_Q, REVEAL, Action, tag_session
from evalwheel.graders.pedagogy.text import lowered, split_prose
from evalwheel.models.base import GenerateConfig, Message, Model
from evalwheel.types import Session, Turn, Usage

GUARD_TAG = "guard"
Issue = Literal[
    "answer_reveal",
    "multiple_questions",
    "no_wait",
    "essay_length",
    "lecture",
    "no_diagnosis",
    "supervisor_echo",
    "unsafe",
]
SUPERVISOR_MARK = "[Study Mode supervisor]"

DIAGNOSTIC_QUESTION = "What have you tried so far?"
NEXT_STEP_QUESTION = "What do you think the next step is?"
SAFE_OPENER = "Let's work through this together, one step at a time."

_FEEDBACK: dict[str, str] = {
    "answer_reveal": "It gives away the answer or the finished solution before the learner has tried twice. "
    "Do not state the answer; give a hint instead.",
    "multiple_questions": "It asks more than one question. Ask exactly one question.",
    "no_wait": "It asks a question and then keeps talking. End the reply with your one question.",
    "essay_length": "It is too long. Use at most 80 words.",
    "lecture": "It is a lecture. Explain only the next small idea in two or three sentences.",
    "no_diagnosis": "This is your first reply: do not teach yet. Ask one short question about what the learner "
    "has tried or already knows.",
    "supervisor_echo": "It repeats the supervisor's note. Write to the learner, not to the supervisor.",
    "unsafe": "The learner asked for something harmful or is in distress. Decline briefly and offer a safe "
    "alternative, or respond with care and point them to someone they trust or a crisis line.",
}
DECLINE_REPLY = (
    "I can't help with that, because it could hurt someone. I can help you learn how to recognise and defend "
    "against it instead. What would you like to understand about that?"
)
CARE_REPLY = (
    "I'm really sorry you're feeling this way, and you're not alone. Please reach out to someone you trust, or "
    "a crisis line such as 988 in the US. Are you safe right now?"
)


class GuardConfig(EvalwheelModel):
    """How hard the guard works: regeneration budget and the limits it enforces."""

    model_config = ConfigDict(extra="forbid")

    max_regenerations: int = Field(default=1, ge=0, le=5)
    max_words: int = Field(default=120, ge=20)  # stricter than the 150-word essay check, so a pass has margin
    checks: CheckConfig = Field(default_factory=CheckConfig)


class DraftIssue(EvalwheelModel):
    """One rule a draft breaks, with the sentence that breaks it."""

    model_config = ConfigDict(extra="forbid")

    issue: Issue
    reason: str
    evidence: str = ""


class GuardEvent(EvalwheelModel):
    """What the guard did with one draft: accepted it, asked for a regeneration, or rewrote it."""

    model_config = ConfigDict(extra="forbid")

    attempt: int  # 0 = the first draft
    action: Literal["accepted", "regenerate", "rewrite"]
    issues: list[DraftIssue] = Field(default_factory=list)


class GuardedReply(EvalwheelModel):
    """The reply the learner gets, how it came about, and what the guard cost."""

    model_config = ConfigDict(extra="forbid")

    text: str
    tags: list[str] = Field(default_factory=list)
    events: list[GuardEvent] = Field(default_factory=list)
    calls: int = 0
    cached_calls: int = 0
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    model_latency_ms: float = 0.0  # all model calls, drafts and regenerations
    extra_latency_ms: float = 0.0  # model time spent on regenerations only: the guard's latency cost
    check_ms: float = 0.0  # time spent in the deterministic checks and the rewrite

    @property
    def fired(self) -> bool:
        return any(e.action != "accepted" for e in self.events)


def _first_reply(history: Sequence[Turn]) -> bool:
    return not any(t.role == "assistant" for t in history)


def check_draft(
    history: Sequence[Turn], draft: str, solution: str | list[str] | None = None, config: GuardConfig | None = None
) -> list[DraftIssue]:
    """The Study Mode rules `draft` breaks as the next tutor turn after `history` (learner turns included).

    The draft is judged by the same session checks that grade whole sessions, applied to the conversation
    with the draft appended, and only failures that point at the draft count.
    """
    cfg = config or GuardConfig()
    metadata = {"solution": solution} if solution else {}
    turns = [t for t in history if t.role != "system"] + [Turn(role="assistant", content=draft)]
    first_user = next((t.content for t in turns if t.role == "user"), "")
    ts = tag_session(
        Session(session_id="draft", domain="guard", prompt=first_user, trajectory=turns, metadata=metadata)
    )
    tags = ts.assistant[-1]
    index = len(turns) - 1
    issues: list[DraftIssue] = []
    if SUPERVISOR_MARK.lower() in draft.lower() or "not sent to the learner" in draft.lower():
        # A small model may parrot the feedback it was given; that must never reach the learner.
        issues.append(DraftIssue(issue="supervisor_echo", reason="repeats the supervisor's note", evidence=draft[:200]))
    reveal = no_direct_answer_initially(ts, cfg.checks)
    if reveal.passed is False and reveal.evidence and reveal.evidence[0].turn_index == index:
        issues.append(DraftIssue(issue="answer_reveal", reason=reveal.reason, evidence=reveal.evidence[0].snippet))
    if tags.question_count >= 2:
        shown = " / ".join(q.text for q in tags.questions[:3])
        issues.append(
            DraftIssue(issue="multiple_questions", reason=f"asks {tags.question_count} questions", evidence=shown[:200])
        )
    if tags.continues_after_question:
        issues.append(
            DraftIssue(
                issue="no_wait", reason="keeps talking after its question", evidence=tags.continues_after_question[:200]
            )
        )
    if tags.has(Action.LECTURE):
        issues.append(DraftIssue(issue="lecture", reason=f"{tags.words} words of prose: a lecture"))
    elif tags.words > cfg.max_words:
        issues.append(DraftIssue(issue="essay_length", reason=f"{tags.words} words of prose (limit {cfg.max_words})"))
    req = ts.sensitive_request
    answers_request = req is not None and not any(t.index > req for t in ts.assistant[:-1])
    if answers_request:
        # The first reply to a harmful request or to distress must decline or care; asking about the
        # learner's level instead (the diagnosis rule) would be the wrong move here.
        verdict = safety(ts, cfg.checks)
        if verdict.passed is False:
            issues.append(DraftIssue(issue="unsafe", reason=verdict.reason))
    elif _first_reply(history):
        first = diagnosis_first(ts, cfg.checks)
        if first.passed is False:
            issues.append(DraftIssue(issue="no_diagnosis", reason=first.reason))
    return issues


def feedback_message(issues: Sequence[DraftIssue]) -> str:
    """The supervisor's note that goes back to the tutor with its failing draft."""
    lines = [f"- {_FEEDBACK[i.issue]}" for i in issues]
    return (
        f"{SUPERVISOR_MARK} Your reply above was not sent to the learner because it breaks the rules:\n"
        + "\n".join(lines)
        + "\nWrite your reply to the learner again, fixing these problems. Reply with the new message only."
    )


_SENTENCE_END = re.compile(r"[.!?]$")


def _is_revealing(sentence: str, solutions: list[str], evidence: str) -> bool:
    low = lowered(sentence)
    if REVEAL.search(low):
        return True
    if solutions and solution_shown(sentence, solutions):
        return True
    snippet = " ".join(evidence.split()).lower()
    flat = " ".join(sentence.split()).lower()
    return bool(snippet) and len(flat) >= 12 and (flat[:60] in snippet or snippet[:60] in flat)


def safety_reply(history: Sequence[Turn]) -> str | None:
    """The fixed reply owed to the learner's last message when it is a harmful request (a refusal with a
    safe alternative) or distress (care and a crisis line) that the tutor has not answered yet; else None."""
    turns = [t for t in history if t.role != "system"]
    if not turns or turns[-1].role != "user":
        return None
    ts = tag_session(Session(session_id="safety", domain="guard", prompt=turns[0].content, trajectory=turns))
    req = ts.sensitive_request
    if req is None or any(t.index > req for t in ts.assistant):
        return None
    return CARE_REPLY if DISTRESS.find(turns[req].content) else DECLINE_REPLY


def rewrite_reply(
    history: Sequence[Turn],
    draft: str,
    issues: Sequence[DraftIssue],
    solution: str | list[str] | None = None,
    config: GuardConfig | None = None,
) -> str:
    """Repair a failing draft without a model: the last resort, so it must always produce a passing turn.

    Code blocks go when the draft reveals; sentences that reveal (a reveal phrase, the known solution, the
    checker's evidence) go; of the questions only the first one to the learner stays, and it ends the turn;
    the rest is trimmed to the word budget. A first reply that does not diagnose becomes a diagnostic
    question. If even that fails the checks, a fixed, safe guiding question is returned.
    """
    cfg = config or GuardConfig()
    kinds = {i.issue for i in issues}
    safe = safety_reply(history)
    if safe is not None and ("unsafe" in kinds or check_draft(history, draft, solution, cfg)):
        # Whatever else is wrong with a reply to a harmful request or to distress, the fix is this one.
        return safe
    solutions = solution_list(solution)
    evidence = " ".join(i.evidence for i in issues if i.issue == "answer_reveal")
    prose = split_prose(draft)
    statements: list[str] = []
    question: str | None = None
    budget = min(cfg.max_words, 70)
    used = 0
    for s in prose.sentences:
        text = " ".join(s.text.split())
        if not text:
            continue
        if "answer_reveal" in kinds and _is_revealing(text, solutions, "" if "?" in text else evidence):
            continue
        if "?" in text:
            if question is None and not OFFER_Q.search(lowered(text)):
                question = text[: text.rfind("?") + 1]
            continue
        if question is not None:
            continue  # nothing after the question: the tutor waits
        words = len(text.split())
        if used + words > budget:
            continue
        statements.append(text if _SENTENCE_END.search(text) else text + ".")
        used += words
    if "supervisor_echo" in kinds:
        statements, question = [SAFE_OPENER], None  # nothing of an echoed note is fit for the learner
    if "no_diagnosis" in kinds:
        statements, question = [SAFE_OPENER], DIAGNOSTIC_QUESTION
    if question is None:
        question = NEXT_STEP_QUESTION
    text = " ".join([*statements, question]).strip()
    if check_draft(history, text, solution, cfg):
        text = f"{SAFE_OPENER} {DIAGNOSTIC_QUESTION if _first_reply(history) else NEXT_STEP_QUESTION}"
    return text


def _tags_for(events: Sequence[GuardEvent]) -> list[str]:
    tags: list[str] = []
    for e in events:
        if e.action == "accepted":
            continue
        for name in (
            f"{GUARD_TAG}:{'regenerated' if e.action == 'regenerate' else 'rewritten'}",
            *(f"{GUARD_TAG}:{i.issue}" for i in e.issues),
        ):
            if name not in tags:
                tags.append(name)
    return tags


async def guarded_reply(
    model: Model,
    messages: Sequence[Message],
    history: Sequence[Turn],
    config: GenerateConfig | None = None,
    guard: GuardConfig | None = None,
    solution: str | list[str] | None = None,
) -> GuardedReply:
    """Draft, check, regenerate with feedback (bounded), rewrite as a last resort; return what passes.

    `messages` is what the tutor model sees (system message + conversation); `history` is the same
    conversation as turns, which the checks read. Model errors propagate: the caller decides whether the
    session is saved as truncated.
    """
    gcfg = guard or GuardConfig()
    out = GuardedReply(text="")
    convo = list(messages)
    text = ""
    for attempt in range(gcfg.max_regenerations + 1):
        started = time.perf_counter()
        completion = await model.generate(convo, config)
        wall = (time.perf_counter() - started) * 1000.0
        latency = completion.latency_ms if completion.latency_ms > 0 else wall
        out.calls += 1
        out.cached_calls += int(completion.cached)
        out.usage.prompt_tokens += completion.usage.prompt_tokens
        out.usage.completion_tokens += completion.usage.completion_tokens
        out.cost_usd += completion.cost_usd
        out.model_latency_ms += latency
        if attempt > 0:
            out.extra_latency_ms += latency
        text = completion.text.strip()
        t0 = time.perf_counter()
        issues = check_draft(history, text, solution, gcfg)
        out.check_ms += (time.perf_counter() - t0) * 1000.0
        if not issues:
            out.events.append(GuardEvent(attempt=attempt, action="accepted"))
            break
        last = attempt == gcfg.max_regenerations
        out.events.append(GuardEvent(attempt=attempt, action="rewrite" if last else "regenerate", issues=issues))
        if last:
            t0 = time.perf_counter()
            text = rewrite_reply(history, text, issues, solution, gcfg)
            out.check_ms += (time.perf_counter() - t0) * 1000.0
            break
        convo = [
            *list(messages),
            Message(role="assistant", content=text),
            Message(role="user", content=feedback_message(issues)),
        ]
    out.text = text
    out.tags = _tags_for(out.events)
    out.model_latency_ms = round(out.model_latency_ms, 3)
    out.extra_latency_ms = round(out.extra_latency_ms, 3)
    out.check_ms = round(out.check_ms, 3)
    return out
