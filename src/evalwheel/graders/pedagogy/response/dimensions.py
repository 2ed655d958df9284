"""The five response-level pedagogy dimensions, with MRBench's names and label sets.

Names and labels are MRBench's own so agreement reports read like the dataset's papers. Two choices
are made here, once, for every caller:
- Revealing_of_the_Answer is binary: both "Yes (and the answer is correct)" and "Yes (but the answer
  is incorrect)" mean the tutor told an answer, which is what Study Mode forbids.
- Each label has an ordinal `value` in [0, 1] (1 = the pedagogically desirable end) and `passed` is
  True only for the desirable label, so a Score is meaningful outside the agreement run too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dimension:
    name: str
    labels: tuple[str, ...]
    values: tuple[float, ...]  # ordinal value per label, same order
    good: tuple[str, ...]  # labels that count as passed
    question: str  # what a labeller answers, for reports

    def value(self, label: str) -> float:
        return self.values[self.labels.index(label)]

    def passed(self, label: str) -> bool:
        return label in self.good


YES_TSE_NO = ("Yes", "To some extent", "No")

REVEALING = Dimension(
    "Revealing_of_the_Answer",
    ("Yes", "No"),
    (0.0, 1.0),
    ("No",),
    "Does the tutor reveal the final answer (correct or not)?",
)
GUIDANCE = Dimension(
    "Providing_Guidance",
    YES_TSE_NO,
    (1.0, 0.5, 0.0),
    ("Yes",),
    "Does the tutor offer correct, relevant guidance (hint, explanation, example)?",
)
ACTIONABILITY = Dimension(
    "Actionability",
    YES_TSE_NO,
    (1.0, 0.5, 0.0),
    ("Yes",),
    "Is it clear from the reply what the student should do next?",
)
TONE = Dimension(
    "Tutor_Tone",
    ("Encouraging", "Neutral", "Offensive"),
    (1.0, 0.5, 0.0),
    ("Encouraging", "Neutral"),
    "Is the tutor's tone encouraging, neutral or offensive?",
)
MISTAKE_ID = Dimension(
    "Mistake_Identification",
    YES_TSE_NO,
    (1.0, 0.5, 0.0),
    ("Yes",),
    "Does the tutor identify that the student made a mistake?",
)

# MathDial teacher moves, collapsed to the Study-Mode question "did this turn tell?".
TELLING = Dimension(
    "telling",
    ("telling", "not_telling"),
    (0.0, 1.0),
    ("not_telling",),
    "Is this teacher turn a 'telling' move (gives away part of the solution)?",
)

DIMENSIONS: dict[str, Dimension] = {d.name: d for d in (REVEALING, GUIDANCE, ACTIONABILITY, TONE, MISTAKE_ID)}
DIMENSION_ORDER: tuple[str, ...] = tuple(DIMENSIONS)
# Everything a response grader can be asked for: the MRBench dimensions plus MathDial's telling.
TASKS: dict[str, Dimension] = {**DIMENSIONS, TELLING.name: TELLING}


def canonical_label(dimension: str, raw: str | None) -> str | None:
    """Map a human label to the dimension's label set; None if it is missing or unknown.

    Matching ignores case and surrounding punctuation; Revealing maps any "Yes ..." to "Yes".
    """
    dim = DIMENSIONS.get(dimension)
    if dim is None or raw is None:
        return None
    text = " ".join(str(raw).split()).strip(" .!\"'").lower()
    if not text:
        return None
    if dim is REVEALING:
        if text == "no" or text.startswith("no "):
            return "No"
        if text == "yes" or text.startswith(("yes ", "yes(", "yes,")):
            return "Yes"
        return None
    for label in dim.labels:
        if text == label.lower():
            return label
    return None
