"""The faithfulness grader's deterministic pre-check tier, on hand-written cases (no model needed)."""

from __future__ import annotations

import html
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from evalwheel.graders import GraderContext, get_grader
from evalwheel.graders.model.faithfulness import missing_specifics, precheck_sentences, split_sentences
from evalwheel.models.base import Completion, GenerateConfig, Message, Schema
from evalwheel.types import Output, Sample, Score

CONTEXT = (
    "The Basic plan costs $12 per user per month, or $120 per user per year. Annual billing saves 16%. "
    "It includes 3 projects, 5,000 API calls, version 4.2 of the desktop app and the Dropbox integration. "
    "Refunds are paid within ten days."
)


class LenientJudge:
    """A fake judge that splits answers into sentences and calls every claim SUPPORTED.

    It is the worst case for catching hallucinations: whatever the pre-check does not flag passes.
    """

    name = "lenient-fake"

    def __init__(self) -> None:
        self.split_inputs: list[str] = []
        self.judged: list[str] = []

    async def generate(
        self, messages: Sequence[Message], config: GenerateConfig | None = None, schema: Schema | None = None
    ) -> Completion:
        user = messages[1].content
        if "split an answer into atomic factual claims" in messages[0].content:
            answer = html.unescape(user.split("<transcript>\n", 1)[1].split("\n</transcript>", 1)[0])
            self.split_inputs.append(answer)
            return Completion(text=json.dumps({"claims": split_sentences(answer)}))
        self.judged.append(html.unescape(user.split("<claim>\n", 1)[1].split("\n</claim>", 1)[0]))
        return Completion(text=json.dumps({"reason": "stated", "evidence": "", "verdict": "SUPPORTED"}))

    def stream(self, messages: Sequence[Message], config: GenerateConfig | None = None) -> AsyncIterator[str]:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


# ------------------------------------------------------------------------------------------- missing_specifics


@pytest.mark.parametrize(
    ("claim", "missing"),
    [
        ("It costs $12 per user per month.", []),
        ("It costs $12.00 per user per month.", []),  # same amount, other spelling
        ("It costs 12 USD per user per month.", []),  # currency word instead of sign
        ("It costs $14 per user per month.", ["$14"]),  # a wrong price
        ("It costs $16 per user per month.", ["$16"]),  # 16 is in the context, but as a percentage
        ("Annual billing saves 16%.", []),
        ("Annual billing saves 16 percent.", []),
        ("Annual billing saves 20%.", ["20%"]),
        ("Annual billing saves 12%.", ["12%"]),  # 12 is in the context, but as money
        ("You get 5000 API calls.", []),  # thousands separator normalised
        ("You get 3 projects and version 4.2.", []),
        ("You get 4 projects.", ["4"]),
        ("Refunds are paid within 10 days.", []),  # the context spells the number as a word
        ("Refunds are paid within 7 days.", ["7"]),
        ("It includes the Dropbox integration.", []),
        ("It includes the Salesforce integration.", ["Salesforce"]),  # an invented named feature
        ("It supports SAML and the Dropbox integration.", ["SAML"]),
        ("Basic includes 3 projects.", []),  # a capitalised first word is not a term
        ("Sure! Basic includes 3 projects.", []),  # nor after a sentence end kept in the same piece
        ("Note: Projects are limited.", []),  # nor after a colon
        ("I'm sure the Basic plan has projects.", []),  # the pronoun I is not a term
        ("Use 2FA on the Basic plan.", []),  # digits glued to letters are identifiers, not quantities
        ("Export as MP3 files.", ["MP3"]),  # ... but a capitalised identifier is a term
        ("It costs $12 and $14, and $14 again.", ["$14"]),  # each missing specific reported once
    ],
)
def test_missing_specifics(claim: str, missing: list[str]) -> None:
    assert missing_specifics(claim, CONTEXT) == missing


def test_allow_list_exempts_phrases() -> None:
    assert missing_specifics("Best regards, Acme Support", CONTEXT) == ["Acme", "Support"]
    assert missing_specifics("Best regards, Acme Support", CONTEXT, allow=["acme  support"]) == []
    # the rest of the sentence is still checked
    assert missing_specifics("Acme Support can refund $99.", CONTEXT, allow=["Acme Support"]) == ["$99"]


def test_precheck_sentences_flags_only_sentences_with_missing_specifics() -> None:
    answer = "Basic costs $12 per user per month. It also has a Salesforce integration.\nRefunds take 10 days."
    flagged, rest = precheck_sentences(answer, CONTEXT)
    assert [r.claim for r in flagged] == ["It also has a Salesforce integration."]
    assert flagged[0].verdict == "UNSUPPORTED" and flagged[0].tier == "precheck" and "Salesforce" in flagged[0].reason
    assert rest == ["Basic costs $12 per user per month.", "Refunds take 10 days."]


# ------------------------------------------------------------------------------------------- in the grader


async def grade(answer: str, judge: LenientJudge, **config: Any) -> Score:
    sample = Sample(id="p1", input="What does Basic cost?", context=CONTEXT)
    result = await get_grader("faithfulness")(
        sample, Output(text=answer), GraderContext(config={"judge_model": judge, **config})
    )
    assert isinstance(result, Score)
    return result


async def test_precheck_catches_what_a_lenient_judge_lets_through() -> None:
    answer = "Basic costs $14 per user per month. It includes 3 projects."
    off = await grade(answer, LenientJudge())
    assert off.passed is True and off.metadata["has_hallucinations"] is False  # the judge alone misses it
    assert "precheck" not in off.metadata

    judge = LenientJudge()
    on = await grade(answer, judge, precheck=True)
    assert on.passed is False and on.metadata["has_hallucinations"] is True
    assert on.value == pytest.approx(0.5)
    assert on.metadata["precheck"] == {"sentences": 2, "flagged": 1}
    # only the sentence the pre-check did not flag reaches the model
    assert judge.split_inputs == ["It includes 3 projects."] and judge.judged == ["It includes 3 projects."]
    tiers = {c["claim"]: c["tier"] for c in on.metadata["claims"]}
    assert tiers == {"Basic costs $14 per user per month.": "precheck", "It includes 3 projects.": "judge"}
    assert "'$14'" in on.metadata["claims"][0]["reason"] and on.evidence[0].snippet.startswith("Basic costs $14")


async def test_precheck_everything_flagged_needs_no_model_call() -> None:
    judge = LenientJudge()
    s = await grade("Basic costs $14. Premium costs $40.", judge, precheck=True)
    assert judge.split_inputs == [] and judge.judged == []
    assert s.value == 0.0 and s.passed is False and s.metadata["claim_source"] == "precheck"


async def test_precheck_passes_a_faithful_answer_and_respects_max_claims() -> None:
    s = await grade(
        "Basic costs $12 per user per month. It includes the Dropbox integration.", LenientJudge(), precheck=True
    )
    assert s.passed is True and s.metadata["precheck"]["flagged"] == 0
    capped = await grade("Basic costs $1. Basic costs $2. Basic costs $3.", LenientJudge(), precheck=True, max_claims=2)
    assert capped.metadata["n_claims"] == 2 and capped.metadata["truncated"] is True
