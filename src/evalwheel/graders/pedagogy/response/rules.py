"""Rules tier: deterministic, explainable verdicts per dimension, each a Score with reason and evidence.

Every rule is a short decision list over the cues in `cues.py` and the reveal findings in
`reveal.py`, written from the MRBench rubric (what a labeller is told to look for), then checked
against the dev labels. The verdict's label is in `Score.metadata["label"]`, `value` is the label's
ordinal value and `passed` whether it is the desirable label (see `dimensions.py`). The evidence
quotes the part of the reply that decided the verdict; `turn_index` is the reply's position after
the context turns.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from evalwheel.graders.pedagogy.response import cues, reveal
from evalwheel.graders.pedagogy.response import numbers as num
from evalwheel.graders.pedagogy.response.context import ResponseContext, clean
from evalwheel.graders.pedagogy.response.dimensions import (
    ACTIONABILITY,
    COHERENCE,
    DIMENSIONS,
    GUIDANCE,
    HUMANLIKENESS,
    MISTAKE_ID,
    MISTAKE_LOCATION,
    REVEALING,
    TELLING,
    TONE,
    Dimension,
)
from evalwheel.graders.pedagogy.response.features import content_words
from evalwheel.types import Evidence, Score

Verdict = tuple[str, str, int | None]  # label, reason, evidence offset in the reply (None = no quote)


def _score(dim: Dimension, ctx: ResponseContext, reply: str, verdict: Verdict) -> Score:
    label, reason, start = verdict
    text = clean(reply)  # verdict offsets index the cleaned text
    evidence = [Evidence.quote(len(ctx.turns), text, start)] if start is not None and text else []
    return Score(
        name=dim.name,
        value=dim.value(label),
        passed=dim.passed(label),
        reason=reason,
        evidence=evidence,
        metadata={"label": label, "tier": "rules"},
    )


def _first(text: str, *names: str) -> re.Match[str] | None:
    """The earliest match among the named cues."""
    found = [m for m in (cues.find(n, text) for n in names) if m is not None]
    return min(found, key=lambda m: m.start()) if found else None


def _specific(ctx: ResponseContext, text: str) -> bool:
    """Does the text refer to this problem: one of its numbers or a content word of problem/student turn?"""
    if any(num.contains(ctx.context_numbers, n.value) for n in num.numbers(text)):
        return True
    return bool(content_words(text) & (content_words(ctx.problem) | content_words(ctx.last_student)))


def _off_task(text: str) -> Verdict | None:
    """Empty replies and leaked prompt text are not tutoring at all."""
    if not text.strip():
        return ("", "empty reply", None)
    m = cues.find("meta", text)
    if m:
        return ("", "contains prompt/meta text rather than a reply to the student", m.start())
    return None


def revealing(ctx: ResponseContext, reply: str) -> Verdict:
    """Told the answer? With a reference: its final answer stated; without: see `reveal.reveals`."""
    text = clean(reply)
    finding = reveal.reveals(ctx, text)
    if finding:
        return ("Yes", f"reveals the answer: {finding.detail}", finding.start)
    if ctx.final_answer is not None:
        return ("No", "the reference final answer is not stated", None)
    return ("No", "no concluded value, worked result or answer phrase", None)


def mistake_identification(ctx: ResponseContext, reply: str) -> Verdict:
    """Labellers say Yes as soon as the reply points at *something* to fix (even "let's double-check"),
    To some extent for "good try"/hedges alone, No for praise or moving on."""
    text = clean(reply)
    off = _off_task(text)
    if off:
        return ("No", off[1], off[2])
    strong = _first(text, "mistake", "recheck")
    if strong:
        return ("Yes", f"points at a mistake ('{strong.group(0)}')", strong.start())
    move_on = cues.find("move_on", text)
    if move_on:
        return ("No", "moves on without pointing at a mistake", move_on.start())
    weak = _first(text, "attempt_praise", "hedge")
    if weak:
        return ("To some extent", f"only hints that something may be off ('{weak.group(0)}')", weak.start())
    praise = _first(text, "correct_claim", "praise")
    if praise:
        return ("No", "praises/confirms without pointing at a mistake", praise.start())
    return ("No", "no sign that the student made a mistake", None)


def mistake_location(ctx: ResponseContext, reply: str) -> Verdict:
    """Rubric: Yes when the reply says *where* the error is (names a step, quantity or number of this
    problem next to the mistake cue); To some extent for a mistake cue with nothing specific; No else."""
    text = clean(reply)
    off = _off_task(text)
    if off:
        return ("No", off[1], off[2])
    cue = _first(text, "mistake", "recheck", "hint")
    if cue is None:
        return ("No", "does not point at any mistake", None)
    if _specific(ctx, text):
        return ("Yes", f"points at a specific part of this problem ('{cue.group(0)}')", cue.start())
    return ("To some extent", f"signals a mistake without saying where ('{cue.group(0)}')", cue.start())


def coherence(ctx: ResponseContext, reply: str) -> Verdict:
    """Rubric: the reply must follow from the conversation. Empty or leaked-prompt replies are
    incoherent; a reply that shares nothing with the problem or the last student turn only partly."""
    text = clean(reply)
    off = _off_task(text)
    if off:
        return ("No", off[1], off[2])
    if _specific(ctx, text):
        return ("Yes", "refers to this problem or the student's last turn", None)
    return ("To some extent", "shares no number or content word with the problem or the student's turn", None)


_MACHINE = re.compile(r"(?m)^\s*(?:[-*•]|\d+[.)])\s|\\(?:frac|times|boxed)|\*\*|#{2,}")
HUMAN_WORDS = 60  # a spoken tutor turn rarely runs longer


def humanlikeness(ctx: ResponseContext, reply: str) -> Verdict:
    """Rubric: would a human tutor say this in a chat? Markdown lists, LaTeX and leaked prompt text read
    as machine output; a long lecture reads only partly human."""
    text = clean(reply)
    off = _off_task(text)
    if off:
        return ("No", off[1], off[2])
    machine = _MACHINE.search(reply)
    if machine:
        return ("No", "formatted like machine output (list, LaTeX or markdown)", None)
    if len(text.split()) > HUMAN_WORDS:
        return ("To some extent", f"longer than a spoken tutor turn ({len(text.split())} words)", None)
    return ("Yes", "short conversational reply", None)


def providing_guidance(ctx: ResponseContext, reply: str) -> Verdict:
    """Yes needs a hint/question tied to this problem; a bare correction or generic advice is partial."""
    text = clean(reply)
    off = _off_task(text)
    if off:
        return ("No", off[1], off[2])
    move_on = cues.find("move_on", text)
    if move_on and not cues.find("mistake", text):
        return ("No", "moves on instead of guiding", move_on.start())
    cue = _first(text, "hint", "explain", "probe", "invite", "directive", "mistake", "recheck")
    if cue is None:
        praise = _first(text, "praise", "correct_claim", "attempt_praise")
        return ("No", "no hint, explanation, correction or question", praise.start() if praise else None)
    ask = _first(text, "invite", "probe", "directive")
    if _specific(ctx, text) and (ask is not None or "?" in text):
        start = ask.start() if ask else text.index("?")
        return ("Yes", "hint or question tied to this problem", start)
    if _specific(ctx, text):
        return (
            "To some extent",
            f"a correction about this problem, but no hint or question ('{cue.group(0)}')",
            cue.start(),
        )
    return ("To some extent", f"generic guidance, not tied to the problem ('{cue.group(0)}')", cue.start())


def actionability(ctx: ResponseContext, reply: str) -> Verdict:
    """Is there a concrete next step? Telling the result or moving on leaves none; "try again" is vague."""
    text = clean(reply)
    off = _off_task(text)
    if off:
        return ("No", off[1], off[2])
    told = reveal.reveals(ctx, text)
    if told:
        return ("No", f"tells the result ({told.detail}), leaving the student nothing to do", told.start)
    move_on = cues.find("move_on", text)
    if move_on:
        return ("No", "moves on to something else", move_on.start())
    ask = _first(text, "invite", "probe", "directive")
    qmark = text.find("?")
    specific = _specific(ctx, text)
    if specific and (ask is not None or qmark >= 0):
        return ("Yes", "asks for a concrete next step on this problem", ask.start() if ask else qmark)
    correction = _first(text, "mistake", "hint")
    if specific and correction is not None:
        return ("Yes", f"points at what to fix in this problem ('{correction.group(0)}')", correction.start())
    generic = ask or _first(text, "recheck", "attempt_praise")
    if generic is not None or qmark >= 0:
        return (
            "To some extent",
            "asks the student to act, but not what exactly",
            generic.start() if generic else qmark,
        )
    return ("No", "no question, instruction or correction for the student", None)


def tutor_tone(ctx: ResponseContext, reply: str) -> Verdict:
    """Harsh wording (unless softened by praise) is Offensive; praise or encouragement is Encouraging."""
    text = clean(reply)
    harsh = cues.find("harsh", text)
    if harsh and not cues.find("praise", text):
        return ("Offensive", f"harsh wording ('{harsh.group(0)}')", harsh.start())
    praise = cues.find("praise", text)
    if praise:
        return ("Encouraging", f"encouraging wording ('{praise.group(0)}')", praise.start())
    return ("Neutral", "no praise or encouragement, no harsh wording", None)


_BLUNT_NO = re.compile(r"^\W*(?:no+|nope|not quite|wrong|incorrect)\b", re.I)


def telling(ctx: ResponseContext, reply: str) -> Verdict:
    """MathDial 'telling': the turn gives away part of the solution (any reveal finding, not only the
    final answer), or flatly corrects the student without asking them anything."""
    text = clean(reply)
    found = reveal.findings(ctx, text)
    if found:
        return ("telling", f"gives away a result: {found[0].detail}", found[0].start)
    blunt = _BLUNT_NO.match(text)
    if blunt and "?" not in text:
        return ("telling", "flatly corrects the student and asks nothing", blunt.start())
    return ("not_telling", "no result given away", None)


RULES: dict[str, Callable[[ResponseContext, str], Verdict]] = {
    REVEALING.name: revealing,
    GUIDANCE.name: providing_guidance,
    ACTIONABILITY.name: actionability,
    TONE.name: tutor_tone,
    MISTAKE_ID.name: mistake_identification,
    MISTAKE_LOCATION.name: mistake_location,
    COHERENCE.name: coherence,
    HUMANLIKENESS.name: humanlikeness,
}
TASK_RULES: dict[str, tuple[Dimension, Callable[[ResponseContext, str], Verdict]]] = {
    **{name: (DIMENSIONS[name], fn) for name, fn in RULES.items()},
    TELLING.name: (TELLING, telling),
}


def grade_rules(dimension: str, ctx: ResponseContext, reply: str) -> Score:
    """The rules-tier Score for one reply on one dimension (an MRBench dimension name or "telling")."""
    dim, rule = TASK_RULES[dimension]
    return _score(dim, ctx, reply, rule(ctx, reply))
