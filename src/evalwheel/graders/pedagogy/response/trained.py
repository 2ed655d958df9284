"""Trained tier: per-dimension linear classifiers over MiniLM embeddings + rule features (numpy only).

The weights ship in `weights/` (derived from MRBench and MathDial, CC BY-SA 4.0; see LICENSE-NOTE
there) and are produced by `python -m evalwheel.graders.pedagogy.response.train_linear`. They are
loaded once per process and never modified. A trained verdict still carries the rules tier's
evidence quote, so a reviewer can see what in the reply the classifier was most likely reacting to.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from evalwheel.graders.pedagogy.response.context import ResponseContext
from evalwheel.graders.pedagogy.response.dimensions import TASKS, TONE
from evalwheel.graders.pedagogy.response.linear import LinearModel
from evalwheel.graders.pedagogy.response.rules import grade_rules
from evalwheel.graders.pedagogy.response.vectorize import Embedder, design_matrix, hand_names
from evalwheel.types import Score

WEIGHTS_DIR = Path(__file__).parent / "weights"
WEIGHTS_NPZ = WEIGHTS_DIR / "response_models.npz"
WEIGHTS_META = WEIGHTS_DIR / "response_models.json"
FORMAT = 1


class WeightsUnavailableError(RuntimeError):
    """The shipped weights are missing or do not match this code's features."""


@dataclass(frozen=True)
class ModelBundle:
    models: dict[str, LinearModel]
    meta: dict[str, Any]

    def best_tier(self, task: str) -> str:
        return str(self.meta.get("best_tier", {}).get(task, "trained"))


@lru_cache(maxsize=1)
def load_models(npz: Path = WEIGHTS_NPZ, meta_path: Path = WEIGHTS_META) -> ModelBundle:
    """Read the shipped weights once; refuse weights built for a different feature layout."""
    if not npz.is_file() or not meta_path.is_file():
        raise WeightsUnavailableError(
            f"trained weights not found in {npz.parent} (run: make train DATA=...)"
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise WeightsUnavailableError(
            f"{meta_path}: weights format {meta.get('format')} != {FORMAT}; retrain"
        )
    if tuple(meta.get("hand_features", ())) != hand_names():
        raise WeightsUnavailableError(f"{meta_path}: weights were trained on other features; retrain")
    with np.load(npz) as arrays:
        models = {task: LinearModel.from_arrays(task, arrays, m) for task, m in meta["models"].items()}
    return ModelBundle(models=models, meta=meta)


def _expected_value(dimension: str, classes: Sequence[str], proba: np.ndarray) -> float:
    dim = TASKS[dimension]
    return float(sum(p * dim.value(c) for c, p in zip(classes, proba, strict=True)))


def scores_from_matrix(
    dimension: str,
    pairs: Sequence[tuple[ResponseContext, str]],
    X: np.ndarray,
    bundle: ModelBundle | None = None,
) -> list[Score]:
    """Trained-tier Scores for rows of a precomputed `design_matrix` (lets a runner embed once)."""
    bundle = bundle or load_models()
    model = bundle.models.get(dimension)
    if model is None:
        raise WeightsUnavailableError(f"no trained model for {dimension}; retrain")
    dim = TASKS[dimension]
    proba = model.predict_proba(X) if len(pairs) else np.zeros((0, len(model.classes)))
    chosen = model.decide(proba) if len(pairs) else np.zeros(0, dtype=int)
    out = []
    for (ctx, reply), p, k in zip(pairs, proba, chosen, strict=True):
        label = model.classes[int(k)]
        rule = grade_rules(dimension, ctx, reply)
        rule_label = rule.metadata["label"]
        if dim is TONE and rule_label == "Offensive":  # too rare to learn; the harsh-word rule decides
            label = "Offensive"
        reason = f"classifier: {label} (p={p[k]:.2f}); rules: {rule_label} — {rule.reason}"
        out.append(
            Score(
                name=dimension,
                value=_expected_value(dimension, model.classes, p) if label != "Offensive" else 0.0,
                passed=dim.passed(label),
                reason=reason,
                evidence=rule.evidence,
                confidence=float(np.clip(p[k], 0, 1)),
                metadata={
                    "label": label,
                    "tier": "trained",
                    "proba": dict(zip(model.classes, map(float, p), strict=True)),
                    "rules_label": rule_label,
                },
            )
        )
    return out


def grade_trained_batch(
    dimension: str, pairs: Sequence[tuple[ResponseContext, str]], embedder: Embedder | None = None
) -> list[Score]:
    """Trained-tier Scores for many replies (embedded in batches)."""
    if embedder is None:
        from evalwheel.embed import default_embedder

        embedder = default_embedder()
    return scores_from_matrix(dimension, pairs, design_matrix(pairs, embedder))


def grade_trained(
    dimension: str, ctx: ResponseContext, reply: str, embedder: Embedder | None = None
) -> Score:
    """Trained-tier Score for one reply in its context."""
    return grade_trained_batch(dimension, [(ctx, reply)], embedder)[0]
