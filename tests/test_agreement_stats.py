"""Agreement statistics on tiny fixtures whose values were computed by hand."""

from __future__ import annotations

import math

import pytest

from evalwheel.stats.agreement import agreement


def test_binary_hand_computed() -> None:
    # gold: p p p f f ; pred: p p f f p
    # confusion rows=gold [pass, fail] cols=pred: [[2, 1], [1, 1]]
    # accuracy 3/5; F1(pass) = 2*2/(3+3) = 2/3; F1(fail) = 2*1/(2+2) = 1/2; macro = 7/12
    # p_o = 0.6; p_e = (3*3 + 2*2)/25 = 13/25 = 0.52; kappa = 0.08/0.48 = 1/6
    a = agreement(list("pppff"), list("ppffp"), labels=["p", "f"])
    assert a.n == 5
    assert a.confusion == [[2, 1], [1, 1]]
    assert a.accuracy == pytest.approx(0.6)
    assert a.macro_f1 == pytest.approx(7 / 12)
    assert a.kappa == pytest.approx(1 / 6)
    assert a.per_label["p"].support == 3 and a.per_label["f"].predicted == 2


def test_three_class_hand_computed() -> None:
    gold = ["Yes", "Yes", "No", "To some extent", "No", "Yes"]
    pred = ["Yes", "No", "No", "Yes", "No", "Yes"]
    labels = ["Yes", "To some extent", "No"]
    # confusion: Yes -> [2, 0, 1]; TSE -> [1, 0, 0]; No -> [0, 0, 2]
    # F1: Yes 2*2/(3+3)=2/3; TSE 0 (support 1, never predicted); No 2*2/(2+3)=4/5 -> macro (2/3+0+4/5)/3 = 22/45
    # p_o = 4/6; p_e = (3*3 + 1*0 + 2*3)/36 = 15/36; kappa = (24/36 - 15/36)/(21/36) = 9/21 = 3/7
    a = agreement(gold, pred, labels)
    assert a.confusion == [[2, 0, 1], [1, 0, 0], [0, 0, 2]]
    assert a.macro_f1 == pytest.approx(22 / 45)
    assert a.kappa == pytest.approx(3 / 7)
    assert a.per_label["To some extent"].f1 == 0.0


def test_label_absent_from_both_is_not_averaged() -> None:
    a = agreement(["a", "b"], ["a", "b"], labels=["a", "b", "c"])
    assert a.per_label["c"].f1 is None
    assert a.macro_f1 == 1.0
    assert a.confusion == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]


def test_perfect_agreement_on_one_class() -> None:
    a = agreement(["pass"] * 4, ["pass"] * 4, labels=["pass", "fail"])
    assert a.macro_f1 == 1.0 and a.accuracy == 1.0
    assert a.kappa is None and a.kappa_note is not None  # chance agreement is 1: kappa is undefined, not 1.0


def test_constant_grader_against_mixed_gold_has_zero_kappa() -> None:
    a = agreement(["pass", "fail", "pass", "fail"], ["pass"] * 4)
    assert a.kappa == pytest.approx(0.0)
    assert a.macro_f1 == pytest.approx((2 / 3 + 0) / 2)


def test_total_disagreement_is_negative() -> None:
    a = agreement(["a", "b"], ["b", "a"])
    assert a.kappa == pytest.approx(-1.0)


def test_empty_input_gives_none_not_nan() -> None:
    a = agreement([], [], labels=["pass", "fail"])
    assert a.n == 0 and a.accuracy is None and a.macro_f1 is None and a.kappa is None
    assert a.confusion == [[0, 0], [0, 0]]


def test_default_labels_are_sorted_union() -> None:
    a = agreement(["b", "a"], ["c", "a"])
    assert a.labels == ["a", "b", "c"]


def test_errors() -> None:
    with pytest.raises(ValueError, match="length"):
        agreement(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="labels not in"):
        agreement(["a", "z"], ["a", "a"], labels=["a", "b"])


def test_matches_sklearn_on_random_inputs() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    import numpy as np

    rng = np.random.default_rng(0)
    for _ in range(50):
        gold = [str(x) for x in rng.integers(0, 3, 40)]
        pred = [str(x) for x in rng.integers(0, 3, 40)]
        a = agreement(gold, pred)
        assert a.macro_f1 == pytest.approx(metrics.f1_score(gold, pred, average="macro"))
        k = metrics.cohen_kappa_score(gold, pred)
        assert math.isnan(k) or a.kappa == pytest.approx(k)
