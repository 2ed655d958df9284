"""One regex pass per tutor turn for every tutor-side cue the dimensions read, and the term lexicon.

Each dimension used to search a turn with its own phrase lists (warmth, talking down, adapting, pace,
references to the learner, requests to restate, technical terms): eight passes over the same text. The
phrases now share one trie-shaped alternation (`text.combine`), so a turn is scanned once and every
dimension reads the result from the session `View`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from evalwheel.graders.pedagogy.dimensions.lexicon import SINGULAR, term_cue
from evalwheel.graders.pedagogy.text import Cue, combine


@dataclass(slots=True)
class TurnScan:
    first: dict[str, tuple[int, str]] = field(default_factory=dict)  # cue -> (offset, matched text) of its first match
    terms: list[tuple[str, int]] = field(default_factory=list)  # every technical term, with its offset

    def has(self, cue: str) -> bool:
        return cue in self.first


def cue_sources() -> dict[str, Cue]:
    """Every tutor-side cue family the dimensions read, by name (also what the cue benchmarks time)."""
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
    sources = cue_sources()
    pattern = combine(sources)
    return pattern, {group: group.split("__", 1)[0] for group in pattern.groupindex}


def scan_text(lowered_text: str) -> TurnScan:
    """Scan an already-lowercased text once for every cue and term."""
    pattern, cue_of_group = _pattern()
    out = TurnScan()
    for m in pattern.finditer(lowered_text):
        cue = cue_of_group[m.lastgroup or ""]
        if cue == "term":
            word = m.group(0).replace("-", " ")
            out.terms.append((word[:-1] if word.endswith("s") and word[:-1] in SINGULAR else word, m.start()))
        elif cue not in out.first:
            out.first[cue] = (m.start(), m.group(0))
    return out
