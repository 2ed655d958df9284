"""Does a change to the encoder tier's decision generalise? Scored on the out-of-fold logits the trainers wrote.

    python -m evalwheel.graders.pedagogy.response.ablate_encoder --data PATH/TO/mrbench [--work build/encoder]

Reads `oof_finetuned_seed*.npz` (fine-tuned encoder, int8 logits) and `oof_linear_seed*.npz` (linear tier)
from `--work`, plus any `--extra TAG=DIR` encoder runs (e.g. a 6-layer or 192-token CV run of
`encoder.finetune --tag ... --no-final`), and scores, per dimension, with the same labels and `decide()`
rule as `response.select`:

- `encoder sS`, `ensemble sS`: the shipped tiers, one training seed each (the single-seed baseline);
- `enc3`: the mean of the encoder seeds' class probabilities (a seed ensemble). Each seed's logits are
  out of fold for every item (its model never saw the item), so the mean is out of fold too, although the
  seeds' folds differ;
- `enc3+lin0`, `enc3+lin3`: that mean averaged with the linear tier's seed-0 / 3-seed-mean probabilities;
- `... +bias`: a per-dimension class-prior adjustment (additive log-probability offsets, class 0 fixed at
  0, `train_linear.OFFSET_GRID` per other class) chosen by NESTED grouped CV: outer GroupKFold(5) by
  conversation; inside each outer training part the offsets maximising the mean macro-F1 over 4 inner
  grouped folds are picked; the outer test part is predicted with them; the pooled outer predictions give
  the figure. Nothing is ever chosen on the items it is scored on.

The summary `M8` is the mean macro-F1 over the eight dimensions, `M6` over the six with a target. This
module fits no model and ships nothing; it is the record of what was tried (issue #12).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from evalwheel.graders.pedagogy.response.dimensions import DIMENSION_ORDER, TASKS, TONE
from evalwheel.graders.pedagogy.response.select import TARGETS, _encoder_oof, _linear_oof, _seed_of
from evalwheel.graders.pedagogy.response.train_linear import OFFSET_GRID, _folds, macro_f1_idx
from evalwheel.stats.agreement import agreement

Table = dict[str, dict[str, np.ndarray]]  # {dimension: {key: probabilities}}


@dataclass
class DimRows:
    """The labelled replies of one dimension, in a fixed order."""

    dim: str
    keys: list[str]
    gold: list[str]
    y: np.ndarray
    groups: np.ndarray
    rule_offensive: np.ndarray  # Tutor_Tone: the harsh-word rule said Offensive (decide() keeps it)


def dim_rows(items: list[Any], dim: str) -> DimRows:
    from evalwheel.graders.pedagogy.response.rules import grade_rules

    rows = [it for it in items if dim in it.labels]
    labels = TASKS[dim].labels
    gold = [it.labels[dim] for it in rows]
    offensive = np.zeros(len(rows), dtype=bool)
    if dim == TONE.name:
        offensive = np.array([grade_rules(dim, it.ctx, it.reply).metadata["label"] == "Offensive" for it in rows])
    return DimRows(
        dim,
        [it.key for it in rows],
        gold,
        np.array([labels.index(g) for g in gold]),
        np.array([it.group for it in rows]),
        offensive,
    )


def predict_idx(d: DimRows, L: np.ndarray, offsets: np.ndarray, sel: np.ndarray | slice = slice(None)) -> np.ndarray:
    """Class index per row of `L` (log-probabilities) + `offsets`, with `decide()`'s Tutor_Tone rule."""
    idx: np.ndarray = (L + offsets).argmax(axis=1)
    if d.dim == TONE.name:
        labels = TASKS[d.dim].labels
        off, neutral = labels.index("Offensive"), labels.index("Neutral")
        idx = np.where(idx == off, neutral, idx)
        idx = np.where(d.rule_offensive[sel], off, idx)
    return idx


def figures(d: DimRows, idx: np.ndarray) -> dict[str, Any]:
    labels = TASKS[d.dim].labels
    a = agreement(d.gold, [labels[i] for i in idx], labels)
    return {"macro_f1": a.macro_f1, "per_label_f1": {k: v.f1 for k, v in a.per_label.items()}}


def pick_offsets(d: DimRows, L: np.ndarray, rows: np.ndarray, seed: int) -> np.ndarray:
    """Offsets with the best mean macro-F1 over 4 grouped inner folds of `rows` (first best wins: zero first)."""
    k = L.shape[1]
    inner = [rows[te] for _, te in _folds(d.groups[rows], 4, seed)]
    grid = [np.zeros(k)] + [np.array((0.0, *rest)) for rest in product(OFFSET_GRID, repeat=k - 1)]
    best: np.ndarray = grid[0]
    best_score = -1.0
    for off in grid:
        score = float(np.mean([macro_f1_idx(d.y[v], predict_idx(d, L[v], off, v), k) for v in inner]))
        if score > best_score + 1e-12:
            best, best_score = off, score
    return best


def nested_bias(d: DimRows, P: np.ndarray, seed: int) -> tuple[np.ndarray, list[list[float]]]:
    """Pooled outer-fold predictions with offsets picked inside each outer training part (see module doc)."""
    L = np.log(np.clip(P, 1e-12, 1.0))
    out = np.zeros(len(d.y), dtype=np.int64)
    chosen = []
    for tr, te in _folds(d.groups, 5, 100 + seed):
        off = pick_offsets(d, L, tr, 200 + seed)
        out[te] = predict_idx(d, L[te], off, te)
        chosen.append([round(float(x), 2) for x in off])
    return out, chosen


