"""Does a principled change to the linear tier generalise? Grouped 5-fold CV over 3 seeds says.

    python -m evalwheel.graders.pedagogy.response.ablate_linear --data PATH/TO/mrbench [--variants a,b]

(`make ablate-linear DATA=...`.) Every variant is the shipped recipe (`train_linear`: logistic regression
on standardised rule features + 3 x the reply's MiniLM embedding, C 0.03, per-class decision offsets tuned
for macro-F1 on an inner grouped CV of the training fold) with one idea added, scored exactly like the
shipped model: outer GroupKFold by conversation, everything fitted or tuned inside the training fold only
(vocabularies, scalers, offsets, stacked first-stage models), seeds 0, 1 and 2. No item is ever looked
at; a variant is kept only if its 3-seed mean beats the base on the dimension without losing elsewhere.

Variants (the ideas the BEA 2025 systems used that fit a CPU and scikit-learn with n_jobs=1):

- `base`: the shipped recipe, for reference;
- `balanced`: class-balanced loss weights (`class_weight="balanced"`), offsets still tuned;
- `no_offsets`: plain argmax (what the inner-CV thresholds are worth);
- `context`: + the MiniLM embedding of the left-truncated context (the last three turns);
- `solution`: + cosine of the reply with the ground-truth solution (0 when none), the problem, the
  previous tutor turn and the left-truncated context;
- `stacked`: multi-task sharing: + the other seven dimensions' class probabilities from first-stage
  models, out of fold on the training rows (inner CV) and fitted on the whole training fold for the test
  rows;
- `tfidf`: + word 1-2-gram TF-IDF of the reply (vocabulary and idf from the training fold), weight 3;
- `ordinal`: Yes > To some extent > No as two cumulative binary models instead of a multinomial one.

Prints one markdown table (3-seed mean macro-F1 per dimension and variant, with the base's seed range)
and writes it to `--out` as JSON. Runtime on an idle 2-vCPU machine: about 2 minutes of embeddings plus
0.5-3 minutes per variant.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evalwheel.graders.pedagogy.response.dimensions import DIMENSION_ORDER, TASKS, TONE
from evalwheel.graders.pedagogy.response.train_linear import _folds, macro_f1_idx, tune_offsets
from evalwheel.graders.pedagogy.response.vectorize import design_matrix, n_hand

VARIANTS = ("base", "balanced", "no_offsets", "context", "solution", "stacked", "tfidf", "ordinal")
SEEDS = (0, 1, 2)
C, ALPHA, TFIDF_WEIGHT = 0.03, 3.0, 3.0
Proba = Callable[[np.ndarray], np.ndarray]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Data:
    """The merged MRBench dev replies as matrices: rule features, reply embedding, extra blocks, labels."""

    hand: np.ndarray  # (n, n_hand) rule features + cos(reply, last student turn)
    emb: np.ndarray  # (n, 384) the reply's embedding
    context: np.ndarray  # (n, 384) embedding of the last three turns
    sims: np.ndarray  # (n, 4) cos(reply, solution | problem | previous tutor turn | context)
    texts: list[str]
    groups: np.ndarray
    y: dict[str, np.ndarray]  # dimension -> class index, -1 where unlabelled


def load(data: Path) -> Data:
    from evalwheel.embed import MiniLMEmbedder
    from evalwheel.graders.pedagogy.response.context import clean
    from evalwheel.graders.pedagogy.response.encoder.train import load_items

    items = load_items(data)
    embedder = MiniLMEmbedder(cache=True)
    X = design_matrix([(it.ctx, it.reply) for it in items], embedder).astype(np.float64)
    nh = n_hand()
    reply = X[:, nh:]

    def emb(texts: list[str]) -> np.ndarray:
        return np.asarray(embedder.embed(texts), dtype=np.float64)

    context = emb([" ".join(t.text for t in it.ctx.turns[-3:]) for it in items])
    solution = emb([it.ctx.ground_truth or "" for it in items])
    has_solution = np.array([it.ctx.ground_truth is not None for it in items], dtype=np.float64)
    problem = emb([it.ctx.problem for it in items])
    prev_tutor = emb([next((t.text for t in reversed(it.ctx.turns) if t.role == "tutor"), "") for it in items])
    sims = np.stack(
        [(reply * solution).sum(1) * has_solution, (reply * problem).sum(1), (reply * prev_tutor).sum(1),
         (reply * context).sum(1)], axis=1,
    )  # fmt: skip
    y = {
        d: np.array([TASKS[d].labels.index(it.labels[d]) if d in it.labels else -1 for it in items])
        for d in DIMENSION_ORDER
    }
    return Data(X[:, :nh], reply, context, sims, [clean(it.reply) for it in items],
                np.array([it.group for it in items]), y)  # fmt: skip


def n_classes(dim: str) -> int:
    """Classes the classifier learns (Offensive tone, one example, is left to the rule as in training)."""
    return 2 if dim == TONE.name else len(TASKS[dim].labels)


class Design:
    """Builds the model input of one variant for any rows; anything fitted is fitted on `fit_rows` only."""

    def __init__(self, d: Data, variant: str, fit_rows: np.ndarray, extra: np.ndarray | None = None) -> None:
        self.d, self.variant, self.extra = d, variant, extra
        hand = self._hand(fit_rows)
        self.mu, self.sd = hand.mean(0), hand.std(0) + 1e-6
        self.vec: Any = None
        if variant == "tfidf":
            from sklearn.feature_extraction.text import TfidfVectorizer

            self.vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                                       token_pattern=r"(?u)\b\w+\b|[?!]")  # fmt: skip
            self.vec.fit([d.texts[i] for i in fit_rows])

    def _hand(self, rows: np.ndarray) -> np.ndarray:
        parts = [self.d.hand[rows]]
        if self.variant == "solution":
            parts.append(self.d.sims[rows])
        if self.extra is not None:
            parts.append(self.extra[rows])
        return np.hstack(parts)

    def __call__(self, rows: np.ndarray) -> Any:
        dense = [(self._hand(rows) - self.mu) / self.sd, self.d.emb[rows] * ALPHA]
        if self.variant == "context":
            dense.append(self.d.context[rows] * ALPHA)
        Z = np.hstack(dense)
        if self.vec is None:
            return Z
        import scipy.sparse as sp

        return sp.hstack([sp.csr_matrix(Z), self.vec.transform([self.d.texts[i] for i in rows]) * TFIDF_WEIGHT]).tocsr()


def fit(design: Design, rows: np.ndarray, y: np.ndarray, k: int, variant: str) -> Proba:
    """A fitted model's probability function over row indices (k columns; absent classes get ~0)."""
    from sklearn.linear_model import LogisticRegression

    Z = design(rows)
    weight = "balanced" if variant == "balanced" else None
    if variant == "ordinal" and k == 3:
        top = LogisticRegression(C=C, max_iter=5000).fit(Z, (y == 0).astype(int))
        upper = LogisticRegression(C=C, max_iter=5000).fit(Z, (y <= 1).astype(int))

        def ordinal(r: np.ndarray) -> np.ndarray:
            Z2 = design(r)
            p1 = top.predict_proba(Z2)[:, 1]
            p2 = np.maximum(upper.predict_proba(Z2)[:, 1], p1)
            P = np.stack([p1, np.maximum(p2 - p1, 1e-4), np.maximum(1 - p2, 1e-4)], axis=1)
            out: np.ndarray = P / P.sum(1, keepdims=True)
            return out

        return ordinal
    lr = LogisticRegression(C=C, max_iter=5000, class_weight=weight).fit(Z, y)

    def proba(r: np.ndarray) -> np.ndarray:
        P = np.full((len(r), k), 1e-9)
        P[:, lr.classes_] = lr.predict_proba(design(r))
        out: np.ndarray = P / P.sum(1, keepdims=True)
        return out

    return proba


