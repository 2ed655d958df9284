"""Accuracy of content: exact arithmetic, sympy algebra, code run in the sandbox, the tutor's judgement of
learner answers, and the LLM-judge fallback (against the scripted judge server, a test double)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from evalwheel.graders import GraderContext, get_grader
from evalwheel.graders.pedagogy.dimensions.mathcheck import answer_claim, answer_tokens, exercise, math_claims
from evalwheel.graders.pedagogy.session import EvaluationConfig, evaluate_session
from evalwheel.types import FailureMode, Output, Sample, Score, Session, SessionEvaluation, Turn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from scripted_judge import ScriptedJudge, judge

FENCE = "```"


def session(*turns: str, sid: str = "t") -> Session:
    roles = ["user", "assistant"]
    return Session(
        session_id=sid,
        domain="python",
        prompt=turns[0],
        trajectory=[Turn(role=roles[i % 2], content=t) for i, t in enumerate(turns)],  # type: ignore[arg-type]
    )


def accuracy(result: SessionEvaluation) -> Score:
    return next(d for d in result.dimensions if d.name == "accuracy")


def test_math_claims_exact_symbolic_and_unparsed() -> None:
    verdicts = {c.text: c.verdict for c in math_claims("So 7 × 8 = 54, and 3 + 4 = 7, and 10/3 = 3.33.")}
    assert verdicts == {"7 * 8 = 54": "wrong", "3 + 4 = 7": "correct", "10/3 = 3.33": "correct"}
    assert [c.verdict for c in math_claims("(x + 1)^2 = x^2 + 1 is the classic slip")] == ["wrong"]
    assert [c.verdict for c in math_claims("(x+1)^2 = x^2 + 2x + 1")] == ["correct"]
    assert math_claims("Solve 2x + 3 = 7 for x.") == []  # an equation to solve is not a claim
    assert math_claims("set x = 5 and check x == 5") == []
    assert [c.verdict for c in math_claims("so 3 + = 4")] == ["unparsed"]  # unparsed, never "wrong"
    assert math_claims("so factorial(1) = 3 * 2 * 1 is the unrolled call") == []  # a call, not an arithmetic side


SCAFFOLDED_WRONG = session(
    "Tom has 3 boxes of 12 pencils. How many pencils is that?",
    "Let's work it out together. What do you multiply here?",
    "3 and 12?",
    "Exactly right. Each box holds 12, so 3 × 12 = 38 pencils. Can you say why we multiply rather than add?",
    "because its 3 lots of 12",
    "Spot on. In short: equal groups mean multiplication.",
)


def test_well_scaffolded_tutor_teaching_wrong_arithmetic_fails_accuracy() -> None:
    result = evaluate_session(SCAFFOLDED_WRONG)
    acc = accuracy(result)
    assert acc.value == 0 and acc.passed is False
    assert "3 × 12" in acc.evidence[0].snippet or "3 * 12" in acc.evidence[0].snippet
    assert "36" in acc.evidence[0].snippet  # the computation that contradicts the claim
    assert FailureMode.CONTENT_ERROR in result.taxonomy
    assert any(r.startswith("accuracy 0") for r in result.escalation_reasons)


def test_false_rule_is_a_content_error_but_discussing_the_myth_is_not() -> None:
    wrong = session(
        "what are lists", "Good question. Lists are immutable, so you cannot change them. What do you think?"
    )
    assert accuracy(evaluate_session(wrong)).value == 0
    myth = session("what are lists", "A common myth is that lists are immutable; in fact you can change them. Try it?")
    assert accuracy(evaluate_session(myth)).value != 0


def test_inline_claims_and_more_false_rules() -> None:
    wrong = session("loops", "Remember, `range(1, 10)` gives 1 to 10. What would you change to stop at 9?")
    acc = accuracy(evaluate_session(wrong))
    assert acc.value == 0 and any("[1, 2, 3, 4, 5, 6, 7, 8, 9]" in e.snippet for e in acc.evidence)
    right = session("loops", "Remember, `range(1, 11)` gives 1 to 10. What would you change to stop at 9?")
    assert accuracy(evaluate_session(right)).value == 2
    for rule in ("Tuples can be changed after you create them.", "Python is statically typed, so types are checked."):
        assert accuracy(evaluate_session(session("q", rule + " What do you think?"))).value == 0, rule


def test_wrong_stated_code_output_is_caught_by_running_it() -> None:
    s = session(
        "what does slicing do",
        f"Here's an example:\n\n{FENCE}python\nnums = [1, 2, 3, 4]\nprint(nums[1:3])\n{FENCE}\n\nThis prints:\n\n"
        f"{FENCE}\n[2, 3, 4]\n{FENCE}\n\nWhat do you notice about the end index?",
    )
    acc = accuracy(evaluate_session(s))
    assert acc.value == 0
    assert "[2, 3]" in acc.evidence[0].snippet and "[2, 3, 4]" in acc.evidence[0].snippet


def test_right_code_output_counts_as_a_verified_claim() -> None:
    s = session(
        "what does slicing do",
        f"{FENCE}python\nnums = [1, 2, 3, 4]\nprint(nums[1:3])  # [2, 3]\n{FENCE}\n\nWhy does it stop before 4?",
    )
    acc = accuracy(evaluate_session(s))
    assert acc.value == 2 and acc.metadata["verified_claims"] >= 1


def test_confirming_a_wrong_prediction_and_rejecting_a_right_one() -> None:
    confirm_wrong = session(
        "help with len",
        "Quick check: what does `len([1, 2, 3])` return?",
        "4",
        "Exactly! Nice work. Now try it on a string.",
    )
    acc = accuracy(evaluate_session(confirm_wrong))
    assert acc.value == 0 and "confirms" in acc.reason
    reject_right = session(
        "help with len",
        "Quick check: what does `len([1, 2, 3])` return?",
        "3",
        "Not quite, that's a common mistake. Count again?",
    )
    acc = accuracy(evaluate_session(reject_right))
    assert acc.value == 0 and "rejects" in acc.reason


def test_a_right_answer_confirmed_with_right_colon_is_not_a_rejection() -> None:
    """"Right: mean 2, median 1." opens by confirming; read as a rejection it flagged a right answer as rejected."""
    s = session(
        "mean of my goals",
        "Add the goals 3, 0, 5, 1, 1 and divide by how many matches there were. What do you get?",
        "3+0+5+1+1 = 10, 10/5 = 2",
        "Right: mean 2, median 1. That one 5-goal match pulls the mean up but doesn't move the median.\n\n"
        "Now a twist: your sixth match, you scored 4. With six numbers, what's the middle?",
    )
    assert accuracy(evaluate_session(s)).value == 2


def test_confirming_a_wrong_prediction_of_an_inline_f_string() -> None:
    """`f"{2.5:.0f}"` shows 2 (round half to even); a tutor who confirms "3" teaches a wrong rule."""
    s = session(
        "how do I round in an f-string",
        'One rule to know: `.0f` rounds a 5 up. So what would `f"{2.5:.0f}"` print?',
        "3",
        "Exactly, 3. Now print 7.1 so it shows as 7.10.",
    )
    acc = accuracy(evaluate_session(s))
    assert acc.value == 0 and "confirms" in acc.reason


def test_confirming_a_wrong_learner_equation() -> None:
    s = session("times tables", "What is 7 times 8? Write it as a sum.", "7 * 8 = 54", "Exactly, well done!")
    acc = accuracy(evaluate_session(s))
    assert acc.value == 0 and "56" in acc.evidence[0].snippet


def test_typeset_maths_is_read_superscripts_as_whole_powers() -> None:
    assert [(c.text, c.verdict) for c in math_claims("So x² · x³ = x⁶.")] == [("x^2 * x^3 = x^6", "wrong")]
    assert [c.verdict for c in math_claims("x² · x³ = x⁵")] == ["correct"]
    assert [c.verdict for c in math_claims("2¹⁰ = 1024")] == ["correct"]  # one power of ten, not 2^1^0
    assert [c.verdict for c in math_claims("−4 − (−6) = 2")] == ["correct"]


def test_exercise_and_bare_answer() -> None:
    assert exercise("Spot on. Have a go at 1/2 + 1/3 on your own.") == "1/2 + 1/3"
    assert exercise("Yes, a⁸. A slightly harder one: 2y³ · 3y². Handle the numbers first.") == "2y^3 * 3y^2"
    assert exercise("Which is bigger, 3/4 or 2/3?") is None  # a comparison of two fractions sets no computation
    assert exercise("Solve 2x + 3 = 7. What is x?") is None  # an equation, not one value to compute
    assert exercise("The area is π × 3².") is None  # a statement, not an exercise
    wrong = answer_claim("1/2 + 1/3", "2/5")
    assert wrong is not None and wrong.verdict == "wrong"
    right = answer_claim("3 * (-2)", "-6 cause its 3 lots of -2")  # the operands restated are not the answer
    assert right is not None and right.verdict == "correct" and right.text == "3 * (-2) = -6"
    assert answer_claim("7 * 8", "56 or 54") is None  # two candidate answers: not read
    # Read before the exercise is looked for: no token, an equation or a long message rules a turn out.
    assert answer_tokens("-6 cause its 3 lots of -2") == ["-6", "3", "-2"]
    assert answer_tokens("no idea, can you explain it again?") == []
    assert answer_tokens("x = 5") == []
    assert answer_tokens(" ".join(["so"] * 15) + " 5") == []


BARE_ANSWERS = [
    pytest.param(
        "Make the bottoms the same first, then add the tops. Have a go at 1/2 + 1/3 on your own.",
        "2/5",
        "Yes, exactly! 2/5. You've got it.",
        0,
        "1/2 + 1/3 = 2/5",
        id="confirms-a-wrong-answer",
    ),
    pytest.param(
        "Subtracting a negative moves you right. Now one where you start below zero: −4 − (−6).",
        "start at -4 go right 6... 2",
        "Not quite. Careful with the sign when you start below zero. Count again.",
        0,
        "rejects",
        id="rejects-a-right-answer",
    ),
    pytest.param(
        "Try 2 − (−3) on the number line. Where do you end up?", "right 3 so 5", "Yes, 5.", 2, "", id="confirms-right"
    ),
]


@pytest.mark.parametrize(("exercise_turn", "answer", "reply", "level", "says"), BARE_ANSWERS)
def test_the_tutors_judgement_of_a_bare_answer(exercise_turn: str, answer: str, reply: str, level: int, says: str) -> None:
    acc = accuracy(evaluate_session(session("practice", exercise_turn, answer, reply)))
    assert acc.value == level
    assert says in acc.reason + " ".join(e.snippet for e in acc.evidence)


def test_bare_python_claims_prose_names_and_a_sentence_after_the_block() -> None:
    floor = session("division", "Careful: // floors, so -7 // 2 is -3 and 7 // 2 is 3. Which do you expect for 9 // 2?")
    acc = accuracy(evaluate_session(floor))
    assert acc.value == 0 and "'-4'" in acc.evidence[0].snippet and len(acc.evidence) == 1  # 7 // 2 is right
    sliced = session(
        "slices",
        "So for name = 'IMG_2041.jpg', name[4:7] gives '2041'. Does that match what you counted?",
    )
    acc = accuracy(evaluate_session(sliced))
    assert acc.value == 0 and "'204'" in acc.evidence[0].snippet
    aliased = f"{FENCE}python\na = [1, 2, 3]\nb = a\nb.append(4)\nprint(a)\n{FENCE}\n\n"
    wrong = session("aliasing", aliased + "This prints [1, 2, 3], because we appended to b. What does print(b) show?")
    assert accuracy(evaluate_session(wrong)).value == 0
    right = session("aliasing", aliased + "This prints [1, 2, 3, 4]: both names are one list. Surprised?")
    acc = accuracy(evaluate_session(right))
    assert acc.value == 2 and acc.metadata["verified_claims"] >= 1


def test_code_the_sandbox_stops_is_unscored_not_a_content_error() -> None:
    s = session(
        "why does this hang",
        f"{FENCE}python\nn = 0\nwhile n >= 0:\n    n += 1\nprint(n)\n{FENCE}\n\nThis prints:\n\n{FENCE}\n10\n{FENCE}\n\n"
        "What do you think happens?",
    )
    cfg = EvaluationConfig.model_validate({"dimensions": {"sandbox": {"timeout_s": 1.0, "cpu_s": 1}}})
    acc = accuracy(evaluate_session(s, cfg))
    assert acc.value is None and acc.passed is None  # unscored, not failed
    assert "sandbox stopped it (timeout" in acc.reason
    assert "sandbox stopped it" in str(acc.metadata.get("code_unscored"))


def test_execute_code_off_checks_no_code() -> None:
    s = session(
        "slicing",
        f"{FENCE}python\nprint([1, 2, 3][1:])  # [1, 2, 3]\n{FENCE}\n\nWhat do you notice?",
    )
    on = accuracy(evaluate_session(s))
    off = accuracy(evaluate_session(s, EvaluationConfig.model_validate({"dimensions": {"execute_code": False}})))
    assert on.value == 0 and off.value == 2 and "code_claims" not in off.metadata


def _judge_reply(score: int) -> str:
    return json.dumps({"reason": "the tutor's definition of a decorator is wrong", "score": score})


def test_judge_fallback_reads_what_the_checker_cannot_and_is_marked() -> None:
    unverifiable = session(
        "what is a decorator",
        "A decorator is a comment that Python ignores at runtime. What do you think `@cache` does then?",
        "nothing?",
        "Right, it is just documentation. Let's look at another example.",
    )

    async def go() -> tuple[Score, int]:
        async with ScriptedJudge([_judge_reply(0)]) as srv:
            grade = get_grader("studymode.accuracy_judged")
            out = await grade(Sample(id="d", input=unverifiable), Output(), GraderContext({"judge_model": judge(srv)}))
            assert isinstance(out, Score)
            return out, len(srv.bodies)

    score, calls = asyncio.run(go())
    assert calls == 1
    assert score.value == 0 and score.metadata["tier"] == "llm_judge"
    assert score.metadata["deterministic"]["value"] == 2.0


def test_judge_is_not_asked_when_the_computation_already_contradicts() -> None:
    async def go() -> tuple[Score, int]:
        async with ScriptedJudge([_judge_reply(2)]) as srv:
            grade = get_grader("studymode.accuracy_judged")
            out = await grade(
                Sample(id="p", input=SCAFFOLDED_WRONG), Output(), GraderContext({"judge_model": judge(srv)})
            )
            assert isinstance(out, Score)
            return out, len(srv.bodies)

    score, calls = asyncio.run(go())
    assert calls == 0 and score.value == 0 and score.metadata["tier"] == "deterministic"