def stack(table: Table, d: DimRows) -> np.ndarray | None:
    t = table.get(d.dim)
    if not t or any(k not in t for k in d.keys):
        return None
    return np.stack([t[k] for k in d.keys])


def configurations(
    d: DimRows, lin: dict[int, Table], enc: dict[int, Table], extra: dict[str, Table]
) -> dict[str, np.ndarray]:
    """Every probability matrix to score for one dimension, by configuration name."""
    out: dict[str, np.ndarray] = {}
    L = {s: P for s, t in lin.items() if (P := stack(t, d)) is not None}
    E = {s: P for s, t in enc.items() if (P := stack(t, d)) is not None}
    for s in sorted(E):
        out[f"encoder s{s}"] = E[s]
        if s in L:
            out[f"ensemble s{s}"] = (E[s] + L[s]) / 2
    if len(E) > 1:
        enc3 = np.mean([E[s] for s in sorted(E)], axis=0)
        out["enc3"] = enc3
        if 0 in L:
            out["enc3+lin0"] = (enc3 + L[0]) / 2
        if len(L) > 1:
            out["enc3+lin3"] = (enc3 + np.mean([L[s] for s in sorted(L)], axis=0)) / 2
    for tag, table in extra.items():
        if (P := stack(table, d)) is not None:
            out[f"{tag} encoder"] = P
            if 0 in L:
                out[f"{tag} ensemble(lin0)"] = (P + L[0]) / 2
    return out


def run(items: list[Any], work: Path, extra_dirs: dict[str, Path], bias: bool) -> dict[str, dict[str, Any]]:
    lin = {_seed_of(p): _linear_oof(p) for p in sorted(work.glob("oof_linear_seed*.npz"))}
    enc = {_seed_of(p): _encoder_oof(p) for p in sorted(work.glob("oof_finetuned_seed*.npz"))}
    extra = {}
    for tag, path in extra_dirs.items():
        files = sorted(path.glob(f"oof_{tag}_seed0.npz")) if path.is_dir() else [path]
        if files:
            extra[tag] = _encoder_oof(files[0])
    results: dict[str, dict[str, Any]] = {}
    for dim in DIMENSION_ORDER:
        d = dim_rows(items, dim)
        if not d.keys:
            continue
        k = len(TASKS[dim].labels)
        for name, P in configurations(d, lin, enc, extra).items():
            L = np.log(np.clip(P, 1e-12, 1.0))
            results.setdefault(name, {})[dim] = figures(d, predict_idx(d, L, np.zeros(k)))
            if bias and (" s" in name or name.startswith("enc3")):
                seed = int(name.rsplit(" s", 1)[1]) if " s" in name else 0
                idx, chosen = nested_bias(d, P, seed)
                results.setdefault(f"{name} +bias", {})[dim] = {**figures(d, idx), "offsets_per_outer_fold": chosen}
    return results


def summary(res: dict[str, Any]) -> tuple[float, float]:
    m8 = float(np.mean([r["macro_f1"] or 0.0 for r in res.values()]))
    m6 = float(np.mean([res[d]["macro_f1"] or 0.0 for d in TARGETS if d in res]))
    return m8, m6


def markdown(results: dict[str, dict[str, Any]]) -> str:
    dims = [d for d in DIMENSION_ORDER if any(d in r for r in results.values())]
    short = {d: d.replace("_", " ")[:14] for d in dims}
    lines = [
        "| configuration | " + " | ".join(short[d] for d in dims) + " | M8 | M6 |",
        "|---|" + "---:|" * (len(dims) + 2),
    ]
    for name, res in results.items():
        m8, m6 = summary(res)
        cells = [f"{res[d]['macro_f1']:.3f}" if d in res and res[d]["macro_f1"] is not None else "–" for d in dims]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {m8:.3f} | {m6:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from evalwheel.graders.pedagogy.response.encoder.train import load_items

    ap = argparse.ArgumentParser(prog="python -m evalwheel.graders.pedagogy.response.ablate_encoder")
    ap.add_argument("--data", type=Path, required=True, help="the MRBench folder the trainers used")
    ap.add_argument("--work", type=Path, default=Path("build/encoder"))
    ap.add_argument("--extra", action="append", default=[], help="TAG=DIR: also score DIR/oof_TAG_seed0.npz")
    ap.add_argument("--no-bias", action="store_true", help="skip the nested-CV offsets (the slow part)")
    ap.add_argument("--out", type=Path, default=None, help="write every figure (per-label F1 too) as JSON")
    args = ap.parse_args(argv)
    extra = {}
    for spec in args.extra:
        tag, sep, path = spec.partition("=")
        if not sep:
            print(f"error: --extra {spec!r}: expected TAG=DIR", file=sys.stderr)
            return 2
        if not (Path(path) / f"oof_{tag}_seed0.npz").is_file() and not Path(path).is_file():
            print(f"error: --extra {spec!r}: no {path}/oof_{tag}_seed0.npz", file=sys.stderr)
            return 2
        extra[tag] = Path(path)
    if not args.data.exists():
        print(f"error: --data {args.data}: no such file or folder", file=sys.stderr)
        return 2
    results = run(load_items(args.data), args.work, extra, not args.no_bias)
    print(markdown(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
