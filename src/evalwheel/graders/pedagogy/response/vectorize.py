"""The trained tier's input: hand features + context similarity + the reply's MiniLM embedding.

Training (`train_linear.py`) and inference (`trained.py`) both build their matrices here, so the
columns can never drift apart. Layout of one row:

    [ rule_features (FEATURE_NAMES) | cos(reply, last student turn) | reply embedding (384) ]

The first `n_hand()` columns are standardised by the model; the embedding block is used as is
(scaled by the model's `alpha`), because MiniLM vectors are already unit length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from evalwheel.graders.pedagogy.response.context import ResponseContext, clean
from evalwheel.graders.pedagogy.response.features import FEATURE_NAMES, feature_vector

EXTRA_NAMES: tuple[str, ...] = ("cos_last_student",)


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray: ...


def hand_names() -> tuple[str, ...]:
    return FEATURE_NAMES + EXTRA_NAMES


def n_hand() -> int:
    return len(FEATURE_NAMES) + len(EXTRA_NAMES)


def design_matrix(pairs: Sequence[tuple[ResponseContext, str]], embedder: Embedder) -> np.ndarray:
    """Rows for (context, reply) pairs; replies and student turns are embedded in one batch each."""
    if not pairs:
        return np.zeros((0, n_hand() + 384), dtype=np.float32)
    hand = np.stack([feature_vector(ctx, reply) for ctx, reply in pairs])
    replies = embedder.embed([clean(reply) for _, reply in pairs])
    students = embedder.embed([ctx.last_student for ctx, _ in pairs])
    cos = (replies * students).sum(axis=1, keepdims=True)
    return np.hstack([hand, cos, replies]).astype(np.float32)
