"""Import OpenAI Evals grader configs (`string_check`, `text_similarity`, `score_model`, `label_model`, `multi`).

The hosted Evals API closes on 2026-11-30; this module lets its users bring their grader JSON over unchanged.

- `parse_openai_grader(data)` validates the JSON into pydantic models (unknown types and unknown fields are
  errors that name the offending key).
- `convert(grader)` turns it into an `EvalwheelSpec`: the evalwheel grader name, its config, the template of
  the text to grade, and a list of `approximations` where the Evals metric has no exact evalwheel equivalent.
  The spec keeps the original JSON in `source`, so spec -> OpenAI JSON is lossless.
- `render_template(text, sample, output)` fills `{{ item.x }}` (sample metadata, plus `id`, `input`,
  `reference`) and `{{ sample.output_text }}` (the output's text).
- `run_openai_grader(config, sample, output, ctx)` runs a grader config and returns its Scores (for `multi`,
  one Score per sub-grader followed by the combined one). `ctx.config['judge_model']` overrides the model
  named in `score_model` / `label_model` configs (a Model object or a registry name).
- `multi`'s `calculate_output` is evaluated by `safe_eval`, an `ast` walker with a whitelist (numbers,
  sub-grader names, + - * / // % **, unary +/-, and min/max/abs/floor/ceil/sqrt/log/exp/round); never `eval()`.

The mapping table, with what is exact and what is approximate, is in docs/openai-evals-import.md.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from evalwheel.basemodel import EvalwheelModel
from evalwheel.graders.model.judge import JudgeFailure, generate_config, judge_models, render_input, structured_call
from evalwheel.graders.registry import GraderContext, get_grader, grader
from evalwheel.models.base import Message
from evalwheel.types import Output, Sample, Score

# ------------------------------------------------------------------------------------------- the JSON shapes


class OpenAIGraderError(ValueError):
    """An OpenAI Evals grader config that cannot be imported or run; the message names the field."""


class _Strict(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")


_TEXT_PARTS = ("input_text", "output_text")


def content_text(content: Any) -> Any:
    """A message content as text. The Evals API returned contents as parts, `{"type": "input_text", "text":
    ...}` (or `output_text`, or a list of parts): their text, joined by newlines. Image and audio parts are a
    ValueError naming the part; anything else is returned as it is, for the caller's own check to refuse."""
    parts = content if isinstance(content, list) else [content] if isinstance(content, Mapping) else None
    if parts is None:
        return content
    texts: list[str] = []
    for part in parts:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if isinstance(part, str):
            texts.append(part)
        elif kind in _TEXT_PARTS and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind in ("input_image", "input_audio"):
            raise ValueError(f"{kind} content parts are not supported (text only)")
        else:
            raise ValueError(f"content part {kind!r}: expected text, or an input_text / output_text part with a text")
    return "\n".join(texts)


class InputMessage(_Strict):
    role: Literal["system", "user", "assistant", "developer"]
    content: str
    type: Literal["message"] | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return content_text(value)


class SamplingParams(_Strict):
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    max_completions_tokens: int | None = Field(default=None, ge=1)
    reasoning_effort: str | None = None


class StringCheckGrader(_Strict):
    type: Literal["string_check"]
    name: str = "string_check"
    input: str
    reference: str
    operation: Literal["eq", "ne", "like", "ilike"]


SimilarityMetric = Literal[
    "fuzzy_match", "bleu", "gleu", "meteor", "cosine",
    "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
]  # fmt: skip


class TextSimilarityGrader(_Strict):
    type: Literal["text_similarity"]
    name: str = "text_similarity"
    input: str
    reference: str
    evaluation_metric: SimilarityMetric
    pass_threshold: float = Field(ge=-1.0, le=1.0)


class ScoreModelGrader(_Strict):
    type: Literal["score_model"]
    name: str = "score_model"
    model: str
    input: list[InputMessage] = Field(min_length=1)
    range: tuple[float, float] = (0.0, 1.0)
    pass_threshold: float | None = None
    sampling_params: SamplingParams | None = None

    @model_validator(mode="after")
    def _check(self) -> ScoreModelGrader:
        lo, hi = self.range
        if not lo < hi:
            raise ValueError(f"range must be [low, high] with low < high, got {list(self.range)}")
        if self.pass_threshold is not None and not lo <= self.pass_threshold <= hi:
            raise ValueError(f"pass_threshold {self.pass_threshold} is outside range {list(self.range)}")
        return self


