"""Deterministic graders: each on passing and failing cases, plus configuration errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evalwheel.graders import GraderContext, get_grader
from evalwheel.graders.deterministic import (
    CONFIG_MODELS,
    ConstraintsConfig,
    GraderConfigError,
    check_config,
    squad_normalize,
)
from evalwheel.types import SNIPPET_MAX, Output, Sample, Score


def sample(reference: str | None = None) -> Sample:
    return Sample(id="s1", input="question", reference=reference)


async def run(name: str, text: str | None, config: dict[str, Any] | None = None, reference: str | None = None) -> Score:
    result = await get_grader(name)(sample(reference), Output(text=text), GraderContext(config=config or {}))
    assert isinstance(result, Score)
    assert result.metadata["grader"] == name
    assert result.reason
    return result


async def run_many(text: str, config: dict[str, Any]) -> dict[str, Score]:
    result = await get_grader("constraints")(sample(), Output(text=text), GraderContext(config=config))
    assert isinstance(result, list)
    for s in result:
        assert s.metadata["grader"] == "constraints"
        assert s.reason
        assert all(len(e.snippet) <= SNIPPET_MAX for e in s.evidence)
    return {s.name: s for s in result}


def test_all_registered() -> None:
    from evalwheel.graders import registered_graders

    assert set(CONFIG_MODELS) <= set(registered_graders())


# --- exact / contains / regex ---------------------------------------------------------------------------


async def test_exact_pass_fail_case_negate() -> None:
    ok = await run("exact", "  Paris \n", reference="Paris")
    assert (ok.passed, ok.value, ok.name) == (True, 1.0, "exact")
    bad = await run("exact", "paris", reference="Paris")
    assert (bad.passed, bad.value) == (False, 0.0)
    assert (await run("exact", "paris", {"case_sensitive": False}, reference="Paris")).passed is True
    assert (await run("exact", "Paris", {"negate": True}, reference="Paris")).passed is False
    assert (await run("exact", "Lyon", {"negate": True}, reference="Paris")).passed is True
    assert (await run("exact", "Lyon", {"reference": ["Paris", "Lyon"]})).passed is True
    assert (await run("exact", "a  b", {"normalize_whitespace": True}, reference="a b")).passed is True


async def test_exact_unscored_without_reference_or_text() -> None:
    no_ref = await run("exact", "Paris")
    assert no_ref.passed is None and no_ref.value is None and "no reference" in no_ref.reason
    result = await get_grader("exact")(sample("x"), Output(error="timeout"), GraderContext())
    assert isinstance(result, Score) and result.passed is None and "timeout" in result.reason


async def test_contains_any_all_case_negate() -> None:
    text = "Your refund for order 12345 is on its way."
    ok = await run("contains", text, {"value": "refund"})
    assert ok.passed is True and ok.evidence and "refund" in ok.evidence[0].snippet
    assert (await run("contains", text, {"value": "Refund"})).passed is False
    assert (await run("contains", text, {"value": "Refund", "case_sensitive": False})).passed is True
    assert (await run("contains", text, {"value": ["refund", "voucher"]})).passed is True
    all_mode = await run("contains", text, {"value": ["refund", "voucher"], "mode": "all"})
    assert all_mode.passed is False and "voucher" in all_mode.reason
    assert (await run("contains", text, {"value": "sorry", "negate": True})).passed is True
    assert (await run("contains", text, {"value": "refund", "negate": True})).passed is False
    assert (await run("contains", text, reference="order 12345")).passed is True


async def test_regex_match_negate_flags() -> None:
    ok = await run("regex", "Order 12345 shipped", {"pattern": r"\b\d{5}\b"})
    assert ok.passed is True and "12345" in ok.reason and ok.evidence
    assert (await run("regex", "no digits", {"pattern": r"\d+"})).passed is False
    assert (await run("regex", "As an AI model", {"pattern": "as an ai", "negate": True})).passed is True
    negated = await run("regex", "As an AI model", {"pattern": "as an ai", "negate": True, "case_sensitive": False})
    assert negated.passed is False and negated.value == 0.0


@pytest.mark.parametrize(
    ("grader", "config", "field"),
    [
        ("regex", {}, "pattern"),
        ("regex", {"pattern": "("}, "<root>"),
        ("regex", {"pattern": "a", "negat": True}, "negat"),
        ("contains", {"value": []}, "value"),
        ("contains", {"value": "x", "mode": "some"}, "mode"),
        ("exact", {"case_sensitive": "maybe"}, "case_sensitive"),
        ("token_f1", {"threshold": 1.5}, "threshold"),
        ("bleu", {"tokenize": "nope"}, "tokenize"),
        ("rouge", {"variant": "rougeW"}, "variant"),
        ("semantic_similarity", {"threshold": 2}, "threshold"),
        ("json_schema", {}, "schema"),
        ("json_schema", {"schema": {"type": "banana"}}, "<root>"),
        ("constraints", {}, "<root>"),
        ("constraints", {"min_words": 10, "max_words": 5}, "<root>"),
        ("constraints", {"max_words": -1}, "max_words"),
        ("constraints", {"required_terms": []}, "required_terms"),
        ("constraints", {"must_match": ["[unclosed"]}, "must_match"),
        ("constraints", {"no_internal_jargon": {"terms": []}}, "no_internal_jargon"),
        ("constraints", {"professional_closing": {"last_lines": 0}}, "professional_closing"),
        ("constraints", {"max_word": 5}, "max_word"),
    ],
)
async def test_config_errors_name_grader_and_field(grader: str, config: dict[str, Any], field: str) -> None:
    with pytest.raises(GraderConfigError) as info:
        await get_grader(grader)(sample("ref"), Output(text="x"), GraderContext(config=config))
    err = info.value
    assert err.grader == grader
    assert err.field == field or err.field.startswith(field + ".")
    assert f"grader {grader!r}" in str(err) and "config field" in str(err)
    with pytest.raises(GraderConfigError):
        check_config(grader, config)


def test_config_error_messages_are_specific() -> None:
    with pytest.raises(GraderConfigError, match=r"invalid regular expression"):
        check_config("regex", {"pattern": "("})
    with pytest.raises(GraderConfigError, match=r"unknown option \(known options: .*negate"):
        check_config("regex", {"pattern": "a", "negat": True})
    with pytest.raises(GraderConfigError, match=r"not a valid JSON Schema"):
        check_config("json_schema", {"schema": {"type": "banana"}})
    with pytest.raises(GraderConfigError, match=r"min_words \(10\) is greater than max_words \(5\)"):
        check_config("constraints", {"min_words": 10, "max_words": 5})
    with pytest.raises(KeyError):
        check_config("nope", {})
    check_config("regex", {"pattern": "a+"})


# --- token_f1 / bleu / rouge ----------------------------------------------------------------------------


def test_squad_normalize() -> None:
    assert squad_normalize("The  Eiffel-Tower, in Paris!") == "eiffeltower in paris"
    assert squad_normalize("An apple a day") == "apple day"


async def test_token_f1() -> None:
    exact = await run("token_f1", "The Eiffel Tower.", reference="eiffel tower")
    assert exact.value == pytest.approx(1.0) and exact.passed is True
    partial = await run("token_f1", "the tall eiffel tower in paris", reference="eiffel tower")
    assert partial.value == pytest.approx(2 * (2 / 5) * 1.0 / (2 / 5 + 1.0))
    assert partial.passed is True  # 0.571 >= 0.5
    assert (
        await run("token_f1", "the tall eiffel tower in paris", {"threshold": 0.6}, reference="eiffel tower")
    ).passed is False
    miss = await run("token_f1", "Big Ben", reference="eiffel tower")
    assert miss.value == 0.0 and miss.passed is False
    best = await run("token_f1", "Big Ben", {"reference": ["eiffel tower", "big ben"]})
    assert best.value == pytest.approx(1.0)


async def test_bleu() -> None:
    ref = "The cat sat on the mat near the door."
    same = await run("bleu", ref, reference=ref)
    assert same.value is not None and same.value <= 1.0
    assert same.value == pytest.approx(1.0) and same.passed is True
    other = await run("bleu", "Quarterly revenue grew by four percent.", reference=ref)
    assert other.value is not None and other.value < 0.1 and other.passed is False
    lower = await run("bleu", ref.upper(), {"lowercase": True}, reference=ref)
    assert lower.value == pytest.approx(1.0)


async def test_rouge() -> None:
    ref = "The cat sat on the mat."
    good = await run("rouge", "The cat was sitting on the mat.", reference=ref)
    assert good.passed is True and good.value is not None and good.value > 0.6
    assert set(good.metadata["f_measures"]) == {"rouge1", "rouge2", "rougeL"}
    bad = await run("rouge", "Stocks fell sharply today.", reference=ref)
    assert bad.value == 0.0 and bad.passed is False
    r2 = await run("rouge", "The cat was sitting on the mat.", {"variant": "rouge2", "threshold": 0.9}, reference=ref)
    assert r2.value == good.metadata["f_measures"]["rouge2"] and r2.passed is False


# --- semantic similarity (loads the ONNX MiniLM model) --------------------------------------------------


async def test_semantic_similarity() -> None:
    from evalwheel.embed.minilm import unavailable_reason

    if (why := unavailable_reason()) is not None:
        pytest.skip(why)
    ref = "You can get a refund within 30 days of purchase."
    close = await run("semantic_similarity", "Refunds are available for 30 days after you buy.", reference=ref)
    assert close.passed is True and close.value is not None and close.value >= 0.7
    far = await run("semantic_similarity", "The weather in Lisbon is sunny today.", reference=ref)
    assert far.passed is False and far.value is not None and far.value < 0.3
    strict = await run(
        "semantic_similarity", "Refunds are available for 30 days after you buy.", {"threshold": 0.99}, reference=ref
    )
    assert strict.passed is False
    multi = await run("semantic_similarity", "The weather is sunny.", {"reference": [ref, "It is sunny outside."]})
    assert multi.passed is True and len(multi.metadata["similarities"]) == 2
    assert -1.0 <= multi.value <= 1.0  # type: ignore[operator]


# --- JSON -----------------------------------------------------------------------------------------------


async def test_json_valid() -> None:
    assert (await run("json_valid", '{"a": [1, 2]}')).passed is True
    bad = await run("json_valid", '{"a": [1, 2}')
    assert bad.passed is False and bad.value == 0.0 and "line 1" in bad.reason
    fenced = '```json\n{"a": 1}\n```'
    assert (await run("json_valid", fenced)).passed is False
    assert (await run("json_valid", fenced, {"strip_code_fences": True})).passed is True


SCHEMA = {
    "type": "object",
    "properties": {"verdict": {"enum": ["pass", "fail"]}, "score": {"type": "integer", "minimum": 0}},
    "required": ["verdict", "score"],
    "additionalProperties": False,
}


async def test_json_schema() -> None:
    ok = await run("json_schema", '{"verdict": "pass", "score": 3}', {"schema": SCHEMA})
    assert ok.passed is True and ok.value == 1.0
    bad = await run("json_schema", '{"verdict": "maybe", "score": -1, "extra": 1}', {"schema": SCHEMA})
    assert bad.passed is False and bad.value == 0.0
    assert len(bad.metadata["violations"]) == 3
    assert "$.verdict" in bad.reason and "$.score" in bad.reason
    assert all(len(e.snippet) <= SNIPPET_MAX for e in bad.evidence)
    limited = await run(
        "json_schema", '{"verdict": "maybe", "score": -1, "extra": 1}', {"schema": SCHEMA, "max_errors": 1}
    )
    assert "+2 more" in limited.reason
    not_json = await run("json_schema", "verdict: pass", {"schema": SCHEMA})
    assert not_json.passed is False and "not valid JSON" in not_json.reason


# --- constraints ----------------------------------------------------------------------------------------

EMAIL_OK = """Hi Dana,

