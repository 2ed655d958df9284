"""The order-swapped pairwise judge, its position consistency and a length-bias figure.

Every pair is judged twice: (A as response 1, B as response 2) and (B as 1, A as 2). The second verdict is
mapped back to A/B; if the two agree that is the verdict, if they disagree (the verdict followed the position,
not the content) the pair is a TIE and `consistent` is False. A judge that always prefers the first (or the
second) response therefore produces only ties, never a spurious winner.

Grader `judge.pairwise`: A is the graded output, B comes from `sample.metadata[config["b_key"]]` (default key
"b") or, failing that, `sample.reference`. Score value: 1.0 A wins, 0.5 tie, 0.0 B wins; `passed` is
`value >= pass_at` (default 0.5: "not worse than B"). Either order unscored -> the Score is unscored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import ConfigDict, Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.graders.model.judge import (
    DATA_RULES,
    delimit,
    generate_config,
    judge_models,
    render_input,
    render_output,
)
from evalwheel.graders.model.judge import structured_call as _structured_call
from evalwheel.graders.registry import GraderContext, grader
from evalwheel.models.base import Message, Model
from evalwheel.types import Output, Sample, Score

Winner = Literal["A", "B", "tie"]


class PairwiseReply(EvalwheelModel):
    """The judge's structured answer for one ordering: reason first, then which position is better."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(description="Comparison of the two responses, written before the verdict.")
    winner: Literal["1", "2"] = Field(description="1 if response 1 is better, 2 if response 2 is better.")