class LabelModelGrader(_Strict):
    type: Literal["label_model"]
    name: str = "label_model"
    model: str
    input: list[InputMessage] = Field(min_length=1)
    labels: list[str] = Field(min_length=2)
    passing_labels: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> LabelModelGrader:
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be distinct")
        unknown = sorted(set(self.passing_labels) - set(self.labels))
        if unknown:
            raise ValueError(f"passing_labels not among labels: {unknown}")
        return self


SubGrader = Annotated[
    StringCheckGrader | TextSimilarityGrader | ScoreModelGrader | LabelModelGrader, Field(discriminator="type")
]


class MultiGrader(_Strict):
    type: Literal["multi"]
    name: str = "multi"
    graders: dict[str, SubGrader] = Field(min_length=1)
    calculate_output: str
    pass_threshold: float | None = None  # evalwheel extension: Evals' multi has no pass/fail of its own

    @model_validator(mode="after")
    def _check(self) -> MultiGrader:
        for key in self.graders:
            if not key.isidentifier():
                raise ValueError(f"sub-grader name {key!r} must be an identifier to be used in calculate_output")
        check_formula(self.calculate_output, set(self.graders))
        return self


OpenAIGrader = Annotated[
    StringCheckGrader | TextSimilarityGrader | ScoreModelGrader | LabelModelGrader | MultiGrader,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[OpenAIGrader] = TypeAdapter(OpenAIGrader)
KNOWN_TYPES = ("string_check", "text_similarity", "score_model", "label_model", "multi")


def parse_openai_grader(data: Mapping[str, Any]) -> OpenAIGrader:
    """Validate one OpenAI Evals grader config; OpenAIGraderError names the unknown type or bad field."""
    if not isinstance(data, Mapping):
        raise OpenAIGraderError(f"a grader config must be a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    if kind not in KNOWN_TYPES:
        raise OpenAIGraderError(f"unknown OpenAI grader type {kind!r} (supported: {', '.join(KNOWN_TYPES)})")
    # An export written with every optional field (`"range": null`, the Python SDK's model_dump): null is "not
    # given", as the API read it; `range: null` was refused.
    given = {k: v for k, v in data.items() if v is not None}
    try:
        return _ADAPTER.validate_python(given)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"] if p not in KNOWN_TYPES) or "<root>"
        msg = "unknown field" if err["type"] == "extra_forbidden" else str(err["msg"])
        raise OpenAIGraderError(f"{kind} grader: field {loc!r}: {msg}") from None


def dump_openai_grader(grader: OpenAIGrader) -> dict[str, Any]:
    """The grader back as OpenAI JSON (fields that were not given are left out)."""
    dumped: dict[str, Any] = grader.model_dump(mode="json", exclude_unset=True)
    return dumped


# ------------------------------------------------------------------------------------------- templates

_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


def _item(sample: Sample) -> dict[str, Any]:
    return {"id": sample.id, "input": render_input(sample), "reference": sample.reference, **sample.metadata}


def lookup(path: str, sample: Sample, output: Output) -> str:
    """The value of one template path: `item.<field>[.<sub>...]` or `sample.output_text`."""
    head, _, rest = path.partition(".")
    if head == "sample":
        if rest == "output_text":
            return output.text or ""
        raise OpenAIGraderError(f"template {{{{ {path} }}}}: only sample.output_text is supported")
    if head != "item" or not rest:
        raise OpenAIGraderError(f"template {{{{ {path} }}}}: must start with item. or be sample.output_text")
    value: Any = _item(sample)
    for part in rest.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise OpenAIGraderError(f"template {{{{ {path} }}}}: sample {sample.id!r} has no {part!r}")
    return template_value(value)


def template_value(value: Any) -> str:
    """How a value appears in a rendered template: strings as they are, everything else as JSON.

    Arrays and objects (a trajectory of turns, a dict of fields) become JSON, never Python reprs with single
    quotes, so a judge reads what the hosted grader would have shown it; `null` renders as an empty string.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", exclude_defaults=True)
    return json.dumps(value, ensure_ascii=False)


def render_template(text: str, sample: Sample, output: Output, wrap: Callable[[str, str], str] | None = None) -> str:
    """Fill every `{{ path }}`; `wrap(path, value)` may delimit/escape values (used for judge prompts)."""

    def sub(m: re.Match[str]) -> str:
        value = lookup(m.group(1), sample, output)
        return wrap(m.group(1), value) if wrap else value

    return _TEMPLATE.sub(sub, text)


# ------------------------------------------------------------------------------------------- safe arithmetic

_BINOPS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCS: dict[str, Callable[..., float]] = {
    "min": min, "max": max, "abs": abs, "floor": math.floor, "ceil": math.ceil,
    "sqrt": math.sqrt, "log": math.log, "exp": math.exp, "round": round,
}  # fmt: skip
MAX_FORMULA_CHARS = 1000
MAX_EXPONENT = 100


def _walk(node: ast.AST, names: Mapping[str, float] | set[str], evaluate: bool) -> float:
    if isinstance(node, ast.Expression):
        return _walk(node.body, names, evaluate)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise OpenAIGraderError(f"calculate_output: unknown name {node.id!r} (sub-graders: {sorted(names)})")
        return float(names[node.id]) if evaluate and isinstance(names, Mapping) else 0.0
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _walk(node.left, names, evaluate), _walk(node.right, names, evaluate)
        if isinstance(node.op, ast.Pow) and evaluate and abs(right) > MAX_EXPONENT:
            raise OpenAIGraderError(f"calculate_output: exponent {right} is larger than {MAX_EXPONENT}")
        return _BINOPS[type(node.op)](left, right) if evaluate else 0.0
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_walk(node.operand, names, evaluate))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS:
        if node.keywords or not node.args:
            raise OpenAIGraderError(f"calculate_output: {node.func.id}() takes positional arguments only")
        args = [_walk(a, names, evaluate) for a in node.args]
        return float(_FUNCS[node.func.id](*args)) if evaluate else 0.0
    raise OpenAIGraderError(f"calculate_output: {type(node).__name__} is not allowed ({ast.unparse(node)!r})")


def _parse_formula(formula: str) -> ast.Expression:
    if len(formula) > MAX_FORMULA_CHARS:
        raise OpenAIGraderError(f"calculate_output is longer than {MAX_FORMULA_CHARS} characters")
    try:
        return ast.parse(formula, mode="eval")
    except SyntaxError as exc:
        raise OpenAIGraderError(f"calculate_output: syntax error: {exc.msg}") from None


def check_formula(formula: str, names: set[str]) -> None:
    """Reject any formula outside the whitelist, without evaluating it."""
    _walk(_parse_formula(formula), names, evaluate=False)


def safe_eval(formula: str, values: Mapping[str, float]) -> float:
    """Evaluate a whitelisted arithmetic formula over named values (never eval())."""
    try:
        result = _walk(_parse_formula(formula), values, evaluate=True)
    except (ZeroDivisionError, ValueError, OverflowError) as exc:
        if isinstance(exc, OpenAIGraderError):
            raise
        raise OpenAIGraderError(f"calculate_output {formula!r}: {exc}") from None
    if not math.isfinite(result):
        raise OpenAIGraderError(f"calculate_output {formula!r} is not finite ({result})")
    return result


# ------------------------------------------------------------------------------------------- conversion


class EvalwheelSpec(EvalwheelModel):
    """An imported grader: which evalwheel grader runs it, with which config, and what is approximate."""

    model_config = ConfigDict(extra="forbid")

    name: str
    openai_type: str
    grader: str  # evalwheel grader name, or "openai.multi" for a combination
    config: dict[str, Any] = Field(default_factory=dict)
    input: str | None = None  # template of the text to grade (None: the rubric judge reads sample/output)
    exact: bool = True
    approximations: list[str] = Field(default_factory=list)
    children: dict[str, EvalwheelSpec] = Field(default_factory=dict)
    formula: str | None = None
    source: dict[str, Any] = Field(default_factory=dict)  # the original OpenAI JSON


_STRING_OPS: dict[str, tuple[str, dict[str, Any]]] = {
    "eq": ("exact", {"case_sensitive": True, "strip": False}),
    "ne": ("exact", {"case_sensitive": True, "strip": False, "negate": True}),
    "like": ("contains", {"case_sensitive": True}),
    "ilike": ("contains", {"case_sensitive": False}),
}

# metric -> (evalwheel grader, extra config, approximation note or None when exact)
SIMILARITY_MAP: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "bleu": ("bleu", {}, None),
    "rouge_1": ("rouge", {"variant": "rouge1"}, None),
    "rouge_2": ("rouge", {"variant": "rouge2"}, None),
    "rouge_l": ("rouge", {"variant": "rougeL"}, None),
    "rouge_3": ("rouge", {"variant": "rouge2"}, "rouge_3 approximated by ROUGE-2 F-measure"),
    "rouge_4": ("rouge", {"variant": "rouge2"}, "rouge_4 approximated by ROUGE-2 F-measure"),
    "rouge_5": ("rouge", {"variant": "rouge2"}, "rouge_5 approximated by ROUGE-2 F-measure"),
    "gleu": ("bleu", {}, "gleu approximated by smoothed sentence BLEU (sacrebleu)"),
    "meteor": ("rouge", {"variant": "rouge1"}, "meteor approximated by ROUGE-1 F-measure with stemming"),
    "fuzzy_match": ("token_f1", {}, "fuzzy_match (character edit ratio) approximated by SQuAD token F1"),
    "cosine": (
        "semantic_similarity",
        {},
        "cosine uses the offline MiniLM embedding, not OpenAI embeddings: recalibrate pass_threshold",
    ),
}


def _messages(messages: list[InputMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _sampling(params: SamplingParams | None, notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if params is None:
        return out
    if params.temperature is not None:
        out["temperature"] = params.temperature
    if params.seed is not None:
        out["seed"] = params.seed
    if params.max_completions_tokens is not None:
        out["max_tokens"] = params.max_completions_tokens
    if params.top_p is not None:
        notes.append("sampling_params.top_p is not passed to the judge (evalwheel judges set temperature only)")
    if params.reasoning_effort is not None:
        notes.append("sampling_params.reasoning_effort is ignored")
    return out


def convert(grader: OpenAIGrader) -> EvalwheelSpec:
    """Map a parsed OpenAI Evals grader onto evalwheel's graders."""
    source = dump_openai_grader(grader)
    notes: list[str] = []
    if isinstance(grader, StringCheckGrader):
        name, extra = _STRING_OPS[grader.operation]
        config = {"name": grader.name, "reference" if name == "exact" else "value": grader.reference, **extra}
        return EvalwheelSpec(
            name=grader.name, openai_type=grader.type, grader=name, config=config, input=grader.input, source=source
        )
    if isinstance(grader, TextSimilarityGrader):
        name, extra, note = SIMILARITY_MAP[grader.evaluation_metric]
        if note:
            notes.append(note)
        threshold = grader.pass_threshold
        if name != "semantic_similarity" and threshold < 0:
            notes.append(f"pass_threshold {threshold} < 0 clipped to 0 for {name}")
            threshold = 0.0
        config = {"name": grader.name, "reference": grader.reference, "threshold": threshold, **extra}
        return EvalwheelSpec(
            name=grader.name, openai_type=grader.type, grader=name, config=config, input=grader.input,
            exact=not notes, approximations=notes, source=source,
        )  # fmt: skip
    if isinstance(grader, ScoreModelGrader):
        lo, hi = grader.range
        judge: dict[str, Any] = {
            "name": grader.name, "judge_model": grader.model, "messages": _messages(grader.input),
            "range": [lo, hi],
        }  # fmt: skip
        if grader.pass_threshold is not None:
            judge["pass_threshold"] = grader.pass_threshold
        else:
            judge["pass_threshold"] = lo + (hi - lo) / 2
            notes.append("no pass_threshold: evalwheel passes at the middle of the range")
        judge.update(_sampling(grader.sampling_params, notes))
        return EvalwheelSpec(
            name=grader.name, openai_type=grader.type, grader="openai.score_model", config=judge,
            exact=not notes, approximations=notes, source=source,
        )  # fmt: skip
    if isinstance(grader, LabelModelGrader):
        labelled: dict[str, Any] = {
            "name": grader.name, "judge_model": grader.model, "messages": _messages(grader.input),
            "labels": list(grader.labels), "passing_labels": list(grader.passing_labels),
        }  # fmt: skip
        return EvalwheelSpec(
            name=grader.name, openai_type=grader.type, grader="openai.label_model", config=labelled,
            source=source,
        )  # fmt: skip
    children = {key: convert(sub) for key, sub in grader.graders.items()}
    for key, child in children.items():
        notes.extend(f"{key}: {n}" for n in child.approximations)
    multi: dict[str, Any] = {} if grader.pass_threshold is None else {"pass_threshold": grader.pass_threshold}
    return EvalwheelSpec(
        name=grader.name, openai_type=grader.type, grader="openai.multi", config=multi, children=children,
        formula=grader.calculate_output, exact=not notes, approximations=notes, source=source,
    )  # fmt: skip


def import_openai_grader(data: Mapping[str, Any]) -> EvalwheelSpec:
    """JSON -> EvalwheelSpec in one step."""
    return convert(parse_openai_grader(data))


# ------------------------------------------------------------------------------------------- running


def _render_config(config: Mapping[str, Any], sample: Sample, output: Output) -> dict[str, Any]:
    return {k: render_template(v, sample, output) if isinstance(v, str) else v for k, v in config.items()}


def _tag(score: Score, spec: EvalwheelSpec, openai_value: float | None) -> Score:
    meta = {
        **score.metadata,
        "openai_type": spec.openai_type,
        "openai_value": openai_value,
        "exact": spec.exact,
        "approximations": spec.approximations,
    }
    return score.model_copy(update={"name": spec.name, "metadata": meta})


async def _run_spec(spec: EvalwheelSpec, sample: Sample, output: Output, ctx: GraderContext) -> list[Score]:
    if spec.grader == "openai.multi":
        return await _run_multi(spec, sample, output, ctx)
    if spec.grader in ("openai.score_model", "openai.label_model"):
        return [await _run_model_grader(spec, sample, output, ctx)]
    graded = output  # an errored output is passed through so the grader reports it as unscored
    if spec.input is not None and output.error is None:
        graded = Output(text=render_template(spec.input, sample, output))
    sub_ctx = GraderContext(config=_render_config(spec.config, sample, output))
    result = await get_grader(spec.grader)(sample, graded, sub_ctx)
    score = result if isinstance(result, Score) else result[0]
    return [_tag(score, spec, score.value)]


async def _run_multi(spec: EvalwheelSpec, sample: Sample, output: Output, ctx: GraderContext) -> list[Score]:
    assert spec.formula is not None
    subs: list[Score] = []
    values: dict[str, float] = {}
    missing: list[str] = []
    for key, child in spec.children.items():
        score = (await _run_spec(child, sample, output, ctx))[-1]
        subs.append(score)
        raw = score.metadata.get("openai_value")
        if raw is None:
            missing.append(key)
        else:
            values[key] = float(raw)
    meta: dict[str, Any] = {
        "openai_type": "multi", "formula": spec.formula, "values": values,
        "exact": spec.exact, "approximations": spec.approximations,
    }  # fmt: skip
    if missing:
        reason = f"unscored: sub-grader(s) {', '.join(missing)} unscored"
        return [*subs, Score(name=spec.name, value=None, passed=None, reason=reason, metadata=meta)]
    value = safe_eval(spec.formula, values)
    threshold = spec.config.get("pass_threshold")
    passed = None if threshold is None else value >= float(threshold)
    if threshold is None:
        meta["note"] = "multi has no pass_threshold: passed is left None (value only)"
    meta["openai_value"] = value
    reason = f"{spec.formula} = {value:g} with " + ", ".join(f"{k}={v:g}" for k, v in values.items())
    return [*subs, Score(name=spec.name, value=value, passed=passed, reason=reason, metadata=meta)]


FORMAT_RULES = (
    "You are grading according to the instructions that follow. Reply with a JSON object only: first "
    '"reason" (a short justification), then {verdict}.'
)


def judge_messages(spec: EvalwheelSpec, sample: Sample, output: Output) -> list[Message]:
    """The grader's own messages with templates filled in, after one system message stating the reply format.

    Nothing else is added: the judge sees what the hosted grader would have seen (no extra transcript or
    reference sections), so scores stay comparable with the ones recorded on the hosted service.
    """
    c = spec.config
    if spec.grader == "openai.score_model":
        lo, hi = c["range"]
        verdict = f'"score" (a number from {lo:g} to {hi:g})'
    else:
        verdict = '"label" (exactly one of: ' + ", ".join(json.dumps(x) for x in c["labels"]) + ")"
    msgs = [Message(role="system", content=FORMAT_RULES.format(verdict=verdict))]
    for m in c["messages"]:
        role = "system" if m["role"] == "developer" else m["role"]
        msgs.append(Message(role=role, content=render_template(m["content"], sample, output)))
    return msgs


def _verdict_schema(spec: EvalwheelSpec) -> type[BaseModel]:
    c = spec.config
    if spec.grader == "openai.score_model":
        lo, hi = (float(x) for x in c["range"])
        score_t = Annotated[float, Field(ge=lo, le=hi)]
        return create_model("OpenAIScoreVerdict", reason=(str, ...), score=(score_t, ...))
    label_t = cast(Any, Literal)[tuple(c["labels"])]
    return create_model("OpenAILabelVerdict", reason=(str, ...), label=(label_t, ...))


async def _run_model_grader(spec: EvalwheelSpec, sample: Sample, output: Output, ctx: GraderContext) -> Score:
    """score_model / label_model: one structured judge call on the rendered messages (repaired once)."""
    config: dict[str, Any] = dict(spec.config)
    config.update({k: ctx.config[k] for k in ("judge_model", "max_repairs") if k in ctx.config})
    if output.error is not None:
        return _tag(Score(name=spec.name, value=None, passed=None, reason=f"unscored: output error: {output.error}"),
                    spec, None)  # fmt: skip
    messages = judge_messages(spec, sample, output)
    [model] = judge_models({"judge_model": config["judge_model"]})
    verdict, failure = await structured_call(
        model, messages, _verdict_schema(spec), generate_config(config, 0), int(config.get("max_repairs", 1))
    )
    meta: dict[str, Any] = {"judge": getattr(model, "name", type(model).__name__)}
    if verdict is None:
        assert isinstance(failure, JudgeFailure)
        reason = f"unscored: {failure.cause} ({failure.attempts} attempts): {failure.detail}"
        return _tag(Score(name=spec.name, value=None, passed=None, reason=reason, metadata=meta), spec, None)
    data = verdict.model_dump()
    if spec.grader == "openai.score_model":
        value = float(data["score"])
        passed = value >= float(config["pass_threshold"])
        meta["pass_threshold"] = config["pass_threshold"]
    else:
        meta["label"] = data["label"]
        passed = data["label"] in config["passing_labels"]
        value = 1.0 if passed else 0.0
    score = Score(name=spec.name, value=value, passed=passed, reason=str(data["reason"]), metadata=meta)
    return _tag(score, spec, value)


async def run_openai_grader(
    config: Mapping[str, Any] | EvalwheelSpec, sample: Sample, output: Output, ctx: GraderContext | None = None
) -> list[Score]:
    """Run an OpenAI Evals grader config (JSON dict or converted spec) on one sample's output."""
    spec = config if isinstance(config, EvalwheelSpec) else import_openai_grader(config)
    return await _run_spec(spec, sample, output, ctx or GraderContext())


@grader("openai.grader")
async def openai_grader(sample: Sample, output: Output, ctx: GraderContext) -> list[Score]:
    """Any OpenAI Evals grader JSON (`config.grader`) as a registered grader, usable by name in a YAML spec.

    `judge_model` (default: the `model` the JSON names, resolved by the model registry) and `max_repairs`
    apply to score_model / label_model graders. For `multi`, the combined score comes last; gate on it with
    `gate_scores: [<its name>]`.
    """
    raw = ctx.config.get("grader")
    if not isinstance(raw, Mapping):
        raise OpenAIGraderError("openai.grader needs config.grader: an OpenAI Evals grader JSON object")
    return await run_openai_grader(raw, sample, output, ctx)