def _labelled(d: Data, dim: str, rows: np.ndarray) -> np.ndarray:
    y = d.y[dim][rows]
    out: np.ndarray = rows[(y >= 0) & (y < n_classes(dim))]
    return out


def first_stage(
    d: Data, tr: np.ndarray, te: np.ndarray, inner: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, list[str]]:
    """Every dimension's base-model probabilities as extra columns: out of fold (inner CV) on the training
    rows, from a model fitted on the whole training fold on the test rows. Zero rows elsewhere."""
    cols = []
    for dim in DIMENSION_ORDER:
        k = n_classes(dim)
        block = np.zeros((len(d.groups), k))
        for itr, ite in inner:
            rows = _labelled(d, dim, tr[itr])
            design = Design(d, "base", rows)
            block[tr[ite]] = fit(design, rows, d.y[dim][rows], k, "base")(tr[ite])
        rows = _labelled(d, dim, tr)
        design = Design(d, "base", rows)
        block[te] = fit(design, rows, d.y[dim][rows], k, "base")(te)
        cols.append((dim, block))
    return np.hstack([b for _, b in cols]), [dim for dim, _ in cols]


def cross_validate(d: Data, variant: str, dims: list[str], seed: int, folds: int = 5) -> dict[str, float]:
    """Out-of-fold macro-F1 per dimension for one variant and seed (the shipped model's CV protocol)."""
    preds = {dim: np.full(len(d.groups), -1) for dim in dims}
    for tr, te in _folds(d.groups, folds, seed):
        inner_local = _folds(d.groups[tr], folds, seed + 1)
        stacked: np.ndarray | None = None
        names: list[str] = []
        if variant == "stacked":
            stacked, names = first_stage(d, tr, te, inner_local)
        for dim in dims:
            k = n_classes(dim)
            extra = None
            if stacked is not None:  # the other dimensions' probabilities, never this one's own
                widths = [n_classes(n) for n in names]
                starts = np.cumsum([0, *widths])
                keep = [c for j, n in enumerate(names) if n != dim for c in range(starts[j], starts[j + 1])]
                extra = stacked[:, keep]
            train = _labelled(d, dim, tr)
            P = np.zeros((len(d.groups), k))
            for itr, ite in inner_local:
                rows = _labelled(d, dim, tr[itr])
                design = Design(d, variant, rows, extra)
                P[tr[ite]] = fit(design, rows, d.y[dim][rows], k, variant)(tr[ite])
            y_train = d.y[dim][train]
            offsets = np.zeros(k) if variant == "no_offsets" else tune_offsets(P[train], y_train, k)[0]
            design = Design(d, variant, train, extra)
            P_te = fit(design, train, y_train, k, variant)(te)
            preds[dim][te] = (np.log(np.clip(P_te, 1e-12, 1.0)) + offsets).argmax(1)
    out = {}
    for dim in dims:
        mask = d.y[dim] >= 0
        out[dim] = macro_f1_idx(d.y[dim][mask], preds[dim][mask], len(TASKS[dim].labels))
    return out


