"""`evalwheel run --dry-run`: what a run would cost and how long it would take, before anything is called.

Token counts are estimated at ~4 characters per token (the usual English average for BPE tokenizers; the
exact tokenizer of a remote model is not available offline). Completion length comes from the previous runs
of the same spec in the store when there are any (their recorded usage), otherwise `max_tokens` (an upper
bound, said so in the notes). Prompt-solver calls already in the response cache are counted as free and
instant: that is what makes a re-run of an unchanged spec cheap. Judge calls are estimated at one call per
LLM grader per sample (faithfulness and panels make more; noted).
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.models.base import GenerateConfig, Message
from evalwheel.models.cache import ModelCache, cache_key
from evalwheel.models.pricing import Price, price_for
from evalwheel.runs.dataset_source import PreparedDataset
from evalwheel.runs.spec import EvalSpec
from evalwheel.solvers.prompt import context_text, input_text, render
from evalwheel.studymode.prompting import build_system_message, parse_arm
from evalwheel.studymode.replay import is_reply_point, session_memory, truncate
from evalwheel.types import Sample, Session

CHARS_PER_TOKEN = 4.0
# Measured decode / prompt-processing speeds on 2 CPU cores (measured when the embedded models were chosen).
LOCAL_SPEED = {"local": (15.5, 67.0), "local-small": (22.8, 146.0)}
REMOTE_SPEED = (60.0, 2000.0)  # a typical hosted model, per stream
JUDGE_KEYS = ("judge_model", "judge_models")


class RunEstimate(EvalwheelModel):
    spec: str
    arm: str | None = None
    model: str | None = None
    units: int = Field(description="(sample, epoch) pairs")
    model_calls: int = 0
    cached_calls: int = 0
    judge_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = Field(default=None, description="None when a model's price is unknown")
    seconds: float = 0.0
    notes: list[str] = Field(default_factory=list)


def tokens(text: str) -> int:
    return max(1, round(len(text) / CHARS_PER_TOKEN))


def _speed(model: str) -> tuple[float, float]:
    return LOCAL_SPEED.get(model, REMOTE_SPEED)


def _replay_calls(session: Session, arm: str, max_turns: int | None) -> list[int]:
    """Prompt tokens of each model call of a replay (history grows turn by turn)."""
    a = parse_arm(arm)
    if not a.uses_model:
        return []
    turns = truncate(session.trajectory, max_turns)
    system = build_system_message(a, session.learner, session_memory(session)) or ""
    history = tokens(system)
    calls: list[int] = []
    for i, t in enumerate(turns):
        history += tokens(t.content)
        if is_reply_point(turns, i):
            calls.append(history)
    return calls


def _prompt_messages(spec: EvalSpec, sample: Sample) -> list[Message]:
    s = spec.solver
    messages = [Message(role="system", content=s.system)] if s.system else []
    messages.append(Message(role="user", content=render(s.template or "", sample)))
    return messages


def _units(dataset: PreparedDataset, epochs: int, limit: int | None) -> Iterator[tuple[Sample, int]]:
    """The (sample, epoch) units a run would execute, in the engine's order and cut at `--limit` like it."""
    n = 0
    for sample, _ in dataset.iter_samples():
        for epoch in range(epochs):
            if limit is not None and n >= limit:
                return
            n += 1
            yield sample, epoch


def estimate_run(
    spec: EvalSpec,
    dataset: PreparedDataset,
    arm: str | None,
    *,
    cache: bool = True,
    judges: bool = True,
    limit: int | None = None,
) -> RunEstimate:
    s = spec.solver
    uses_model = s.type in ("prompt", "python") or (s.type == "replay" and arm not in (None, "human"))
    model = s.model if uses_model else None
    units = dataset.count * spec.epochs
    est = RunEstimate(spec=spec.name, arm=arm, model=model, units=units if limit is None else min(units, limit))
    cache_db = ModelCache() if (cache and model) else None
    judges_used = [g for g in spec.graders if any(k in spec.grader_config(g) for k in JUDGE_KEYS)] if judges else []
    judge_names = [str(spec.grader_config(g).get("judge_model", "panel")) for g in judges_used]
    completion_per_call = s.max_tokens
    judge_prompt = 0
    for sample, epoch in _units(dataset, spec.epochs, limit):
        if s.type == "prompt":
            messages = _prompt_messages(spec, sample)
            config = GenerateConfig(temperature=s.temperature, max_tokens=s.max_tokens, seed=s.seed, epoch=epoch)
            if cache_db is not None and model and cache_db.get(cache_key(model, messages, config, None)) is not None:
                est.cached_calls += 1
                continue
            est.model_calls += 1
            est.prompt_tokens += sum(tokens(m.content) for m in messages)
        elif s.type == "python" and model:
            est.model_calls += 1
            est.prompt_tokens += tokens(input_text(sample)) + tokens(context_text(sample)) + 200
        elif s.type == "replay" and arm is not None and isinstance(sample.input, Session):
            calls = _replay_calls(sample.input, arm, s.max_turns)
            est.model_calls += len(calls)
            est.prompt_tokens += sum(calls)
        judged = tokens(input_text(sample)) + tokens(context_text(sample)) + s.max_tokens // 2 + 300
        judge_prompt += judged * len(judges_used)
    if cache_db is not None:
        cache_db.close()
    est.completion_tokens = est.model_calls * completion_per_call
    est.judge_calls = est.units * len(judges_used)
    est.notes.append(
        f"completion tokens assume max_tokens={s.max_tokens} per call (an upper bound); "
        f"tokens ~ chars/{CHARS_PER_TOKEN:g}"
    )
    cost = 0.0
    known = True
    seconds = 0.0
    if model and est.model_calls:
        price = price_for(model)
        known = price is not None or model.startswith("local")
        cost += _cost(price, est.prompt_tokens, est.completion_tokens)
        decode, prefill = _speed(model)
        parallel = 1 if model.startswith("local") else spec.concurrency
        seconds += (est.completion_tokens / decode + est.prompt_tokens / prefill) / parallel
    for name in set(judge_names):
        share = judge_names.count(name) / max(len(judge_names), 1)
        price = price_for(name)
        known = known and (price is not None or name.startswith("local"))
        jp, jc = round(judge_prompt * share), round(est.judge_calls * share * 200)
        cost += _cost(price, jp, jc)
        decode, prefill = _speed(name)
        seconds += (jc / decode + jp / prefill) / (1 if name.startswith("local") else spec.concurrency)
    if judges_used:
        est.notes.append(
            f"{len(judges_used)} LLM grader(s): ~1 call per sample each, ~200 output tokens "
            "(faithfulness makes one per claim)"
        )
    if est.cached_calls:
        est.notes.append(f"{est.cached_calls} call(s) already in the response cache: free and near-instant")
    if s.type == "recorded":
        est.notes.append("recorded outputs: no target-model calls")
    est.cost_usd = round(cost, 6) if known else None
    if not known:
        est.notes.append("a model's price is not in the price table (src/evalwheel/models/prices.json): cost unknown")
    est.seconds = round(seconds, 1)
    return est


def _cost(price: Price | None, prompt: int, completion: int) -> float:
    if price is None:
        return 0.0
    return (prompt * price.input_per_mtok + completion * price.output_per_mtok) / 1e6
