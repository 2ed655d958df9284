"""Speed work on the deterministic tier must not change a single verdict.

The golden file holds the full evaluation (every check, dimension level, reason, evidence and
confidence) of each seed session, recorded before the deterministic tier was optimised. Only seed
sessions are used: the held-out sets are never tuned on, and this test is a tuning constraint.
Code execution is off so the comparison is exact (no sandbox timings) and fast.

Regenerate only when a verdict change is intended (and say why in the commit):

    python tests/test_dimensions_speed_equivalence.py --regenerate
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from evalwheel.datasets.sessions import load_sessions
from evalwheel.graders.pedagogy.session import EvaluationConfig, evaluate_session

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "examples" / "studymode" / "sessions"
GOLDEN = ROOT / "tests" / "data" / "golden" / "seed_sessions_deterministic.json"
CONFIG = EvaluationConfig.model_validate({"dimensions": {"execute_code": False}})


def current() -> dict[str, object]:
    sessions = load_sessions([SEEDS]).sessions
    return {s.session_id: evaluate_session(s, CONFIG).model_dump(mode="json") for s in sessions}


def test_seed_evaluations_match_the_golden_record() -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    now = current()
    assert sorted(now) == sorted(golden), "the seed session set changed; regenerate deliberately"
    changed = [sid for sid in golden if now[sid] != golden[sid]]
    assert not changed, f"verdicts changed for {len(changed)} seed sessions, first: {changed[0]}"


def test_golden_record_covers_every_dimension_level() -> None:
    # Guards against a vacuous golden file: it must exercise failing and passing levels of each dimension.
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    levels: dict[str, set[object]] = {}
    for result in golden.values():
        for d in result["dimensions"]:
            levels.setdefault(d["name"], set()).add(d["value"])
    assert len(levels) == 7
    assert sum(len(v) >= 2 for v in levels.values()) >= 6


if __name__ == "__main__" and "--regenerate" in sys.argv:
    GOLDEN.write_text(json.dumps(current(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")


def test_misconception_prefilter_agrees_with_the_statement_list() -> None:
    # The one-pass prefilter must say "something matches" exactly when one of the statements matches:
    # checked on every tutor turn of the seed and held-out sets and on each statement's own wording.
    import importlib
    import re

    accuracy = importlib.import_module("evalwheel.graders.pedagogy.dimensions.accuracy")
    words, others = accuracy._any_statement()
    compiled = [re.compile(p) for p, _ in accuracy.MISCONCEPTIONS]
    texts = [
        t.content.lower()
        for folder in ("sessions", "heldout", "heldout_dimensions")
        for s in load_sessions([ROOT / "examples" / "studymode" / folder]).sessions
        for t in s.trajectory
        if t.role == "assistant"
    ]
    texts += [
        "remember, lists are immutable in python.",
        "`is` works like `==` here.",
        "`//` rounds to the nearest whole number.",
        "`.sort()` returns a new sorted list.",
        "`%` gives the quotient.",
        "range(1, 5) gives you 1 to 5.",
        "a recursive function doesn't need a base case.",
        "the stop value is included.",
        "think of a list as a shelf.",
    ]
    hits = 0
    for text in texts:
        expected = any(p.search(text) for p in compiled)
        got = words.search(text) is not None or any(k in text and p.search(text) for k, p in others)
        assert got == expected, text
        hits += expected
    assert hits >= 8