def table(results: dict[str, dict[int, dict[str, float]]], dims: list[str]) -> str:
    def mean(v: str, dim: str) -> float:
        return float(np.mean([results[v][s][dim] for s in results[v]]))

    head = "| variant | " + " | ".join(dims) + " |"
    lines = [head, "|---|" + "---:|" * len(dims)]
    for v in results:
        cells = []
        for dim in dims:
            m = mean(v, dim)
            if v == "base":
                lo, hi = min(results[v][s][dim] for s in results[v]), max(results[v][s][dim] for s in results[v])
                cells.append(f"{m:.3f} ({lo:.3f}-{hi:.3f})")
            else:
                cells.append(f"{m:.3f} ({m - mean('base', dim):+.3f})" if "base" in results else f"{m:.3f}")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evalwheel.graders.pedagogy.response.ablate_linear")
    ap.add_argument("--data", type=Path, required=True, help="the MRBench folder (the dev files) to cross-validate on")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {', '.join(VARIANTS)}")
    ap.add_argument("--dims", default="", help="comma-separated dimensions (default: all but Tutor_Tone)")
    ap.add_argument("--out", type=Path, default=Path("build/ablate_linear.json"))
    args = ap.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    dims = [x for x in args.dims.split(",") if x] or [x for x in DIMENSION_ORDER if x != TONE.name]
    t0 = time.perf_counter()
    d = load(args.data)
    log(f"{len(d.groups)} replies embedded in {time.perf_counter() - t0:.0f} s")
    results: dict[str, dict[int, dict[str, float]]] = {}
    for v in variants:
        results[v] = {}
        for seed in SEEDS:
            t1 = time.perf_counter()
            results[v][seed] = cross_validate(d, v, dims, seed)
            log(f"{v} seed {seed}: " + ", ".join(f"{k} {x:.3f}" for k, x in results[v][seed].items())
                + f" ({time.perf_counter() - t1:.0f} s)")  # fmt: skip
    print(table(results, dims))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"seeds": list(SEEDS), "macro_f1": results}, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {args.out}; total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
