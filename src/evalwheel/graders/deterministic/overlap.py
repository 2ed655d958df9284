"""Reference-overlap graders: `token_f1` (SQuAD), `bleu` (sacrebleu) and `rouge` (rouge-score).

All three compare the output with the reference(s): `reference` from the config (str or list) or else
the sample's reference; with several references the best one counts. `value` is in [0, 1] and
`passed` is `value >= threshold`. Default thresholds are deliberately lenient starting points, not
calibrated figures; set your own (or calibrate) before gating on them.

- `token_f1`: SQuAD-style normalisation (lower-case, strip punctuation, drop the articles a/an/the,
  collapse whitespace), then the F1 of the bag-of-tokens overlap. Options: `threshold` (0.5).
- `bleu`: sacrebleu's sentence BLEU (exponential smoothing), divided by 100. Options: `threshold`
  (0.3), `tokenize` (sacrebleu tokenizer, default `13a`), `lowercase` (false).
- `rouge`: rouge-score F-measures for rouge1, rouge2 and rougeL (all three in `metadata`); `variant`
  (`rougeL`) picks the one that is the value. Options: `threshold` (0.3), `use_stemmer` (true).
  Note rouge-score's tokenizer keeps only ASCII letters and digits, so it is meant for English.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import lru_cache
from typing import Any, Literal

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

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


class _OverlapConfig(BaseGraderConfig):
    reference: str | list[str] | None = None

    @field_validator("reference")
    @classmethod
    def _non_empty(cls, v: str | list[str] | None) -> str | list[str] | None:
        if isinstance(v, list) and not v:
            raise ValueError("must not be an empty list")
        return v


class TokenF1Config(_OverlapConfig):
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)


class BleuConfig(_OverlapConfig):
    threshold: float = Field(default=0.3, ge=0.0, le=1.0)
    tokenize: str = "13a"
    lowercase: bool = False

    @field_validator("tokenize")
    @classmethod
    def _known_tokenizer(cls, v: str) -> str:
        from sacrebleu.metrics.bleu import _TOKENIZERS

        if v not in _TOKENIZERS:
            raise ValueError(f"unknown sacrebleu tokenizer {v!r} (known: {', '.join(_TOKENIZERS)})")
        return v


class RougeConfig(_OverlapConfig):
    threshold: float = Field(default=0.3, ge=0.0, le=1.0)
    variant: Literal["rouge1", "rouge2", "rougeL"] = "rougeL"
    use_stemmer: bool = True


def squad_normalize(text: str) -> str:
    """SQuAD's answer normalisation: lower-case, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def token_f1_score(prediction: str, reference: str) -> float:
    """SQuAD token F1 between two texts (1.0 when both normalise to nothing)."""
    pred = squad_normalize(prediction).split()
    ref = squad_normalize(reference).split()
    if not pred or not ref:
        return 1.0 if pred == ref else 0.0
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision = common / len(pred)
    recall = common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _best_reference_reason(metric: str, value: float, threshold: float, refs: list[str], best: str) -> str:
    which = "" if len(refs) == 1 else f" (best of {len(refs)} references: {clip(best, limit=60)!r})"
    verdict = ">=" if value >= threshold else "<"
    return f"{metric} {value:.3f} {verdict} threshold {threshold:.2f}{which}"


@grader("token_f1")
async def token_f1(sample: Sample, output: Output, ctx: GraderContext) -> Score:
    """SQuAD token F1 of the output against the best reference."""
    cfg = parse_config("token_f1", TokenF1Config, ctx.config)
    pair = text_and_references("token_f1", cfg, sample, output, cfg.reference)
    if isinstance(pair, Score):
        return pair
    text, refs = pair
    value, best = max((token_f1_score(text, r), r) for r in refs)
    reason = _best_reference_reason("token F1", value, cfg.threshold, refs, best)
    return score("token_f1", cfg, value=value, passed=value >= cfg.threshold, reason=reason, evidence=[quote(text)])


@grader("bleu")
async def bleu(sample: Sample, output: Output, ctx: GraderContext) -> Score:
    """sacrebleu sentence BLEU (0..1) of the output against the reference(s)."""
    import sacrebleu

    cfg = parse_config("bleu", BleuConfig, ctx.config)
    pair = text_and_references("bleu", cfg, sample, output, cfg.reference)
    if isinstance(pair, Score):
        return pair
    text, refs = pair
    result = sacrebleu.sentence_bleu(text, refs, tokenize=cfg.tokenize, lowercase=cfg.lowercase)
    value = min(1.0, max(0.0, result.score / 100.0))  # sacrebleu can return 100.00000000000004
    verdict = ">=" if value >= cfg.threshold else "<"
    reason = f"BLEU {value:.3f} {verdict} threshold {cfg.threshold:.2f} ({len(refs)} reference(s))"
    return score(
        "bleu",
        cfg,
        value=value,
        passed=value >= cfg.threshold,
        reason=reason,
        evidence=[quote(text)],
        sacrebleu=str(result),
    )


@lru_cache(maxsize=4)
def _rouge_scorer(use_stemmer: bool) -> Any:
    from rouge_score import rouge_scorer  # type: ignore[import-untyped]

    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=use_stemmer)


@grader("rouge")
async def rouge(sample: Sample, output: Output, ctx: GraderContext) -> Score:
    """rouge1/rouge2/rougeL F-measures against the reference(s); `variant` is the value."""
    cfg = parse_config("rouge", RougeConfig, ctx.config)
    pair = text_and_references("rouge", cfg, sample, output, cfg.reference)
    if isinstance(pair, Score):
        return pair
    text, refs = pair
    result = _rouge_scorer(cfg.use_stemmer).score_multi(refs, text)
    f_measures = {kind: float(result[kind].fmeasure) for kind in ROUGE_TYPES}
    value = f_measures[cfg.variant]
    verdict = ">=" if value >= cfg.threshold else "<"
    others = ", ".join(f"{k} {v:.3f}" for k, v in f_measures.items() if k != cfg.variant)
    reason = f"{cfg.variant} F {value:.3f} {verdict} threshold {cfg.threshold:.2f} ({others})"
    return score(
        "rouge",
        cfg,
        value=value,
        passed=value >= cfg.threshold,
        reason=reason,
        evidence=[quote(text)],
        f_measures=f_measures,
    )
