"""Throughput of the encoder tier as shipped (the fine-tuned int8 ONNX cross-encoder, all eight dimensions;
the frozen MiniLM + heads if the package has no fine-tuned model).

    python benchmarks/bench_encoder.py [MRBENCH_FILE] [--n 512] [--threads 2] [--batch N] [--model-dir DIR] [--json]

Replies of the file (default: the repository's tiny MRBench fixture) are repeated up to `--n` and
graded in one call (the fine-tuned tier then runs one row per onnxruntime call unless `--batch N`):
tokenisation, the int8 ONNX encoder and the heads are all inside the timing; model
loading is timed apart. `scores_per_s` also includes building the Score objects (rules evidence for
every reply), i.e. what `calibrate mrbench --tier encoder` does per reply. Target: >= 100 replies/s
on 2 cores. On a shared machine, read `replies_per_cpu_s` (x threads = the idle-machine ceiling) next to
`load_average`. `--model-dir DIR` times a candidate fine-tuned model (`encoder_finetuned.json` + its ONNX
file, e.g. `encoder.finetune --out-dir DIR`) instead of the shipped one, before anything is shipped; the
Scores timing is then skipped (`grade_many` always runs the shipped model).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def candidate(model_dir: Path, threads: int) -> Any:
    """The fine-tuned model in `model_dir`, checked against the sha256 in its meta like the shipped one."""
    import hashlib

    from evalwheel.graders.pedagogy.response.encoder.model import FINETUNED_META, FinetunedEncoder

    meta_path = model_dir / FINETUNED_META.name
    if not meta_path.is_file():
        print(f"error: --model-dir {model_dir}: no {FINETUNED_META.name} there", file=sys.stderr)
        raise SystemExit(2)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    path = model_dir / str(meta.get("model", ""))
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != meta.get("model_sha256"):
        print(f"error: {path}: missing, or its sha256 does not match {meta_path.name}", file=sys.stderr)
        raise SystemExit(2)
    return FinetunedEncoder(meta, path, threads)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file", nargs="?", type=Path, default=REPO / "tests" / "fixtures" / "mrbench_tiny.json")
    ap.add_argument("--n", type=int, default=512, help="replies to grade (the file's replies repeated)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=None, help="rows per onnxruntime call (default: the tier's own)")
    ap.add_argument("--model-dir", type=Path, default=None, help="time the fine-tuned model in DIR instead")
    ap.add_argument("--json", action="store_true", help="print one JSON object (default: a short summary)")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    from evalwheel.agreement.data import mrbench_replies
    from evalwheel.datasets.mrbench import load_mrbench
    from evalwheel.graders.pedagogy.response.dimensions import DIMENSION_ORDER
    from evalwheel.graders.pedagogy.response.encoder import load_encoder
    from evalwheel.graders.pedagogy.response.tiers import grade_many

    items = mrbench_replies(load_mrbench(args.file))
    pairs = [(it.ctx, it.reply) for it in items]
    pairs = (pairs * (args.n // max(1, len(pairs)) + 1))[: args.n]

    t = time.perf_counter()
    enc = load_encoder(threads=args.threads) if args.model_dir is None else candidate(args.model_dir, args.threads)
    runner = getattr(enc, "extractor", enc)  # the frozen variant batches in its feature extractor
    if args.batch is not None:
        runner.batch_size = args.batch
    enc.predict(pairs[:2])  # session + tokenizer
    load_s = time.perf_counter() - t

    t, c = time.perf_counter(), time.process_time()
    enc.predict(pairs)
    predict_s, predict_cpu_s = time.perf_counter() - t, time.process_time() - c

    scores_s = None
    if args.model_dir is None:
        t = time.perf_counter()
        grade_many(list(DIMENSION_ORDER), pairs, "encoder")
        scores_s = time.perf_counter() - t
    width = runner.layout.max_tokens
    meta = enc.meta
    out = {
        "file": str(args.file),
        "replies": len(pairs),
        "dimensions": len(DIMENSION_ORDER),
        "threads": args.threads,
        "batch": runner.batch_size,
        "max_tokens": width,
        "model": meta.get("model", "frozen all-MiniLM-L6-v2 + heads"),
        "layers": meta.get("training", {}).get("recipe", {}).get("layers", 6),
        "model_dir": None if args.model_dir is None else str(args.model_dir),
        "load_s": round(load_s, 3),
        "replies_per_s": round(len(pairs) / predict_s, 1),
        "scores_per_s": None if scores_s is None else round(len(pairs) / scores_s, 1),
        # CPU time of this process: on a busy machine wall time mostly measures the neighbours;
        # replies per CPU-second x threads is what an idle machine with that many cores would reach at best.
        "replies_per_cpu_s": round(len(pairs) / predict_cpu_s, 1),
        "cpu": platform.processor() or platform.machine(),
        "cpus_visible": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "target_replies_per_s": 100,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(
            f"encoder tier: {out['replies_per_s']} replies/s ({out['scores_per_s']} with Scores), "
            f"{args.threads} threads, batch {runner.batch_size}, "
            f"{len(pairs)} replies x {len(DIMENSION_ORDER)} dimensions"
        )


if __name__ == "__main__":
    main()
