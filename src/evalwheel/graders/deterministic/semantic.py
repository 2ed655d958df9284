"""`semantic_similarity`: cosine similarity of MiniLM sentence embeddings, output vs reference(s).

Uses the offline all-MiniLM-L6-v2 embedder of `evalwheel.embed` (int8 ONNX; loads once, ~0.3 s).
Embeddings are L2-normalised, so the cosine is a dot product; with several references the best one
counts. `value` is the cosine in [-1, 1]; `passed` is `value >= threshold`.

Options: `reference` (str or list; default: the sample's reference), `threshold` (default
`DEFAULT_THRESHOLD` = 0.7).

Why 0.7: on this model, measured pairs (the offline-model evaluation behind this choice) put close paraphrases at
0.85-0.93 and unrelated sentences at -0.03-0.10, while a loose paraphrase scored 0.53. 0.7 therefore
passes close paraphrases and fails unrelated text, and treats loose rewordings as not equivalent. It is
a provisional default; `evalwheel calibrate` (issue #4, item 7) tunes it on labelled pairs.
Known limit (measured here against "You can get a refund within 30 days of purchase."): a close
paraphrase scores 0.91 and unrelated text -0.04, but the contradiction "We do not offer refunds." scores
0.54 and the loose paraphrase "Returns accepted within a month." 0.56. Cosine similarity measures topic
overlap, not agreement: it cannot tell a negation from a rewording, so do not use it alone for
correctness.
"""

from __future__ import annotations

import asyncio

from pydantic import Field, field_validator

from evalwheel.graders.deterministic._common import (
    BaseGraderConfig,
    parse_config,
    quote,
    score,
    text_and_references,
)
from evalwheel.graders.registry import GraderContext, grader
from evalwheel.types import Output, Sample, Score, clip

DEFAULT_THRESHOLD = 0.7


class SemanticSimilarityConfig(BaseGraderConfig):
    reference: str | list[str] | None = None
    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=-1.0, le=1.0)

    @field_validator("reference")
    @classmethod
    def _non_empty(cls, v: str | list[str] | None) -> str | list[str] | None:
        if isinstance(v, list) and not v:
            raise ValueError("must not be an empty list")
        return v


def cosine_similarities(text: str, refs: list[str]) -> list[float]:
    """Cosine of `text` with each reference (blocking: runs the ONNX model)."""
    from evalwheel.embed import default_embedder  # numpy + onnxruntime: only when this grader runs

    vectors = default_embedder().embed([text, *refs])
    sims = vectors[1:] @ vectors[0]
    return [min(1.0, max(-1.0, float(s))) for s in sims]


@grader("semantic_similarity")
async def semantic_similarity(sample: Sample, output: Output, ctx: GraderContext) -> Score:
    """Best cosine similarity between the output's and the references' MiniLM embeddings."""
    cfg = parse_config("semantic_similarity", SemanticSimilarityConfig, ctx.config)
    pair = text_and_references("semantic_similarity", cfg, sample, output, cfg.reference)
    if isinstance(pair, Score):
        return pair
    text, refs = pair
    sims = await asyncio.to_thread(cosine_similarities, text, refs)
    best = max(range(len(refs)), key=sims.__getitem__)
    value = sims[best]
    verdict = ">=" if value >= cfg.threshold else "<"
    which = "" if len(refs) == 1 else f" (best of {len(refs)} references: {clip(refs[best], limit=60)!r})"
    reason = f"cosine similarity {value:.3f} {verdict} threshold {cfg.threshold:.2f}{which}"
    return score(
        "semantic_similarity",
        cfg,
        value=value,
        passed=value >= cfg.threshold,
        reason=reason,
        evidence=[quote(text)],
        similarities=sims,
        model="all-MiniLM-L6-v2 (int8 ONNX)",
    )
