"""Opportunity for learning: the learner's observable learning behaviour, counted with evidence.

Learning events (docs/rubric.md): attempts, restatements, successful practice rounds and
self-corrections. The counts are reported in the Score's metadata; the value follows the rubric.
"""

from __future__ import annotations

import re
from functools import cache

from evalwheel.graders.pedagogy import signals as sig
from evalwheel.graders.pedagogy.checks import CheckConfig
from evalwheel.graders.pedagogy.checks import recap as recap_check
from evalwheel.graders.pedagogy.dimensions.common import DimensionResult, View
from evalwheel.graders.pedagogy.dimensions.config import DimensionsConfig
from evalwheel.graders.pedagogy.scores import quote
from evalwheel.graders.pedagogy.tagger import OFFER_Q, Action, TurnTags
from evalwheel.graders.pedagogy.text import Cue, any_of, lowered
from evalwheel.types import DimensionName

NAME = DimensionName.OPPORTUNITY_FOR_LEARNING
_RECAP_CFG = CheckConfig()


@cache
def cues() -> dict[str, Cue]:
    return {
        "self_correct": any_of(
            r"\b(?:oh|ah|ohh+|ahh+)\b,? (?:wait|i see|right|so|ok|okay)\b",
            r"\bwait,? (?:so|no|i|it|that|actually)\b",
            r"\boops\b",
            r"\bmy bad\b",
            r"\bi mean\b",
            r"\bactually,? (?:it|i|that|the)\b",
            r"\b(?:so )?it should (?:be|have been)\b",
            r"\bi (?:see|get it) now\b",
            r"\bi (?:forgot|missed)\b",
            r"\bfixed it\b",
        ),
        "restate_ask": any_of(
            r"\bin your own words\b",
            r"\b(?:explain|describe|tell me|say|summari[sz]e|teach) (?:it |that |this |them )?(?:back|to me)\b",
            r"\bwhat(?:'s| is| would be) the (?:main|biggest|one|key) (?:thing|idea|lesson|takeaway)\b",
            r"\bhow would you (?:explain|describe|summari[sz]e)\b",
            r"\bsum (?:it|that|this) up\b",
        ),
        "restate": any_of(
            r"^(?:so|ok so|okay so|oh so|basically|i think)\b",
            r"\bso basically\b",
            r"\bin other words\b",
            r"\bso the (?:idea|point|rule|trick) is\b",
            r"\bit means\b",
            r"\bwhich means\b",
        ),
    }


_CONFIRM = re.compile(
    r"^\W*(?:yes|yep|yup|right|exactly|correct|spot on|perfect|precisely|bingo|nice|good|great|brilliant|excellent|"
    r"well done|that'?s (?:it|right|correct|the one|exactly|the fix|the check|the design|tight)|you got it|nailed it|"
    r"that works|sensible|much better|that does|that structure is right|the structure is right|fair)\b"
)


def invites_work(t: TurnTags) -> bool:
    """Does the turn end by asking the learner to think or do something about the material?

    Only the closing request counts: a lecture that mentions an "exercise" halfway and ends with "any
    questions?" invites nothing, and "which Python version?" asks about the learner, not the material.
    """
    prose = t.prose
    if prose is None or t.has(Action.LECTURE):
        return False
    tail = prose.sentences[-2:]
    tail_start = tail[0].start if tail else 0
    practice = t.evidence.get(Action.PRACTICE)
    if practice is not None and prose.text.find(practice) >= tail_start:
        return True
    diagnosis = t.evidence.get(Action.DIAGNOSE)
    for q in t.questions:
        if q.start >= tail_start and q.text != diagnosis and not OFFER_Q.search(lowered(q.text)):
            return True
    return False


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_TRY_CHARS = re.compile(r"[\d()=\[\]]")


def is_try(text: str, attempt: bool | None = None) -> bool:
    """A genuine try (`signals.is_attempt`, passed in when already known), and not just a new question back."""
    if not (sig.is_attempt(text) if attempt is None else attempt):
        return False
    stripped = text.strip()
    only_questions = all(part.strip().endswith("?") for part in _SENTENCE_END.split(stripped) if part.strip())
    return not (only_questions and "```" not in stripped and not _TRY_CHARS.search(stripped))


def confirms(view: View, index: int) -> bool:
    """Does the tutor turn open by telling the learner they got it right?"""
    tags = view.by_index.get(index)
    if tags is None or tags.prose is None:
        return False
    return tags.confirms or _CONFIRM.match(tags.prose.lower) is not None


def opportunity_for_learning(view: View, cfg: DimensionsConfig) -> DimensionResult:
    ts = view.ts
    traj = ts.session.trajectory
    if (
        ts.sensitive_request is not None
        and recap_check(ts, _RECAP_CFG).passed is None
        and not any(t.has(Action.PRACTICE) or t.has(Action.CHECK_UNDERSTANDING) for t in ts.assistant)
        and all(sig.REFUSAL.find(traj[t.index].content) for t in ts.assistant[:1])
    ):
        return DimensionResult(NAME, None, "a refused sensitive request: no lesson to learn from", 0.6)
    learner_cues = cues()
    # (turn, text, offset) of each event; only the first of each kind becomes Evidence (clipping and
    # validation are the costly part, and the rest are only counted).
    events: dict[str, list[tuple[int, str, int]]] = {
        "attempt": [],
        "restatement": [],
        "practice_success": [],
        "self_correction": [],
    }
    for i in ts.user_indices[1:]:
        content = traj[i].content
        prev = view.by_index.get(i - 1)
        if prev is None or not invites_work(prev) or not is_try(content, ts.attempt(i)):
            continue
        events["attempt"].append((i, content, 0))
        low = content.lower()
        words = len(content.split())
        if words >= 8 and (view.scan(prev.index).has("restate_ask") or learner_cues["restate"].search(low.lstrip())):
            events["restatement"].append((i, content, 0))
        m = learner_cues["self_correct"].search(low)
        if m is not None:
            events["self_correction"].append((i, content, max(m.start() - 20, 0)))
        reply = view.by_index.get(i + 1)
        if reply is not None and confirms(view, reply.index):
            events["practice_success"].append((reply.index, traj[reply.index].content, 0))
            # Getting there after a hint that did not give the answer away is correcting oneself.
            if (
                m is None
                and prev.has(Action.HINT)
                and not prev.has(Action.ANSWER_REVEAL)
                and i - 2 in ts.user_indices
                and ts.attempt(i - 2)
            ):
                events["self_correction"].append((i, content, 0))
    counts = {k: len(v) for k, v in events.items()}
    total = sum(counts.values())
    strong = counts["restatement"] + counts["practice_success"] + counts["self_correction"]
    meta: dict[str, object] = {"events": counts}
    order = ("practice_success", "self_correction", "restatement", "attempt")
    evidence = [quote(*e) for k in order for e in events[k][:1]]
    summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items() if v) or "no learning events"
    if counts["attempt"] == 0:
        return DimensionResult(
            NAME, 0, "the learner never makes a genuine attempt: the tutor does the thinking", 0.65, [], meta
        )
    if total >= 2 and strong >= 1:
        return DimensionResult(NAME, 2, summary, 0.7 if strong >= 2 else 0.6, evidence[:3], meta)
    return DimensionResult(
        NAME,
        1,
        summary + " (no practice success, restatement or self-correction)"
        if strong == 0
        else summary + " (a single learning event)",
        0.55,
        evidence[:2],
        meta,
    )
