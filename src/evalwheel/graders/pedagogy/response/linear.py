"""A softmax-linear classifier evaluated with numpy only, plus its (de)serialisation.

scikit-learn is used to *fit* these models (`evalwheel.graders.pedagogy.response.train_linear`); at inference only the
arrays are needed, so grading never imports scikit-learn. A model is: standardise the first `n_hand`
columns (mean `mu`, scale `sd`), multiply the rest by `alpha`, take `W x + b`, add per-class decision
`offsets` (tuned for macro-F1 on held-out folds; 0 = plain argmax), and pick the best class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LinearModel:
    classes: tuple[str, ...]
    W: np.ndarray  # (n_classes, n_features)
    b: np.ndarray  # (n_classes,)
    mu: np.ndarray  # (n_hand,)
    sd: np.ndarray  # (n_hand,)
    alpha: float
    offsets: np.ndarray  # (n_classes,) added to the log-probabilities before argmax
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_hand(self) -> int:
        return int(self.mu.shape[0])

    def transform(self, X: np.ndarray) -> np.ndarray:
        hand = (X[:, : self.n_hand] - self.mu) / self.sd
        return np.hstack([hand, X[:, self.n_hand :] * self.alpha])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (rows sum to 1), before the decision offsets."""
        z = self.transform(np.asarray(X, dtype=np.float64)) @ self.W.T + self.b
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        proba: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return proba

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """Indices of the chosen classes: argmax of log-probability + offsets."""
        chosen: np.ndarray = np.argmax(np.log(np.clip(proba, 1e-12, 1.0)) + self.offsets, axis=1)
        return chosen

    def predict(self, X: np.ndarray) -> list[str]:
        return [self.classes[i] for i in self.decide(self.predict_proba(X))]

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            f"{prefix}/W": self.W,
            f"{prefix}/b": self.b,
            f"{prefix}/mu": self.mu,
            f"{prefix}/sd": self.sd,
            f"{prefix}/offsets": self.offsets,
        }

    def to_meta(self) -> dict[str, Any]:
        return {"classes": list(self.classes), "alpha": self.alpha, **self.info}

    @classmethod
    def from_arrays(cls, prefix: str, arrays: Any, meta: dict[str, Any]) -> LinearModel:
        info = {k: v for k, v in meta.items() if k not in ("classes", "alpha")}
        return cls(
            classes=tuple(meta["classes"]),
            W=np.asarray(arrays[f"{prefix}/W"], dtype=np.float64),
            b=np.asarray(arrays[f"{prefix}/b"], dtype=np.float64),
            mu=np.asarray(arrays[f"{prefix}/mu"], dtype=np.float64),
            sd=np.asarray(arrays[f"{prefix}/sd"], dtype=np.float64),
            alpha=float(meta["alpha"]),
            offsets=np.asarray(arrays[f"{prefix}/offsets"], dtype=np.float64),
            info=info,
        )