Thanks for your patience. Your refund for order 12345 has been issued and should arrive within 5 days.

Best regards,
Sam"""

EMAIL_BAD = """hey - per the P0 escalation in JIRA we guarantee a fix, the SEV1 war room is on it. """ + "word " * 60

SPEC = {
    "max_words": 50,
    "min_words": 10,
    "required_terms": ["refund", "order number"],
    "forbidden_terms": ["guarantee"],
    "must_match": [r"\b\d{5}\b"],
    "must_not_match": [r"(?i)\bas an ai\b"],
    "professional_closing": True,
    "no_internal_jargon": ["JIRA", "P0", "SEV1", "war room"],
}


async def test_constraints_one_score_per_constraint() -> None:
    scores = await run_many(EMAIL_OK, SPEC)
    assert list(scores) == [
        "constraints.max_words",
        "constraints.min_words",
        "constraints.required_terms",
        "constraints.forbidden_terms",
        "constraints.must_match",
        "constraints.must_not_match",
        "constraints.professional_closing",
        "constraints.no_internal_jargon",
    ]
    failed = {name for name, s in scores.items() if not s.passed}
    assert failed == {"constraints.required_terms"}  # "order number" is absent
    assert scores["constraints.required_terms"].metadata["missing"] == ["order number"]
    assert scores["constraints.professional_closing"].metadata["sign_off"] == "Best regards"
    assert scores["constraints.max_words"].metadata["word_count"] == 23


async def test_constraints_failing_text() -> None:
    scores = await run_many(EMAIL_BAD, SPEC)
    assert scores["constraints.max_words"].passed is False
    assert scores["constraints.min_words"].passed is True
    forbidden = scores["constraints.forbidden_terms"]
    assert forbidden.passed is False and "guarantee" in forbidden.evidence[0].snippet
    jargon = scores["constraints.no_internal_jargon"]
    assert jargon.passed is False and set(jargon.metadata["found"]) == {"JIRA", "P0", "SEV1", "war room"}
    assert len(jargon.evidence) == 4
    assert scores["constraints.must_match"].passed is False
    assert scores["constraints.professional_closing"].passed is False
    assert all(s.value == (1.0 if s.passed else 0.0) for s in scores.values())


async def test_constraints_terms_are_whole_words_and_case_option() -> None:
    text = "We reopened the ticket. Jira says p0."
    assert (await run_many(text, {"forbidden_terms": ["pen"]}))["constraints.forbidden_terms"].passed is True
    assert (await run_many(text, {"no_internal_jargon": ["JIRA"]}))["constraints.no_internal_jargon"].passed is False
    sensitive = await run_many(text, {"no_internal_jargon": ["JIRA", "P0"], "case_sensitive": True})
    assert sensitive["constraints.no_internal_jargon"].passed is True
    regex_hit = await run_many("As an AI, I cannot.", {"must_not_match": r"(?i)\bas an ai\b"})
    assert regex_hit["constraints.must_not_match"].passed is False


async def test_constraints_closing_options() -> None:
    assert (await run_many("Happy to help.\nBest of luck with it", {"professional_closing": True}))[
        "constraints.professional_closing"
    ].passed is False
    assert (await run_many("Done.\n\nSincerely,\nAna\nSupport team", {"professional_closing": True}))[
        "constraints.professional_closing"
    ].passed is True
    custom = {"professional_closing": {"sign_offs": ["Cheers"], "last_lines": 1}}
    assert (await run_many("All sorted.\nCheers!", custom))["constraints.professional_closing"].passed is True
    assert (await run_many("Cheers,\nAna", custom))["constraints.professional_closing"].passed is False
    named = await run_many("Regards", {"professional_closing": True, "name": "email"})
    assert list(named) == ["email.professional_closing"]


async def test_constraints_evidence_is_clipped() -> None:
    text = "x " * 500 + "guarantee " + "y " * 500
    scores = await run_many(text, {"forbidden_terms": ["guarantee"], "max_words": 10})
    for s in scores.values():
        assert s.evidence and all(len(e.snippet) <= SNIPPET_MAX for e in s.evidence)
    assert "guarantee" in scores["constraints.forbidden_terms"].evidence[0].snippet


def test_constraints_from_yaml(tmp_path: Path) -> None:
    text = "max_words: 100\nrequired_terms: [refund]\nno_internal_jargon:\n  terms: [JIRA]\nprofessional_closing:\n  sign_offs: [Cheers]\n"
    cfg = ConstraintsConfig.from_yaml(text)
    assert cfg.max_words == 100 and cfg.required_terms == ["refund"]
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert ConstraintsConfig.from_yaml(path) == cfg
    with pytest.raises(GraderConfigError, match="'constraints': config field '<yaml>'"):
        ConstraintsConfig.from_yaml("max_words: [1,")
    with pytest.raises(GraderConfigError, match="'max_words'"):
        ConstraintsConfig.from_yaml("max_words: lots")
    with pytest.raises(GraderConfigError, match="expected a mapping"):
        ConstraintsConfig.from_yaml("- a\n- b\n")


async def test_constraints_unscored_on_error_output() -> None:
    result = await get_grader("constraints")(sample(), Output(error="boom"), GraderContext(config={"max_words": 5}))
    assert isinstance(result, list) and len(result) == 1 and result[0].passed is None


async def test_overlap_graders_on_empty_output() -> None:
    for name in ("token_f1", "bleu", "rouge"):
        empty = await run(name, "", reference="the eiffel tower")
        assert empty.value == 0.0 and empty.passed is False


async def test_semantic_similarity_concurrent_calls() -> None:
    import asyncio

    from evalwheel.embed.minilm import unavailable_reason

    if (why := unavailable_reason()) is not None:
        pytest.skip(why)
    texts = ["Refunds take 30 days.", "It is raining.", "Refunds take 30 days."] * 4
    scores = await asyncio.gather(*(run("semantic_similarity", t, reference="Refunds take 30 days.") for t in texts))
    assert [s.passed for s in scores] == [True, False, True] * 4
