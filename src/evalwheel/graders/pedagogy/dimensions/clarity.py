"""Clarity and cognitive load: turn and sentence length for the learner's level, new terms per turn,
jargon relied on before it is explained (for beginners), walls of text, density after confusion."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import NamedTuple

from evalwheel.graders.pedagogy.dimensions.common import DimensionResult, View
from evalwheel.graders.pedagogy.dimensions.config import DimensionsConfig
from evalwheel.graders.pedagogy.scores import quote
from evalwheel.graders.pedagogy.text import Cue, any_of
from evalwheel.types import DimensionName, Evidence

NAME = DimensionName.CLARITY
BUDGET = {"beginner": 90, "intermediate": 120, "advanced": 150}  # words of prose per turn, from the rubric
NEW_TERMS_OVERLOAD = {"beginner": 4, "intermediate": 4, "advanced": 6}
LONG_SENTENCE = 35
_EXPLAINS = re.compile(
    r"\b(?:is an?|are|means?|which (?:is|are)|called|think of|is like|refers to|stands for|"
    r"lets you|i\.e\.|in other words)\b|[(:—–]"
)
_IDENT = re.compile(r"`([A-Za-z_][\w.]{2,40})(?:\([^`]*\))?`")


@cache
def confusion_cue() -> Cue:
    return any_of(
        r"\bconfus",
        r"\bi'?m (?:so |totally |completely )?lost\b",
        r"\b(?:don'?t|do not|still don'?t|didn'?t) (?:really )?(?:get|understand|follow)\b",
        r"\bmakes? no sense\b",
        r"\bwhat do you mean\b",
        r"\bhuh\b",
        r"\bno idea what\b",
        r"\bnot following\b",
        r"\bover my head\b",
        r"\btoo (?:much|fast|complicated|confusing)\b",
        r"\bwhat(?:'s| is) (?:a|an|that|this) [a-z-]+\?",
    )


@dataclass(slots=True)
class TurnLoad:
    index: int
    words: int
    new_terms: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    longest_sentence: int = 0
    longest_paragraph: int = 0


def turn_loads(view: View) -> list[TurnLoad]:
    """Per tutor turn: size, new terms (first use in the session, not in the profile) and unexplained ones."""
    cached = view._loads
    if cached is not None:
        return list(cached)
    traj = view.ts.session.trajectory
    # What the learner has already met: the profile and every earlier turn (lowercased), searched only for
    # the few terms a tutor turn brings rather than scanned in full. Searched as one NUL-joined text (built
    # when a turn has a term to look up): no term contains NUL, so a term never matches across two texts.
    earlier = [view.profile_text]
    met: str | None = None  # "\0".join(earlier), while earlier is unchanged
    seen: set[str] = set()
    loads: list[TurnLoad] = []
    by_index = view.by_index
    for i, turn in enumerate(traj):
        tags = by_index.get(i)
        if tags is None or tags.prose is None:
            earlier.append(turn.content.lower())
            met = None
            continue
        prose = tags.prose
        load = TurnLoad(i, prose.words)
        explains: dict[int, bool] = {}  # sentence index -> whether it explains (several terms share one)
        for term, at in view.scan(i).terms:
            if term in seen or term in load.new_terms:
                continue
            if met is None:
                met = "\0".join(earlier)
            if term in met:
                seen.add(term)
                continue
            load.new_terms.append(term)
            k = prose.sentence_at(at)
            explained = explains.get(k)
            if explained is None:
                explained = explains[k] = _EXPLAINS.search(prose.lower_of(prose.sentences[k])) is not None
            if not explained:
                load.unexplained.append(term)
        seen.update(load.new_terms)
        earlier.append(prose.lower)
        met = None
        sents = prose.sentences
        load.longest_sentence = max([s.text.count(" ") for s in sents]) + 1 if sents else 0
        if "\n\n" in prose.text:
            load.longest_paragraph = max(p.count(" ") + p.count("\n") + 1 for p in prose.text.split("\n\n"))
        else:
            load.longest_paragraph = prose.words
        loads.append(load)
    view._loads = loads
    return list(loads)


class _Lazy(NamedTuple):
    """A turn's evidence, built (clipped and validated) only if the turn ends up cited."""

    text: str
    turn: int

    def evidence(self) -> Evidence:
        return quote(self.turn, self.text)


def _confused_before(view: View, index: int) -> bool:
    """Whether the learner turn right before `index` says they are lost."""
    traj = view.ts.session.trajectory
    return index > 0 and traj[index - 1].role == "user" and confusion_cue().search(view.ts.lower(index - 1)) is not None


def clarity(view: View, cfg: DimensionsConfig) -> DimensionResult:
    ts = view.ts
    if not ts.assistant:
        return DimensionResult(NAME, None, "no tutor turn", 1.0)
    level = view.level
    budget = BUDGET.get(level, 120)
    loads = turn_loads(view)
    traj = ts.session.trajectory
    severe: list[tuple[str, _Lazy]] = []
    mild: list[tuple[str, _Lazy]] = []
    prev_words = 0
    for load in loads:
        # Evidence and the learner-confusion test are only built for the turns that need them.
        ev = _Lazy(traj[load.index].content, load.index)
        over = load.words > budget or load.longest_paragraph > budget
        terms = ", ".join(load.new_terms[:6])
        if load.words > 2 * budget:
            severe.append(
                (f"turn {load.index} has {load.words} words of prose for a {level} learner (yardstick {budget})", ev)
            )
        elif level != "advanced" and over and len(load.new_terms) >= NEW_TERMS_OVERLOAD[level]:
            severe.append(
                (
                    f"turn {load.index} is long ({load.words} words) and brings "
                    f"{len(load.new_terms)} new terms ({terms})",
                    ev,
                )
            )
        elif level == "beginner" and len(load.unexplained) >= 3:
            severe.append((f"turn {load.index} relies on unexplained jargon ({', '.join(load.unexplained[:4])})", ev))
        elif load.words > max(budget, prev_words) and _confused_before(view, load.index):
            severe.append(
                (f"the learner is lost and turn {load.index} answers with a longer turn ({load.words} words)", ev)
            )
        if over:
            mild.append((f"turn {load.index} is over the {level} yardstick ({load.words} words)", ev))
        elif load.longest_sentence >= LONG_SENTENCE and len(load.new_terms) >= 3:
            mild.append((f"turn {load.index} is dense: a {load.longest_sentence}-word sentence, {terms}", ev))
        elif level == "beginner" and len(load.unexplained) >= 2:
            mild.append((f"turn {load.index} uses {', '.join(load.unexplained[:3])} without explaining them", ev))
        prev_words = load.words
    worst = max(loads, key=lambda x: x.words)
    meta: dict[str, object] = {
        "level": level,
        "yardstick_words": budget,
        "max_turn_words": worst.words,
        "max_new_terms": max(len(x.new_terms) for x in loads),
    }
    if severe:
        conf = 0.8 if len(severe) > 1 or worst.words > 2.5 * budget else 0.65
        return DimensionResult(NAME, 0, severe[0][0], conf, [e.evidence() for _, e in severe[:3]], meta)
    if mild:
        return DimensionResult(NAME, 1, mild[0][0], 0.6, [e.evidence() for _, e in mild[:3]], meta)
    return DimensionResult(
        NAME, 2, f"every turn is within the {level} yardstick and brings few new terms", 0.7, [], meta
    )
