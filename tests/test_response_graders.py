"""Response-level pedagogy graders: rules on hand-written replies, the numpy classifier, trained tier."""

from __future__ import annotations

import numpy as np
import pytest

from evalwheel.graders.pedagogy.response import numbers as num
from evalwheel.graders.pedagogy.response.context import ResponseContext, from_mrbench, from_turns
from evalwheel.graders.pedagogy.response.dimensions import DIMENSION_ORDER, DIMENSIONS, TASKS
from evalwheel.graders.pedagogy.response.features import FEATURE_NAMES, feature_vector
from evalwheel.graders.pedagogy.response.rules import grade_rules
from evalwheel.types import SNIPPET_MAX

HISTORY = (
    "Tutor: Hi, could you please provide a step-by-step solution for the question below? The question is: "
    "Ana has 4 bags with 6 apples each. She eats 3 apples. How many apples are left?\u00a0\n\u00a0"
    "Student: 4 + 6 = 10 apples. 10 - 3 = 7.\n 7\u00a0\n\u00a0Tutor: Can you explain your first step?\u00a0\n\u00a0"
    "Student: I added the bags and the apples to get 10."
)
GT = "Ana has 4 * 6 = 24 apples.\nAfter eating 3 she has 24 - 3 = 21 apples.\n 21"


@pytest.fixture
def ctx() -> ResponseContext:
    return from_mrbench(HISTORY, GT)


@pytest.fixture
def bare() -> ResponseContext:
    """A step-level exchange with no reference solution (as in MRBench's Bridge conversations)."""
    return from_mrbench("Tutor: What is 9 times 3?\u00a0\n\u00a0Student: 12")


def label(dim: str, c: ResponseContext, reply: str) -> str:
    return str(grade_rules(dim, c, reply).metadata["label"])


def test_context_parsing(ctx: ResponseContext) -> None:
    assert [t.role for t in ctx.turns] == ["tutor", "student", "tutor", "student"]
    assert ctx.problem.startswith("Ana has 4 bags")
    assert ctx.final_answer == 21
    assert ctx.last_student == "I added the bags and the apples to get 10."
    assert {4.0, 6.0, 10.0, 3.0, 7.0} <= ctx.context_numbers


def test_numbers() -> None:
    assert [n.value for n in num.numbers("It costs $1,200.50, or 20% more than 3.")] == [1200.5, 20.0, 3.0]
    assert [n.value for n in num.numbers("so 8/20 of them")] == [8.0, 20.0]
    assert num.final_answer("a = 5\nb = 6\n 11") == 11
    assert num.final_answer("no numbers") is None
    assert num.same(0.666, 0.67) and not num.same(21, 22)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Not quite: 4 bags of 6 apples is 24, and 24 - 3 = 21, so the answer is 21.", "Yes"),
        ("Ana has 21 apples left.", "Yes"),
        ("How many apples would 24 take away 3 be, 21 or 22?", "No"),  # the number only inside a question
        ("Good try! Each bag has 6 apples, so should you add or multiply?", "No"),
        ("", "No"),
    ],
)
def test_revealing_with_reference(ctx: ResponseContext, reply: str, expected: str) -> None:
    assert label("Revealing_of_the_Answer", ctx, reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Actually, 9 times 3 is 27.", "Yes"),  # new concluded value
        ("Close, but the correct answer is 27.", "Yes"),
        ("Remember that a shape with five sides is called a pentagon.", "Yes"),
        ("What do you get if you add 9 three times?", "No"),
        ("You said 12, but that's not right. Try again.", "No"),  # only the student's own number
    ],
)
def test_revealing_without_reference(bare: ResponseContext, reply: str, expected: str) -> None:
    assert label("Revealing_of_the_Answer", bare, reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("no, completely wrong. why did you add?", "Offensive"),
        ("Great effort! Let's look at the first step again.", "Encouraging"),
        ("Check the first step: should the bags be added?", "Neutral"),
        ("How many times does 6 go into 24?", "Neutral"),  # maths, not exasperation
    ],
)
def test_tone(ctx: ResponseContext, reply: str, expected: str) -> None:
    assert label("Tutor_Tone", ctx, reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("That's not quite right: you added the bags instead of multiplying.", "Yes"),
        ("Let's double-check that first step together.", "Yes"),
        ("That was a good try.", "To some extent"),
        ("Great job! Let's move on to the next problem.", "No"),
        ("", "No"),
    ],
)
def test_mistake_identification(ctx: ResponseContext, reply: str, expected: str) -> None:
    assert label("Mistake_Identification", ctx, reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("What do you get if you multiply the 4 bags by 6 apples?", "Yes"),
        ("Try again.", "To some extent"),
        ("Great job! Let's move on to the next problem.", "No"),
        ("Ana has 21 apples left.", "No"),  # told the answer: nothing left to do
    ],
)
def test_actionability(ctx: ResponseContext, reply: str, expected: str) -> None:
    assert label("Actionability", ctx, reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Should you add or multiply the 6 apples in each of the 4 bags?", "Yes"),
        ("Great job!", "No"),
        ("### User: solve x + 1 = 2", "No"),  # leaked prompt text
    ],
)
def test_guidance(ctx: ResponseContext, reply: str, expected: str) -> None:
    assert label("Providing_Guidance", ctx, reply) == expected


