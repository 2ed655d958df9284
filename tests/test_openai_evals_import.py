"""OpenAI Evals grader import: JSON round trips, string_check ops, text_similarity mapping, model graders as
rubric judges on the fake server, `multi` formulas (and rejection of unsafe ones), clear errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from evalwheel.graders import GraderContext
from evalwheel.graders.openai_evals import (
    SIMILARITY_MAP,
    EvalwheelSpec,
    OpenAIGraderError,
    check_formula,
    dump_openai_grader,
    import_openai_grader,
    parse_openai_grader,
    render_template,
    run_openai_grader,
    safe_eval,
)
from evalwheel.types import Output, Sample

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from scripted_judge import ScriptedJudge, judge  # noqa: E402

SAMPLE = Sample(
    id="s1", input="Capital of France?", reference="Paris", metadata={"answer": "Paris", "meta": {"lang": "fr"}}
)
OUTPUT = Output(text="The capital of France is Paris.")

STRING_CHECK = {
    "type": "string_check",
    "name": "has answer",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.answer }}",
    "operation": "like",
}
SIMILARITY = {
    "type": "text_similarity",
    "name": "overlap",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.reference }}",
    "evaluation_metric": "rouge_l",
    "pass_threshold": 0.1,
}
SCORE_MODEL = {  # the shape seed 000 uses
    "type": "score_model",
    "name": "Clarity of Explanation",
    "model": "gpt-4",
    "input": [
        {"role": "system", "content": "Did the tutor explain clearly? 0 = confusing, 2 = very clear"},
        {"role": "user", "content": "Answer:\n{{ sample.output_text }}\nQuestion: {{ item.input }}"},
    ],
    "range": [0, 2],
    "pass_threshold": 2,
    "sampling_params": {"temperature": 0.2, "seed": 5, "max_completions_tokens": 300},
}
LABEL_MODEL = {
    "type": "label_model",
    "name": "tone",
    "model": "gpt-4o-mini",
    "input": [{"role": "user", "content": "Classify the tone of {{ sample.output_text }}"}],
    "labels": ["rude", "neutral", "friendly"],
    "passing_labels": ["neutral", "friendly"],
}
MULTI = {
    "type": "multi",
    "name": "combined",
    "graders": {"a": STRING_CHECK, "b": SIMILARITY},
    "calculate_output": "0.5 * a + 0.5 * max(b, 0)",
}


async def run(config: dict[str, Any], output: Output = OUTPUT, ctx: GraderContext | None = None) -> Any:
    return await run_openai_grader(config, SAMPLE, output, ctx)


# ------------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("data", [STRING_CHECK, SIMILARITY, SCORE_MODEL, LABEL_MODEL, MULTI])
def test_round_trip(data: dict[str, Any]) -> None:
    text = json.dumps(data)
    parsed = parse_openai_grader(json.loads(text))
    assert dump_openai_grader(parsed) == json.loads(text)  # JSON -> model -> JSON
    spec = import_openai_grader(json.loads(text))
    assert spec.source == json.loads(text)  # spec -> original JSON, lossless
    again = EvalwheelSpec.model_validate_json(spec.model_dump_json())
    assert again == spec  # spec -> JSON -> spec
    assert json.loads(json.dumps(again.source)) == data


def test_templates() -> None:
    assert render_template("{{ item.answer }}/{{item.meta.lang}}/{{ sample.output_text }}", SAMPLE, OUTPUT) == (
        "Paris/fr/The capital of France is Paris."
    )
    assert render_template("{{ item.id }} {{ item.reference }}", SAMPLE, OUTPUT) == "s1 Paris"
    with pytest.raises(OpenAIGraderError, match="no 'missing'"):
        render_template("{{ item.missing }}", SAMPLE, OUTPUT)
    with pytest.raises(OpenAIGraderError, match=r"sample\.output_text"):
        render_template("{{ sample.output_json }}", SAMPLE, OUTPUT)


# ------------------------------------------------------------------------------------------- string_check


@pytest.mark.parametrize(
    ("operation", "output", "passed"),
    [
        ("eq", "Paris", True),
        ("eq", "paris", False),
        ("eq", " Paris", False),  # eq is exact: no stripping
        ("ne", "London", True),
        ("ne", "Paris", False),
        ("like", "It is Paris.", True),
        ("like", "It is paris.", False),
        ("ilike", "It is PARIS.", True),
        ("ilike", "It is Lyon.", False),
    ],
)
async def test_string_check_operations(operation: str, output: str, passed: bool) -> None:
    cfg = {**STRING_CHECK, "operation": operation}
    [score] = await run(cfg, Output(text=output))
    assert score.passed is passed and score.value == (1.0 if passed else 0.0)
    assert score.name == "has answer" and score.metadata["openai_type"] == "string_check"
    spec = import_openai_grader(cfg)
    assert spec.exact and spec.grader == ("exact" if operation in ("eq", "ne") else "contains")


async def test_string_check_input_template_can_grade_an_item_field() -> None:
    cfg = {**STRING_CHECK, "input": "{{ item.answer }}", "reference": "Paris", "operation": "eq"}
    [score] = await run(cfg, Output(text="something else"))
    assert score.passed is True


async def test_errored_output_is_unscored() -> None:
    [score] = await run(STRING_CHECK, Output(error="timeout"))
    assert score.passed is None and score.value is None and "error" in score.reason


# ------------------------------------------------------------------------------------------- text_similarity


@pytest.mark.parametrize("metric", sorted(SIMILARITY_MAP))
def test_text_similarity_metric_mapping(metric: str) -> None:
    spec = import_openai_grader({**SIMILARITY, "evaluation_metric": metric, "pass_threshold": 0.4})
    grader, extra, note = SIMILARITY_MAP[metric]
    assert spec.grader == grader and spec.config["threshold"] == 0.4
    assert all(spec.config[k] == v for k, v in extra.items())
    assert spec.exact is (note is None) and (spec.approximations == ([note] if note else []))


@pytest.mark.parametrize("metric", ["bleu", "rouge_1", "rouge_l", "fuzzy_match", "gleu", "meteor"])
async def test_text_similarity_runs(metric: str) -> None:
    cfg = {**SIMILARITY, "evaluation_metric": metric, "pass_threshold": 0.05}
    [good] = await run(cfg, Output(text="Paris"))
    [bad] = await run({**cfg, "pass_threshold": 0.9}, Output(text="completely unrelated words here"))
    assert good.passed is True and bad.passed is False
    assert good.metadata["approximations"] == import_openai_grader(cfg).approximations


# ------------------------------------------------------------------------------------------- model graders


def test_score_model_keeps_range_threshold_and_messages() -> None:
    spec = import_openai_grader(SCORE_MODEL)
    assert spec.grader == "openai.score_model" and spec.exact
    c = spec.config
    assert c["range"] == [0, 2] and c["pass_threshold"] == 2 and c["judge_model"] == "gpt-4"
    assert c["temperature"] == 0.2 and c["seed"] == 5 and c["max_tokens"] == 300
    assert c["messages"][1]["content"].startswith("Answer:\n{{ sample.output_text }}")


def test_score_model_without_threshold_is_flagged() -> None:
    data = {k: v for k, v in SCORE_MODEL.items() if k != "pass_threshold"}
    spec = import_openai_grader({**data, "range": [1, 5]})
    assert spec.config["pass_threshold"] == 3 and not spec.exact
    assert "middle of the range" in spec.approximations[0]


async def test_score_model_runs_on_fake_judge() -> None:
    async with ScriptedJudge([json.dumps({"reason": "Very clear.", "score": 2})]) as srv:
        [score] = await run(SCORE_MODEL, ctx=GraderContext(config={"judge_model": judge(srv)}))
        body = srv.bodies[0]
    assert score.passed is True and score.value == 2.0 and score.metadata["openai_value"] == 2.0
    assert score.name == "Clarity of Explanation"
    # the judge sees the grader's own messages, rendered, after one system message with the reply format
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "system", "user"]
    assert "a number from 0 to 2" in body["messages"][0]["content"]
    assert body["messages"][2]["content"] == "Answer:\nThe capital of France is Paris.\nQuestion: Capital of France?"
    assert body["temperature"] == 0.2 and body["seed"] == 5


async def test_score_model_continuous_range_is_native() -> None:
    cfg = {**SCORE_MODEL, "range": [0, 1], "pass_threshold": 0.5}
    async with ScriptedJudge(
        [json.dumps({"reason": "ok", "score": 0.3}), json.dumps({"reason": "ok", "score": 0.5})]
    ) as srv:
        ctx = GraderContext(config={"judge_model": judge(srv)})
        [low] = await run(cfg, ctx=ctx)
        [at] = await run(cfg, ctx=ctx)
        schema = srv.bodies[0]["response_format"]["json_schema"]["schema"]
    assert low.passed is False and low.metadata["openai_value"] == pytest.approx(0.3)
    assert at.passed is True  # hosted semantics: pass when score >= pass_threshold
    assert schema["properties"]["score"]["minimum"] == 0 and schema["properties"]["score"]["maximum"] == 1


async def test_score_out_of_range_is_repaired_then_unscored() -> None:
    async with ScriptedJudge([json.dumps({"reason": "x", "score": 7})] * 2) as srv:
        [score] = await run(SCORE_MODEL, ctx=GraderContext(config={"judge_model": judge(srv), "max_repairs": 1}))
    assert score.passed is None and score.value is None and len(srv.bodies) == 2


async def test_label_model_runs_on_fake_judge() -> None:
    spec = import_openai_grader(LABEL_MODEL)
    assert spec.config["labels"] == ["rude", "neutral", "friendly"] and spec.exact
    assert spec.config["passing_labels"] == ["neutral", "friendly"]
    async with ScriptedJudge(
        [json.dumps({"reason": "polite", "label": "neutral"}), json.dumps({"reason": "x", "label": "rude"})]
    ) as srv:
        ctx = GraderContext(config={"judge_model": judge(srv)})
        [ok] = await run(LABEL_MODEL, ctx=ctx)
        [bad] = await run(LABEL_MODEL, ctx=ctx)
        schema = srv.bodies[0]["response_format"]["json_schema"]["schema"]
    assert ok.passed is True and ok.metadata["label"] == "neutral" and ok.value == 1.0
    assert bad.passed is False and bad.metadata["label"] == "rude" and bad.value == 0.0
    assert schema["properties"]["label"]["enum"] == ["rude", "neutral", "friendly"]


def test_arrays_and_objects_render_as_json() -> None:
    sample = Sample(id="t", input="x", metadata={"turns": [{"role": "user", "content": "it's"}], "n": 3, "ok": True})
    text = render_template("{{ item.turns }}|{{ item.n }}|{{ item.ok }}|{{ item.turns.0.role }}", sample, OUTPUT)
    assert text == '[{"role": "user", "content": "it\'s"}]|3|true|user'


async def test_model_grader_garbage_is_unscored() -> None:
    async with ScriptedJudge(["not json at all"] * 3) as srv:
        ctx = GraderContext(config={"judge_model": judge(srv), "max_repairs": 1})
        [score] = await run(SCORE_MODEL, ctx=ctx)
    assert score.passed is None and score.value is None and score.metadata["openai_value"] is None
    assert "invalid judge output after repair" in score.reason and len(srv.bodies) == 2


# ------------------------------------------------------------------------------------------- multi


async def test_multi_combines_sub_graders() -> None:
    scores = await run({**MULTI, "pass_threshold": 0.5})
    assert [s.name for s in scores] == ["has answer", "overlap", "combined"]
    combined = scores[-1]
    a, b = scores[0].value, scores[1].value
    assert a is not None and b is not None
    assert combined.value == pytest.approx(0.5 * a + 0.5 * b) and combined.passed is True
    assert combined.metadata["values"] == {"a": a, "b": b}


async def test_multi_without_threshold_reports_value_only() -> None:
    scores = await run(MULTI)
    assert scores[-1].value is not None and scores[-1].passed is None
    assert "no pass_threshold" in scores[-1].metadata["note"]


async def test_multi_with_unscored_child_is_unscored() -> None:
    scores = await run(MULTI, Output(error="boom"))
    assert scores[-1].passed is None and scores[-1].value is None and "unscored" in scores[-1].reason


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("a + b", 3.0),
        ("(a * 2 - b) / 4", 0.0),
        ("-a + abs(-b)", 1.0),
        ("min(a, b) + max(a, b, 10)", 11.0),
        ("sqrt(b * 2) + floor(1.7) + ceil(0.2)", 4.0),
        ("a ** 2 % 3", 1.0),
        ("round(b / 3)", 1.0),
    ],
)
def test_safe_eval(formula: str, expected: float) -> None:
    assert safe_eval(formula, {"a": 1.0, "b": 2.0}) == pytest.approx(expected)


@pytest.mark.parametrize(
    "formula",
    [
        "__import__('os').system('true')",
        "a.__class__",
        "open('x')",
        "[a for a in (1,)]",
        "lambda: 1",
        "a if b else 0",
        "a < b",
        "'text'",
        "True + a",
        "max(a, key=b)",
        "c + a",
        "a; b",
        "x := 1",
    ],
)
def test_unsafe_formulas_are_rejected(formula: str) -> None:
    with pytest.raises(OpenAIGraderError):
        check_formula(formula, {"a", "b"})
    with pytest.raises(OpenAIGraderError):
        import_openai_grader({**MULTI, "calculate_output": formula})


@pytest.mark.parametrize("formula", ["a / (b - 2)", "9 ** 1000", "exp(1000)", "log(0)", "sqrt(-1)"])
def test_runtime_arithmetic_errors_are_clear(formula: str) -> None:
    with pytest.raises(OpenAIGraderError, match="calculate_output"):
        safe_eval(formula, {"a": 1.0, "b": 2.0})


def test_overlong_formula_is_rejected() -> None:
    with pytest.raises(OpenAIGraderError, match="longer"):
        check_formula("+".join(["a"] * 600), {"a"})


# ------------------------------------------------------------------------------------------- errors


def test_unknown_type() -> None:
    with pytest.raises(OpenAIGraderError, match="unknown OpenAI grader type 'python'"):
        parse_openai_grader({"type": "python", "source": "def grade(): ..."})
    with pytest.raises(OpenAIGraderError, match="unknown OpenAI grader type None"):
        parse_openai_grader({"name": "x"})
    with pytest.raises(OpenAIGraderError, match="JSON object"):
        parse_openai_grader([STRING_CHECK])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({**STRING_CHECK, "operaton": "eq"}, "'operaton': unknown field"),
        ({**STRING_CHECK, "operation": "regex"}, "'operation'"),
        ({**SIMILARITY, "evaluation_metric": "rouge_9"}, "'evaluation_metric'"),
        ({**SCORE_MODEL, "range": [2, 1]}, "low < high"),
        ({**SCORE_MODEL, "pass_threshold": 7}, "outside range"),
        ({**SCORE_MODEL, "sampling_params": {"temprature": 1}}, "sampling_params.temprature"),
        ({**LABEL_MODEL, "passing_labels": ["great"]}, "not among labels"),
        ({**MULTI, "graders": {"a": {"type": "nope"}}}, "graders.a"),
        ({**MULTI, "graders": {"not valid": STRING_CHECK}}, "identifier"),
    ],
)
def test_bad_fields_are_named(data: dict[str, Any], match: str) -> None:
    with pytest.raises(OpenAIGraderError, match=match):
        parse_openai_grader(data)
