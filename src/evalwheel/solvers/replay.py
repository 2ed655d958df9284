"""The Study Mode replay solver: regenerate a recorded session's tutor turns under an arm.

`human` returns the recorded tutor turns untouched; `base` and `overlay:vN` let the target model answer every
learner turn, seeing the regenerated conversation so far (never the recorded tutor), exactly as
`evalwheel replay` does.
"""

from __future__ import annotations

from evalwheel.solvers.base import SolverContext
from evalwheel.solvers.prompt import generate_config
from evalwheel.studymode.guard import GuardConfig
from evalwheel.studymode.prompting import build_system_message, parse_arm
from evalwheel.studymode.replay import regenerate, session_memory, truncate
from evalwheel.types import Output, Sample, Session, Usage


async def replay_solver(sample: Sample, ctx: SolverContext) -> Output:
    session = sample.input
    if not isinstance(session, Session):
        raise TypeError(f"sample {sample.id!r}: the replay solver needs a Study Mode session as input")
    arm = parse_arm(ctx.config["arm"])
    original = truncate(session.trajectory, ctx.config.get("max_turns"))
    if not arm.uses_model:
        return Output(trajectory=[t.model_copy(deep=True) for t in original])
    if ctx.model is None:
        raise ValueError(f"arm {arm.name} needs a target model (solver.model)")
    instructions = build_system_message(arm, session.learner, session_memory(session))
    guard = GuardConfig() if arm.guard else None
    turns, stats = await regenerate(
        original,
        ctx.model,
        instructions,
        generate_config(ctx, ctx.config.get("epoch", 0)),
        guard=guard,
        solution=session.metadata.get("solution"),
    )
    return Output(
        trajectory=turns,
        usage=Usage(prompt_tokens=stats.prompt_tokens, completion_tokens=stats.completion_tokens),
        latency_ms=round(stats.model_latency_ms, 3),
        cached=stats.calls > 0 and stats.cached_calls == stats.calls,
    )
