"""Speed work on the deterministic tier must not change a single verdict.

The golden file holds the full evaluation (every check, dimension level, reason, evidence and
confidence) of each seed session, recorded before the deterministic tier was optimised. Only seed
sessions are used: the held-out sets are never tuned on, and this test is a tuning constraint.
Code execution is off so the comparison is exact (no sandbox timings) and fast.

Regenerate only when a verdict change is intended (and say why in the commit):

    python tests/test_dimensions_speed_equivalence.py --regenerate
    python tests/test_dimensions_speed_equivalence.py --regenerate-generated   # the generated-session digests
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
# The deterministic tier only: no sandbox, and no meaning-based safety tier (an embedding model, tested apart).
CONFIG = EvaluationConfig.model_validate({"dimensions": {"execute_code": False}, "semantic_safety": {"enabled": False}})


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


def test_is_token_agrees_with_tokenising_the_whole_text() -> None:
    # personalization._is_token looks only at the gap-free stretches around a word; it must answer exactly
    # as `word in set(findall(text))` does, for both tokenisers it is used with, on real tutor text and
    # on random strings made of the characters that decide token edges (letters, digits, _ . , ' - and gaps).
    import importlib
    import random

    personalization = importlib.import_module("evalwheel.graders.pedagogy.dimensions.personalization")
    is_token = personalization._is_token
    tutor = " ".join(t.content for s in load_sessions([SEEDS]).sessions for t in s.trajectory if t.role == "assistant")
    rng = random.Random(3)
    alphabet = "abAB_1.,'-é2 \n\t`("
    cases = [(tutor, tutor.lower())]
    cases += [("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))),) * 2 for _ in range(3000)]
    checked = agreed_true = 0
    for raw, low in cases:
        for pattern, text in ((personalization._TOKEN, raw), (personalization._WORD, low)):
            tokens = set(pattern.findall(text))
            words = list(tokens)[:50] + [text[i : i + k] for i in range(0, len(text), 7) for k in (1, 2, 3, 5)][:60]
            for word in words:
                if not word:
                    continue
                expected = word in tokens
                assert is_token(text, word, pattern) == expected, (text, word)
                checked += 1
                agreed_true += expected
    assert checked > 10_000 and agreed_true > 1_000


# A wider net than the 44 seed sessions: sessions recombined from seed turns (as benchmarks/bench_checks.py
# builds them) meet cue, question and term combinations no seed session has. Only a digest per evaluation
# is kept, so the record stays small; a mismatch names the sessions whose evaluation changed.
GENERATED = ROOT / "tests" / "data" / "golden" / "generated_sessions_digests.json"
GENERATED_COUNT = 600


def _generated_digests() -> dict[str, str]:
    import hashlib
    import random

    from evalwheel.types import Session, Turn

    seeds = load_sessions([SEEDS]).sessions
    users = [t for s in seeds for t in s.trajectory if t.role == "user"]
    tutors = [t for s in seeds for t in s.trajectory if t.role == "assistant"]
    rng = random.Random(20261203)
    out: dict[str, str] = {}
    for i in range(GENERATED_COUNT):
        traj: list[Turn] = []
        for _ in range(rng.randint(3, 10)):
            traj += [rng.choice(users), rng.choice(tutors)]
        base = rng.choice(seeds)
        session = Session(
            session_id=f"gen.{i:04d}", domain=base.domain, prompt=base.prompt, learner=base.learner, trajectory=traj
        )
        dumped = json.dumps(evaluate_session(session, CONFIG).model_dump(mode="json"), sort_keys=True)
        out[session.session_id] = hashlib.sha256(dumped.encode()).hexdigest()[:16]
    return out


def test_generated_session_evaluations_match_their_digests() -> None:
    golden = json.loads(GENERATED.read_text(encoding="utf-8"))
    now = _generated_digests()
    assert len(golden) == GENERATED_COUNT
    changed = sorted(sid for sid in golden if now.get(sid) != golden[sid])
    assert not changed, f"evaluations changed for {len(changed)} generated sessions, first: {changed[:3]}"


if __name__ == "__main__" and "--regenerate-generated" in sys.argv:
    GENERATED.write_text(json.dumps(_generated_digests(), indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GENERATED}")
