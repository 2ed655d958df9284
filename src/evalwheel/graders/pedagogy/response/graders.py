"""The eight MRBench dimensions as registered graders: `pedagogy.mistake_identification`, ...

A sample is one tutor reply in its conversation: `sample.input` is the conversation before the reply
(an MRBench `conversation_history` string, or a list of turns), `sample.reference` the ground-truth
solution when known, and `output.text` the reply being judged. Config: `tier` (best | rules | linear
| encoder | ensemble; default best = the tier the shipped calibration record chose by grouped-CV
macro-F1). The learned tiers are CPU-bound, so they run in a worker thread. Every Score carries the
agreement figure its tier was measured at in `metadata["agreement"]`.

Each grader also has a `batch` attribute, `batch(samples, outputs, ctx) -> list[Score]`: the same verdicts for
many replies in one `grade_many` call, so the embedder / ONNX encoder sees one padded batch instead of one
reply at a time. Batch graders (`evalwheel grade`) use it per chunk; a run calls the per-sample form.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from evalwheel.graders.pedagogy.response.context import ResponseContext, from_mrbench, from_turns
from evalwheel.graders.pedagogy.response.dimensions import DIMENSION_ORDER
from evalwheel.graders.pedagogy.response.tiers import grade_many, grader_name
from evalwheel.graders.registry import GraderContext, GraderFn, grader
from evalwheel.types import Output, Sample, Score, Session


def reply_context(sample: Sample) -> ResponseContext:
    """The conversation before the reply, from whichever shape `sample.input` has."""
    inp = sample.input
    if isinstance(inp, str):
        return from_mrbench(inp, sample.reference)
    turns = inp.trajectory if isinstance(inp, Session) else inp
    pairs = [("tutor" if t.role == "assistant" else "student", t.content) for t in turns if t.role != "system"]
    return from_turns(pairs, ground_truth=sample.reference)


def _make(dimension: str) -> GraderFn:
    async def grade(sample: Sample, output: Output, ctx: GraderContext) -> Score:
        if output.text is None:
            return Score(name=dimension, passed=None, reason="no reply text to judge (output.text is empty)")
        tier = str(ctx.config.get("tier", "best"))
        pair = (reply_context(sample), output.text)
        if tier == "rules":
            scores, _, _ = grade_many([dimension], [pair], tier)
        else:
            scores, _, _ = await asyncio.to_thread(grade_many, [dimension], [pair], tier)
        return scores[dimension][0]

    async def batch(samples: Sequence[Sample], outputs: Sequence[Output], ctx: GraderContext) -> list[Score]:
        """`grade` for many samples at once (rows without reply text get the same unscored Score)."""
        tier = str(ctx.config.get("tier", "best"))
        pairs = [(reply_context(s), o.text) for s, o in zip(samples, outputs, strict=True) if o.text is not None]
        graded: list[Score] = []
        if pairs:
            scores, _, _ = await asyncio.to_thread(grade_many, [dimension], pairs, tier)
            graded = scores[dimension]
        it = iter(graded)
        return [
            next(it) if o.text is not None
            else Score(name=dimension, passed=None, reason="no reply text to judge (output.text is empty)")
            for o in outputs
        ]

    grade.batch = batch  # type: ignore[attr-defined]
    grade.__name__ = grader_name(dimension).replace(".", "_")
    grade.__doc__ = f"MRBench {dimension}: one label per tutor reply (see graders.pedagogy.response)."
    return grade


RESPONSE_GRADERS: dict[str, GraderFn] = {
    grader_name(dim): grader(grader_name(dim))(_make(dim)) for dim in DIMENSION_ORDER
}
