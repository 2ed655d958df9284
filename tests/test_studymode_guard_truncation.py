"""Truncated sessions are graded as truncated; a known solution stated by the tutor counts as a reveal."""

from __future__ import annotations

from pathlib import Path

from evalwheel.datasets.sessions import load_session_file
from evalwheel.graders.pedagogy.graders import session_of
from evalwheel.graders.pedagogy.session import evaluate_session
from evalwheel.studymode.replay import is_cut, truncate
from evalwheel.types import Output, Sample, Session, Turn

SESSIONS = Path(__file__).resolve().parents[1] / "examples" / "studymode" / "sessions"


def _session(turns: list[tuple[str, str]], **metadata: object) -> Session:
    return Session(
        session_id="t",
        domain="math",
        prompt=turns[0][1],
        trajectory=[Turn(role=r, content=c) for r, c in turns],  # type: ignore[arg-type]
        metadata=dict(metadata),
    )


TEACHING = [
    ("user", "How do I find the area of a rectangle that is 4 by 9?"),
    ("assistant", "What do you already know about area?"),
    ("user", "I think it has something to do with multiplying the sides"),
    (
        "assistant",
        "Area measures how many unit squares fit inside a shape. For a rectangle you can count rows of "
        "squares and the number of squares in each row, which is where multiplying comes from. Good luck.",
    ),
]


def _check(evaluation: object, name: str) -> bool | None:
    return next(s.passed for s in evaluation.checks if s.name == name)  # type: ignore[attr-defined]


def test_cut_session_leaves_end_of_session_checks_unscored() -> None:
    ended = evaluate_session(_session(TEACHING))
    cut = evaluate_session(_session(TEACHING, truncated=True))
    assert _check(ended, "check_reinforce") is False
    assert _check(cut, "check_reinforce") is None
    assert _check(cut, "recap") is None
    reason = next(s.reason for s in cut.checks if s.name == "recap")
    assert "cut short" in reason
    # the checks that a cut cannot excuse still count
    assert _check(cut, "diagnosis_first") is True


def test_human_arm_cut_by_max_turns_is_not_penalised() -> None:
    session = load_session_file(SESSIONS / "python.recursion.beginner.human_tutor.005.json")[0]
    kept = truncate(session.trajectory, 2)
    assert is_cut(session.trajectory, kept)
    assert not is_cut(session.trajectory, truncate(session.trajectory, None))
    sample = Sample(id=session.session_id, input=session)
    graded = evaluate_session(session_of(sample, Output(trajectory=kept)))
    assert graded.session_id == session.session_id
    assert _check(graded, "check_reinforce") in (True, None)
    assert _check(graded, "recap") is None
    assert not any(r.startswith("fidelity") for r in graded.escalation_reasons)


def test_known_solution_stated_early_is_a_reveal() -> None:
    turns = [
        ("user", "Mia has 3 bags with 12 apples each. How many apples?"),
        ("assistant", "Let's think it through together: the total is 36 apples. What do you think of that?"),
    ]
    without = evaluate_session(_session(turns))
    with_solution = evaluate_session(_session(turns, solution="36"))
    assert _check(with_solution, "no_direct_answer_initially") is False
    reason = next(s.reason for s in with_solution.checks if s.name == "no_direct_answer_initially")
    assert "known solution" in reason
    assert _check(without, "no_direct_answer_initially") is True
    # a number that merely contains the solution's digits is not the solution
    other = evaluate_session(_session([turns[0], ("assistant", "We have 360 seconds. What do you notice?")], solution="36"))
    assert _check(other, "no_direct_answer_initially") is True


def test_solution_after_two_attempts_is_allowed() -> None:
    # the reply to a diagnostic question is not an attempt yet, so the learner tries twice after it
    turns = [
        ("user", "Mia has 3 bags with 12 apples each. How many apples?"),
        ("assistant", "What have you tried so far?"),
        ("user", "I added 3 and 12 and got 15 apples"),
        ("assistant", "Close: each bag has 12. What operation repeats adding 12 three times?"),
        ("user", "Maybe 12 + 3 + 3 = 18 apples"),
        ("assistant", "Closer. Look at how many bags there are again?"),
        ("user", "12 + 12 = 24 apples, plus one more bag"),
        ("assistant", "Not quite: three bags of 12 is 12 x 3 = 36 apples. Can you explain why we multiply?"),
    ]
    assert _check(evaluate_session(_session(turns, solution="36")), "no_direct_answer_initially") is True
