"""The fused cue pass (`text.MultiScan`) must give each cue family exactly what its own regex pass gives.

The tagger's cues and the dimensions' cues are matched in one regex walk per tutor turn; each family's
result is defined as `[(m.start(), m.end(), cue) for m in family_pattern.finditer(text)]`, so that is
what these tests compare against, on real turns, on arbitrary cuts of them (to hit phrase edges), and
on hand-made overlaps where one family's phrase hides another's.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from evalwheel.datasets.sessions import load_sessions
from evalwheel.graders.pedagogy.dimensions.scan import _pattern, _sources, scanner
from evalwheel.graders.pedagogy.session import EvaluationConfig, evaluate_session, evaluate_tagged
from evalwheel.graders.pedagogy.tagger import TURN_CUE_SOURCES, tag_session, turn_cues
from evalwheel.graders.pedagogy.text import MultiScan, any_of, combine, lowered, split_prose

ROOT = Path(__file__).resolve().parents[1] / "examples" / "studymode"


def _own(pattern: object, text: str) -> list[tuple[int, int, str]]:
    import re

    assert isinstance(pattern, re.Pattern)
    return [(m.start(), m.end(), (m.lastgroup or "").split("__", 1)[0]) for m in pattern.finditer(text)]


def _texts() -> list[str]:
    sessions = load_sessions([ROOT / "sessions", ROOT / "heldout", ROOT / "heldout_dimensions"]).sessions
    contents = [t.content for s in sessions for t in s.trajectory]
    texts = [split_prose(c).lower for c in contents] + [lowered(c) for c in contents]
    rng = random.Random(5)
    joined = " ".join(texts)
    texts += [joined[a : a + rng.randint(1, 300)] for a in (rng.randrange(len(joined)) for _ in range(1500))]
    return texts


def test_fused_pass_equals_each_family_pass_on_real_and_cut_turns() -> None:
    tagger, _ = turn_cues()
    dims, _ = _pattern()
    fused = scanner()
    texts = _texts()
    assert len(texts) > 2000
    differing = [t for t in texts if fused.scan(t) != [_own(tagger, t), _own(dims, t)]]
    assert not differing, differing[0][:200]


def test_a_phrase_hidden_by_another_familys_match_is_still_found() -> None:
    first = {"ask": any_of(r"\bjust tell me\b", r"\bme now\b")}
    second = {"tell": any_of(r"\btell me\b", r"\bjust\b"), "now": any_of(r"\bnow\b")}
    fused = MultiScan([first, second])
    text = "just tell me now, please just tell me now"
    got = fused.scan(text)
    assert got == [_own(combine(first), text), _own(combine(second), text)]
    # The second family sees 'just' and 'tell me' inside the first family's 'just tell me'.
    assert [c for _, _, c in got[1]][:3] == ["tell", "tell", "now"]


def test_a_phrase_without_a_literal_start_is_refused() -> None:
    with pytest.raises(ValueError, match="literal character"):
        MultiScan([{"odd": any_of(r"\b(?:ab|cd)+x\b")}])


def test_fused_and_separate_passes_grade_seed_sessions_identically() -> None:
    cfg = EvaluationConfig.model_validate({"dimensions": {"execute_code": False}})
    for s in load_sessions([ROOT / "sessions"]).sessions:
        assert evaluate_session(s, cfg) == evaluate_tagged(tag_session(s), cfg), s.session_id


def test_the_fused_scanner_leads_with_the_taggers_family() -> None:
    # tag_turn takes the first family as its own cues: the scanner must be built in that order.
    fused = scanner()
    assert fused.patterns[0].pattern == combine(TURN_CUE_SOURCES).pattern
    assert fused.patterns[1].pattern == combine(_sources()).pattern
