"""The eight MRBench response-level dimensions, with MRBench's names and label sets.

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

MISTAKE_LOCATION = Dimension(
    "Mistake_Location",
    YES_TSE_NO,
    (1.0, 0.5, 0.0),
    ("Yes",),
    "Does the tutor point to where exactly the student's mistake is?",
)
COHERENCE = Dimension(
    "Coherence",
    YES_TSE_NO,
    (1.0, 0.5, 0.0),
    ("Yes",),
    "Is the reply logically consistent with the conversation so far?",
)
# MRBench spells this one in lower case; the name is kept so labels files match without a mapping.
HUMANLIKENESS = Dimension(
    "humanlikeness",
    YES_TSE_NO,
    (1.0, 0.5, 0.0),
    ("Yes",),
    "Does the reply sound like a human tutor rather than a machine?",
)

# MathDial teacher moves, collapsed to the Study-Mode question "did this turn tell?".
TELLING = Dimension(
    "telling",
    ("telling", "not_telling"),
    (0.0, 1.0),
    ("not_telling",),
    "Is this teacher turn a 'telling' move (gives away part of the solution)?",
)

DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        MISTAKE_ID,
        MISTAKE_LOCATION,
        REVEALING,
        GUIDANCE,
        ACTIONABILITY,
        COHERENCE,
        TONE,
        HUMANLIKENESS,
    )
}
DIMENSION_ORDER: tuple[str, ...] = tuple(DIMENSIONS)
# Everything a response grader can be asked for: the MRBench dimensions plus MathDial's telling.
TASKS: dict[str, Dimension] = {**DIMENSIONS, TELLING.name: TELLING}


def dimension_named(name: str) -> Dimension | None:
    """The dimension for a name as files spell it (case-insensitive: `Humanlikeness` == `humanlikeness`)."""
    return DIMENSIONS.get(name) or _BY_LOWER.get(name.strip().lower())


_BY_LOWER = {name.lower(): d for name, d in DIMENSIONS.items()}


def canonical_label(dimension: str, raw: str | None) -> str | None:
    """Map a human label to the dimension's label set; None if it is missing or unknown.

    Matching ignores case and surrounding punctuation. Revealing's two qualified labels ("Yes (and the
    answer is correct)", "Yes (but the answer is incorrect)", or the same qualifier after a comma / "and" /
    "but") are "Yes"; anything else that merely starts with "yes" or "no" ("no idea", "yesterday") is
    unknown, so the caller counts it instead of folding it into a class.
    """
    dim = dimension_named(dimension)
    if dim is None or raw is None:
        return None
    text = " ".join(str(raw).split()).strip(" .!\"'").lower()
    if not text:
        return None
    if dim is REVEALING:
        if text == "no":
            return "No"
        if text == "yes" or text.startswith(("yes (", "yes(", "yes, ", "yes and ", "yes but ")):
            return "Yes"
        return None
    for label in dim.labels:
        if text == label.lower():
            return label
    return None
