"""One regex pass per tutor turn for every tutor-side cue the dimensions read, and the term lexicon.

Each dimension used to search a turn with its own phrase lists (warmth, talking down, adapting, pace,
references to the learner, requests to restate, technical terms): eight passes over the same text. The
phrases now share one trie-shaped alternation (`text.combine`), so a turn is scanned once and every
dimension reads the result from the session `View`.

When a session is tagged for dimension grading (`evaluate_session` with any of these dimensions on),
that pass is fused with the tagger's own cue pass (`scanner`, a `text.MultiScan`): one regex walk per
tutor turn serves the tagger, the checks and the dimensions, and the tagger keeps the dimensions' matches
on the turn (`TurnTags.dimension_cues`) for `TurnScan`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from evalwheel.graders.pedagogy.dimensions.lexicon import SINGULAR, term_cue
from evalwheel.graders.pedagogy.tagger import TURN_CUE_SOURCES
from evalwheel.graders.pedagogy.text import Cue, CueMatch, MultiScan, combine


@dataclass(slots=True)
class TurnScan:
    first: dict[str, tuple[int, str]] = field(default_factory=dict)  # cue -> (offset, matched text) of its first match
    terms: list[tuple[str, int]] = field(default_factory=list)  # every technical term, with its offset

    def has(self, cue: str) -> bool:
        return cue in self.first


@cache
def _sources() -> dict[str, Cue]:
    from evalwheel.graders.pedagogy.dimensions.engagement import cues as engagement_cues
    from evalwheel.graders.pedagogy.dimensions.learning import cues as learning_cues
    from evalwheel.graders.pedagogy.dimensions.personalization import cues as personalization_cues

    e, p, lr = engagement_cues(), personalization_cues(), learning_cues()
    return {
        "talks_down": e["talks_down"],
        "soft": e["soft"],
        "gush": e["gush"],
        "adapt": p["adapt"],
        "ack": p["ack"],
        "pace": p["pace"],
        "personal": p["personal"],
        "restate_ask": lr["restate_ask"],
        "term": term_cue(),
    }


@cache
def _pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    pattern = combine(_sources())
    return pattern, {group: group.split("__", 1)[0] for group in pattern.groupindex}


@cache
def scanner() -> MultiScan:
    """The tagger's cue pass fused with the dimensions' (families: tagger first, then dimensions)."""
    return MultiScan([TURN_CUE_SOURCES, _sources()])


def scan_text(lowered_text: str) -> TurnScan:
    """Scan an already-lowercased text once for every cue and term."""
    pattern, cue_of_group = _pattern()
    return collect(
        lowered_text, [(m.start(), m.end(), cue_of_group[m.lastgroup or ""]) for m in pattern.finditer(lowered_text)]
    )


def collect(lowered_text: str, matches: list[CueMatch]) -> TurnScan:
    """A TurnScan from the dimensions' cue matches in a text (from `scan_text` or the fused tagger pass)."""
    out = TurnScan()
    for start, end, cue in matches:
        if cue == "term":
            word = lowered_text[start:end].replace("-", " ")
            out.terms.append((word[:-1] if word.endswith("s") and word[:-1] in SINGULAR else word, start))
        elif cue not in out.first:
            out.first[cue] = (start, lowered_text[start:end])
    return out
