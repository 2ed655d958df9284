"""`evalwheel replay --dry-run` / `--limit`: what a replay would do and cost, before any model call.

The same counting as `evalwheel run --dry-run` for replay specs (runs/estimate.py): one model call per reply
point of each replayed session under each model arm, prompt tokens growing with the history at ~4 characters
per token, completions bounded by `max_tokens` (an upper bound), time from the measured local speeds or a
typical hosted rate. The `human` arm costs nothing: its turns are the recorded ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.models.pricing import price_for
from evalwheel.runs.estimate import LOCAL_SPEED, REMOTE_SPEED, tokens
from evalwheel.studymode.prompting import Arm, build_system_message
from evalwheel.studymode.replay import is_reply_point, session_memory, truncate
from evalwheel.types import Session, Usage


class ReplayEstimate(EvalwheelModel):
    """The plan of one replay: sessions x arms, model calls, tokens, time and cost (None: unknown price)."""

    sessions: int
    arms: list[str]
    model: str | None
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cost_usd: float | None = 0.0
    notes: list[str] = Field(default_factory=list)


def _calls(session: Session, arm: Arm, max_turns: int | None) -> list[int]:
    turns = truncate(session.trajectory, max_turns)
    history = tokens(build_system_message(arm, session.learner, session_memory(session)) or "")
    calls = []
    for i, turn in enumerate(turns):
        history += tokens(turn.content)
        if is_reply_point(turns, i):
            calls.append(history)
    return calls


def estimate_replay(
    sessions: Sequence[Session], arms: Sequence[Arm], model: str | None, *, max_turns: int | None, max_tokens: int,
    concurrency: int,
) -> ReplayEstimate:  # fmt: skip
    """Count the replay's model calls and tokens; nothing is called."""
    est = ReplayEstimate(sessions=len(sessions), arms=[a.name for a in arms], model=model)
    for arm in arms:
        if not arm.uses_model:
            continue
        for s in sessions:
            prompts = _calls(s, arm, max_turns)
            est.model_calls += len(prompts)
            est.prompt_tokens += sum(prompts)
    est.completion_tokens = est.model_calls * max_tokens
    if est.model_calls and model is not None:
        decode, prefill = LOCAL_SPEED.get(model, REMOTE_SPEED)
        parallel = 1 if model.startswith("local") else max(concurrency, 1)
        est.seconds = (est.completion_tokens / decode + est.prompt_tokens / prefill) / parallel
        price = price_for(model)
        usage = Usage(prompt_tokens=est.prompt_tokens, completion_tokens=est.completion_tokens)
        est.cost_usd = None if price is None else price.cost(usage)
    est.notes.append("tokens at ~4 characters each; completions counted at --max-tokens (an upper bound)")
    if model is not None and model.startswith("local"):
        est.notes.append("the embedded model serves one request at a time per slot: time is not divided by concurrency")
    return est
