"""Does a tutor reply tell the student the answer? The evidence-finding half of the Revealing grader.

Two situations, measured separately on MRBench because they behave differently:
- The reference solution is known: the reply reveals if it *states* the reference final answer, i.e.
  the number appears in a declarative sentence (not inside a question such as "how much would 100
  cents be?") and is not just the student's own number quoted back ("you say he needs $150").
- No reference: the reply reveals if it states the result of the step the student is on, which shows
  as a *new* number (not already in the problem or the dialogue) directly after a concluding word
  ("is", "=", "we get", "actually"), an arithmetic expression followed by its value ("25 minus 18 is
  7"), an explicit answer phrase ("the correct answer is"), or a naming correction ("is called a
  pentagon").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from evalwheel.graders.pedagogy.response import numbers as num
from evalwheel.graders.pedagogy.response.context import ResponseContext
from evalwheel.graders.pedagogy.response.cues import ATTRIBUTED_BEFORE, CONCLUSION_BEFORE, CUES

_SENTENCE = re.compile(r"(?:[^.?!\n]|\.(?=\d))+[.?!]*")
_ARITH = re.compile(
    r"(\d[\d,]*(?:\.\d+)?)\s*(plus|minus|times|multiplied by|divided by|[-+x*×/÷])\s*(\d[\d,]*(?:\.\d+)?)",
    re.I,
)
_WORD_OPS = {
    "plus": "+",
    "minus": "-",
    "times": "*",
    "multiplied by": "*",
    "divided by": "/",
    "x": "*",
    "×": "*",
    "÷": "/",
}


@dataclass(frozen=True)
class RevealFinding:
    """One piece of evidence that the reply tells the answer: what kind, and where in the reply."""

    kind: str  # "ground_truth" | "new_conclusion" | "computed" | "answer_phrase" | "called"
    start: int
    detail: str


def sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) pairs; a '.' between digits does not end a sentence."""
    out = []
    for m in _SENTENCE.finditer(text):
        s = m.group(0)
        if s.strip():
            out.append((m.start() + (len(s) - len(s.lstrip())), s.strip()))
    return out


def _apply(op: str, a: float, b: float) -> float | None:
    op = _WORD_OPS.get(op.lower(), op)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b if b else None
    return None


def ground_truth_stated(ctx: ResponseContext, reply: str) -> RevealFinding | None:
    """The reference final answer stated in a declarative sentence, not attributed to the student."""
    answer = ctx.final_answer
    if answer is None:
        return None
    for offset, sent in sentences(reply):
        if sent.endswith("?"):
            continue
        for n in num.numbers(sent):
            if not num.same(n.value, answer):
                continue
            before = sent[: n.start]
            if ATTRIBUTED_BEFORE.search(before) and not CONCLUSION_BEFORE.search(before[-15:]):
                continue
            return RevealFinding("ground_truth", offset + n.start, f"states the reference answer {n.token}")
    return None


def new_conclusions(ctx: ResponseContext, reply: str) -> list[RevealFinding]:
    """New numbers (not on the page before) that a declarative sentence concludes with."""
    seen = ctx.context_numbers
    out = []
    for offset, sent in sentences(reply):
        if sent.endswith("?"):
            continue
        for n in num.numbers(sent):
            if num.contains(seen, n.value):
                continue
            if CONCLUSION_BEFORE.search(sent[max(0, n.start - 40) : n.start]):
                out.append(
                    RevealFinding("new_conclusion", offset + n.start, f"concludes with new value {n.token}")
                )
    return out


def computed_results(ctx: ResponseContext, reply: str) -> list[RevealFinding]:
    """'a op b ... c' where c is the value of a op b and not the student's own number."""
    out = []
    for m in _ARITH.finditer(reply):
        a, b = num.parse_number(m.group(1)), num.parse_number(m.group(3))
        if a is None or b is None:
            continue
        value = _apply(m.group(2), a, b)
        if value is None:
            continue
        tail = reply[m.end() : m.end() + 60]
        if any(num.same(n.value, value) for n in num.numbers(tail)) and not num.contains(
            ctx.last_student_numbers, value
        ):
            out.append(RevealFinding("computed", m.start(), f"works out {m.group(0)} to its value"))
    return out


def phrase_findings(reply: str) -> list[RevealFinding]:
    out = []
    for cue in ("answer_phrase", "called"):
        m = CUES[cue].search(reply)
        if m:
            out.append(RevealFinding(cue, m.start(), f"'{m.group(0)}'"))
    return out


def findings(ctx: ResponseContext, reply: str) -> list[RevealFinding]:
    """All reveal evidence, ground-truth first."""
    out: list[RevealFinding] = []
    gt = ground_truth_stated(ctx, reply)
    if gt:
        out.append(gt)
    out += new_conclusions(ctx, reply) + computed_results(ctx, reply) + phrase_findings(reply)
    return out


def reveals(ctx: ResponseContext, reply: str) -> RevealFinding | None:
    """The rules-tier decision: with a reference answer, only stating it counts; without, any finding."""
    if ctx.final_answer is not None:
        return ground_truth_stated(ctx, reply)
    found = findings(ctx, reply)
    return found[0] if found else None
