"""Throughput of the response-level pedagogy graders on one core; prints one JSON object.

    python benchmarks/bench_response_graders.py [MRBENCH_FILE] [--limit N]

Grades every reply of an MRBench-format file on all eight dimensions:
- rules tier: pure Python, per reply;
- trained tier: features + MiniLM embeddings (reply and last student turn, batched, no cache) +
  the eight linear models; also the latency of grading one reply on its own (batch of 1).
Threads are pinned to 1 (OMP/MKL/onnxruntime) so the figures are per core.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ORT_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from evalwheel.agreement.data import mrbench_replies  # noqa: E402
from evalwheel.data import shipped_root  # noqa: E402
from evalwheel.datasets.mrbench import load_mrbench  # noqa: E402
from evalwheel.embed import MiniLMEmbedder  # noqa: E402
from evalwheel.graders.pedagogy.response.dimensions import DIMENSION_ORDER  # noqa: E402
from evalwheel.graders.pedagogy.response.rules import grade_rules  # noqa: E402
from evalwheel.graders.pedagogy.response.trained import load_models, scores_from_matrix  # noqa: E402
from evalwheel.graders.pedagogy.response.vectorize import design_matrix  # noqa: E402

DEFAULT = shipped_root() / "mrbench" / "mrbench_v2_dev.json"  # the dev set that ships with evalwheel


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--limit", type=int, default=0, help="grade only the first N replies (0 = all)")
    args = ap.parse_args()
    items = mrbench_replies(load_mrbench(args.file))
    if args.limit:
        items = items[: args.limit]
    pairs = [(it.ctx, it.reply) for it in items]
    n = len(pairs)

    t = time.perf_counter()
    for ctx, reply in pairs:
        for dim in DIMENSION_ORDER:
            grade_rules(dim, ctx, reply)
    rules_s = time.perf_counter() - t

    t = time.perf_counter()
    bundle = load_models()
    embedder = MiniLMEmbedder(threads=1, cache=False)
    embedder.embed(["warm up"])
    load_s = time.perf_counter() - t

    t = time.perf_counter()
    X = design_matrix(pairs, embedder)
    for dim in DIMENSION_ORDER:
        scores_from_matrix(dim, pairs, X, bundle)
    trained_s = time.perf_counter() - t

    single = []
    for ctx, reply in pairs[:50]:
        t = time.perf_counter()
        x = design_matrix([(ctx, reply)], embedder)
        for dim in DIMENSION_ORDER:
            scores_from_matrix(dim, [(ctx, reply)], x, bundle)
        single.append(time.perf_counter() - t)

    print(
        json.dumps(
            {
                "file": str(args.file),
                "replies": n,
                "dimensions": len(DIMENSION_ORDER),
                "threads": 1,
                "cpu": platform.processor() or platform.machine(),
                "python": platform.python_version(),
                "rules": {"seconds": round(rules_s, 3), "replies_per_s": round(n / rules_s, 1)},
                "trained": {
                    "seconds": round(trained_s, 3),
                    "replies_per_s": round(n / trained_s, 1),
                    "model_load_s": round(load_s, 3),
                    "single_reply_ms_median": round(1000 * statistics.median(single), 1),
                    "note": "embedding of reply + last student turn included, batch 8, no cache; "
                    "trained tier also runs the rules (its evidence)",
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