def test_telling_rule() -> None:
    c = from_turns(
        [("tutor", "How did you get 8?"), ("student", "I added 3 and 5.")],
        problem="Tom has 3 boxes of 5 pens. How many pens?",
        ground_truth="3 * 5 = 15\n 15",
    )
    assert label("telling", c, "You need to multiply: 3 x 5 = 15.") == "telling"
    assert label("telling", c, "No, you should multiply.") == "telling"
    assert label("telling", c, "What operation do you use for 'boxes of'?") == "not_telling"


def test_score_contract(ctx: ResponseContext) -> None:
    long_reply = "Not quite. " + "Think about how many apples are in each bag. " * 20 + "So the answer is 21."
    for dim in DIMENSION_ORDER:
        for reply in ("", long_reply, "Great job!"):
            s = grade_rules(dim, ctx, reply)
            assert s.name == dim
            assert s.metadata["tier"] == "rules"
            assert s.metadata["label"] in DIMENSIONS[dim].labels
            assert s.passed == DIMENSIONS[dim].passed(s.metadata["label"])
            assert s.value is not None and 0.0 <= s.value <= 1.0
            assert s.reason
            for ev in s.evidence:
                assert len(ev.snippet) <= SNIPPET_MAX and ev.turn_index == len(ctx.turns)
    reveal = grade_rules("Revealing_of_the_Answer", ctx, long_reply)
    assert reveal.passed is False and "21" in reveal.evidence[0].snippet


def test_feature_vector_shape(ctx: ResponseContext) -> None:
    v = feature_vector(ctx, "Good try! What is 4 x 6?")
    assert v.shape == (len(FEATURE_NAMES),) and v.dtype == np.float32 and np.isfinite(v).all()
    assert feature_vector(ResponseContext(), "").shape == (len(FEATURE_NAMES),)


def test_numpy_linear_model_matches_sklearn() -> None:
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression

    from evalwheel.graders.pedagogy.response.train_linear import fit_lr
    from evalwheel.graders.pedagogy.response.vectorize import n_hand

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, n_hand() + 8))
    for k in (2, 3):
        y = rng.integers(0, k, 120)
        model = fit_lr(X, y, k, C=0.5, alpha=2.0)
        ref = LogisticRegression(C=0.5, max_iter=5000).fit(model.transform(X), y)
        np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(model.transform(X)), atol=1e-6)


@pytest.mark.slow
def test_trained_tier_contract(ctx: ResponseContext) -> None:
    from evalwheel.graders.pedagogy.response.trained import grade_trained_batch, load_models

    bundle = load_models()
    assert set(bundle.models) == set(TASKS)
    replies = [
        "Not quite: 4 x 6 = 24 and 24 - 3 = 21, so the answer is 21.",
        "Good try! Each bag has 6 apples, so should you add or multiply to find the total?",
        "",
    ]
    for dim in DIMENSION_ORDER:
        scores = grade_trained_batch(dim, [(ctx, r) for r in replies])
        for s in scores:
            assert s.metadata["tier"] == "trained" and s.metadata["label"] in DIMENSIONS[dim].labels
            assert s.confidence is not None and 0.0 <= s.confidence <= 1.0
            assert sum(s.metadata["proba"].values()) == pytest.approx(1.0, abs=1e-6)
    reveal = grade_trained_batch("Revealing_of_the_Answer", [(ctx, r) for r in replies])
    assert reveal[0].metadata["label"] == "Yes" and reveal[1].metadata["label"] == "No"
