"""The conversation a tutor reply answers, parsed once into the parts the graders look at.

A reply is judged against its context: "7" reveals nothing if the student already said 7, and
"not quite" identifies a mistake only if the student just made one. The graders therefore receive
a `ResponseContext` (problem, turns, last student turn, reference answer) rather than raw strings.
Built from MRBench's `conversation_history` string or from MathDial's turn list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from evalwheel.graders.pedagogy.response import numbers as num

ROLE_WORDS = {
    "tutor": "tutor",
    "teacher": "tutor",
    "assistant": "tutor",
    "student": "student",
    "learner": "student",
    "user": "student",
}
_ROLE_LINE = re.compile(r"^\s*(tutor|teacher|assistant|student|learner|user)\s*:\s?", re.I | re.M)
_QUESTION_IS = re.compile(r"(?:the question is\s*:?|question\s*:|problem\s*:)\s*(.+)", re.I | re.S)


def clean(text: str) -> str:
    """Normalise non-breaking spaces and runs of blanks (MRBench histories are full of \\xa0)."""
    text = text.replace("\xa0", " ").replace("\u200b", "")
    return "\n".join(" ".join(line.split()) for line in text.splitlines()).strip()


@dataclass(frozen=True)
class Turn:
    role: str  # "tutor" or "student"
    text: str


@dataclass(frozen=True)
class ResponseContext:
    """Everything before the reply. `ground_truth` is the reference solution text, when known."""

    turns: tuple[Turn, ...] = ()
    problem: str = ""
    ground_truth: str | None = None
    extra_numbers: tuple[float, ...] = field(default=())

    @cached_property
    def last_student(self) -> str:
        for t in reversed(self.turns):
            if t.role == "student":
                return t.text
        return ""

    @cached_property
    def final_answer(self) -> float | None:
        return num.final_answer(self.ground_truth)

    @cached_property
    def problem_numbers(self) -> frozenset[float]:
        return frozenset(n.value for n in num.numbers(self.problem))

    @cached_property
    def last_student_numbers(self) -> frozenset[float]:
        return frozenset(n.value for n in num.numbers(self.last_student))

    @cached_property
    def context_numbers(self) -> frozenset[float]:
        """Every number already on the page before the reply (problem + all turns + extras)."""
        vals = {n.value for n in num.numbers(self.problem)}
        vals |= {n.value for t in self.turns for n in num.numbers(t.text)}
        vals |= set(self.extra_numbers)
        return frozenset(vals)


def parse_history(history: str) -> list[Turn]:
    """Split an MRBench `conversation_history` into turns on lines that start with a role word."""
    text = clean(history)
    marks = list(_ROLE_LINE.finditer(text))
    turns: list[Turn] = []
    if not marks:
        return [Turn("student", text)] if text else []
    if marks[0].start() > 0 and text[: marks[0].start()].strip():
        turns.append(Turn("tutor", text[: marks[0].start()].strip()))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        body = text[m.end() : end].strip()
        turns.append(Turn(ROLE_WORDS[m.group(1).lower()], body))
    return turns


def problem_from_turns(turns: list[Turn]) -> str:
    """The problem statement if the first tutor turn quotes it ("... The question is: ...")."""
    for t in turns[:2]:
        if t.role == "tutor":
            m = _QUESTION_IS.search(t.text)
            if m:
                return m.group(1).strip()
    return ""


def from_mrbench(history: str, ground_truth: str | None = None) -> ResponseContext:
    """Context for an MRBench reply: parse the history string and pull out the quoted problem."""
    turns = parse_history(history)
    return ResponseContext(turns=tuple(turns), problem=problem_from_turns(turns), ground_truth=ground_truth)


def from_turns(
    turns: list[tuple[str, str]], problem: str = "", ground_truth: str | None = None, extra_text: str = ""
) -> ResponseContext:
    """Context from (role, text) pairs; `extra_text` (e.g. the student's written solution) adds numbers."""
    parsed = tuple(Turn(ROLE_WORDS.get(r.lower(), "student"), clean(t)) for r, t in turns)
    extra = tuple(n.value for n in num.numbers(extra_text))
    return ResponseContext(
        turns=parsed, problem=clean(problem), ground_truth=ground_truth, extra_numbers=extra
    )