class PairVerdict(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    winner: Winner | None  # None: unscored (an ordering produced no valid verdict)
    consistent: bool | None  # both orders picked the same response
    first_order: Literal["A", "B"] | None  # winner when A was shown first
    second_order: Literal["A", "B"] | None  # winner when B was shown first
    reasons: list[str] = Field(default_factory=list)
    failure: str | None = None


def build_pairwise_messages(question: str, first: str, second: str, criterion: str) -> list[Message]:
    system = (
        "You are a careful, impartial evaluator comparing two responses to the same input.\n"
        + DATA_RULES
        + "\nDo not let the order of the responses or their length influence you; judge content only. "
        'Reply with a JSON object only: first "reason", then "winner" ("1" or "2").'
    )
    user = "\n\n".join(
        [
            f"Criterion: {criterion}",
            delimit("input", question),
            delimit("response_1", first),
            delimit("response_2", second),
            'Which response better satisfies the criterion? Answer with JSON: {"reason": ..., "winner": "1" or "2"}',
        ]
    )
    return [Message(role="system", content=system), Message(role="user", content=user)]


async def compare_pair(
    model: Model, question: str, a: str, b: str, config: Mapping[str, Any] | None = None
) -> PairVerdict:
    """Judge (A, B) and (B, A); a verdict that flips with the order is a tie."""
    cfg_map: Mapping[str, Any] = config or {}
    criterion = str(cfg_map.get("criterion", "Which response follows the instruction better and is more helpful?"))
    max_repairs = int(cfg_map.get("max_repairs", 1))
    cfg = generate_config(cfg_map, 0)
    (r1, f1), (r2, f2) = await asyncio.gather(
        _structured_call(model, build_pairwise_messages(question, a, b, criterion), PairwiseReply, cfg, max_repairs),
        _structured_call(model, build_pairwise_messages(question, b, a, criterion), PairwiseReply, cfg, max_repairs),
    )
    first: Literal["A", "B"] | None = None
    second: Literal["A", "B"] | None = None
    reasons: list[str] = []
    if isinstance(r1, PairwiseReply):
        first = "A" if r1.winner == "1" else "B"
        reasons.append(r1.reason)
    if isinstance(r2, PairwiseReply):
        second = "B" if r2.winner == "1" else "A"
        reasons.append(r2.reason)
    if first is None or second is None:
        f = f1 or f2
        detail = f"{f.cause} ({f.attempts} attempts): {f.detail}" if f else "no verdict"
        return PairVerdict(
            winner=None, consistent=None, first_order=first, second_order=second, reasons=reasons, failure=detail
        )
    consistent = first == second
    return PairVerdict(
        winner=first if consistent else "tie",
        consistent=consistent,
        first_order=first,
        second_order=second,
        reasons=reasons,
    )


def position_consistency(verdicts: Sequence[PairVerdict]) -> float | None:
    """Share of scored pairs whose verdict survived the order swap (None when nothing was scored)."""
    scored = [v.consistent for v in verdicts if v.consistent is not None]
    return sum(scored) / len(scored) if scored else None


class LabelledPair(EvalwheelModel):
    """A judged pair with its reference label, for the length-bias figure."""

    model_config = ConfigDict(extra="forbid")

    a: str
    b: str
    gold: Literal["A", "B"]
    winner: Winner | None


class LengthBias(EvalwheelModel):
    """How much more often the judge picks the longer answer than the reference labels justify.

    Over pairs with a scored verdict and answers of different length (in words): `judge_longer_rate` is the
    share where the judge picked the longer answer (a tie counts 1/2), `reference_longer_rate` the share where
    the reference prefers the longer one; `bias` = their difference (positive: the judge favours length beyond
    what the labels justify). `longer_wins_when_shorter_preferred` is the judge's longer-pick rate on the pairs
    where the reference prefers the shorter answer (the pure length-bias errors).
    """

    model_config = ConfigDict(extra="forbid")

    n: int
    judge_longer_rate: float | None
    reference_longer_rate: float | None
    bias: float | None
    longer_wins_when_shorter_preferred: float | None
    n_shorter_preferred: int


def length_bias(pairs: Sequence[LabelledPair]) -> LengthBias:
    judged = 0.0
    gold = 0
    n = 0
    short_pref = 0
    short_pref_longer = 0.0
    for p in pairs:
        la, lb = len(p.a.split()), len(p.b.split())
        if p.winner is None or la == lb:
            continue
        longer: Literal["A", "B"] = "A" if la > lb else "B"
        pick = 0.5 if p.winner == "tie" else float(p.winner == longer)
        n += 1
        judged += pick
        if p.gold == longer:
            gold += 1
        else:
            short_pref += 1
            short_pref_longer += pick
    if n == 0:
        return LengthBias(
            n=0, judge_longer_rate=None, reference_longer_rate=None, bias=None,
            longer_wins_when_shorter_preferred=None, n_shorter_preferred=0,
        )  # fmt: skip
    return LengthBias(
        n=n,
        judge_longer_rate=judged / n,
        reference_longer_rate=gold / n,
        bias=(judged - gold) / n,
        longer_wins_when_shorter_preferred=short_pref_longer / short_pref if short_pref else None,
        n_shorter_preferred=short_pref,
    )


async def pairwise_judge(sample: Sample, output: Output, ctx: GraderContext) -> Score:
    config = ctx.config
    name = str(config.get("name", "judge.pairwise"))
    b_key = str(config.get("b_key", "b"))
    b_raw = sample.metadata.get(b_key, sample.reference)
    if b_raw is None:
        raise ValueError(f"judge.pairwise needs sample.metadata[{b_key!r}] or sample.reference as response B")
    model = judge_models(config)[0]
    verdict = await compare_pair(model, render_input(sample), render_output(output), str(b_raw), config)
    meta: dict[str, Any] = {
        "judge": getattr(model, "name", type(model).__name__),
        "winner": verdict.winner,
        "consistent": verdict.consistent,
        "first_order": verdict.first_order,
        "second_order": verdict.second_order,
    }
    if verdict.winner is None:
        return Score(name=name, value=None, passed=None, reason=f"unscored: {verdict.failure}", metadata=meta)
    value = {"A": 1.0, "tie": 0.5, "B": 0.0}[verdict.winner]
    if verdict.consistent:
        reason = f"{verdict.winner} wins in both orders: {verdict.reasons[0]}"
    else:
        reason = "tie: the verdict flipped with the order (position bias)"
    return Score(
        name=name, value=value, passed=value >= float(config.get("pass_at", 0.5)), reason=reason, metadata=meta
    )


grader("judge.pairwise")(pairwise_judge)
