"""Fault benchmark (issue 15, item 2): a run through 429/500 storms and hung requests finishes every sample,
close to the fault-free wall time.

Scenario: a 1,000-sample prompt-solver run at concurrency 50 (the run engine in process: dataset streaming,
the HTTP client with retries / limiter / timeouts, grading, store) against the HTTP test double
(benchmarks/fake_openai_server.py, its own process, 100 ms latency), once fault-free and once with 20% of
requests answered 429 (Retry-After: 0) or 500 and 1% never answered. The run uses the spec's
`timeouts.first_byte_s` (default here 1 s) to cut hung requests, optionally with hedging.
Target: the faulty run completes every sample within 3x the fault-free wall time.
Each configuration runs `--repeats` times (default 3) and the median is reported, because the 2-core
machine is shared.

    python benchmarks/bench_faults.py [--samples 1000] [--concurrency 50] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_models import fake_server  # noqa: E402

from evalwheel.models.http import OpenAIModel  # noqa: E402
from evalwheel.runs.dataset_source import prepare_dataset  # noqa: E402
from evalwheel.runs.engine import execute, plan_run  # noqa: E402
from evalwheel.runs.spec import load_spec  # noqa: E402
from evalwheel.store import Store  # noqa: E402

FAKE_REPLY = "Let's work it out together: what do you multiply the base by?"


def write_project(root: Path, n: int, base_url: str, concurrency: int, first_byte_s: float, hedge: bool) -> Path:
    with (root / "data.jsonl").open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"q{i:06d}", "input": f"Question {i}", "reference": FAKE_REPLY}) + "\n")
    spec = {
        "name": "faults",
        "dataset": "data.jsonl",
        "solver": {"type": "prompt", "model": f"{base_url}#fake", "template": "{input}", "max_tokens": 32},
        "graders": [{"name": "exact"}],
        "concurrency": concurrency,
        "timeouts": {"first_byte_s": first_byte_s},
        "hedge": {"enabled": hedge},
        "store": "runs.sqlite",
    }
    path = root / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def server_stats(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/stats", timeout=5) as resp:
        data: dict[str, Any] = json.loads(resp.read())
    return data


def _client(model: object) -> OpenAIModel | None:
    while model is not None and not isinstance(model, OpenAIModel):
        model = getattr(model, "inner", None)
    return model


async def run_once(spec_path: Path) -> dict[str, Any]:
    spec = load_spec(spec_path)
    plan = plan_run(spec, cache=False)
    dataset = prepare_dataset(spec.dataset_path)
    store = Store(spec.resolve("runs.sqlite"))
    t0 = time.perf_counter()
    try:
        outcome = await execute(plan, dataset, store)
    finally:
        await plan.aclose()
    wall = time.perf_counter() - t0
    stored = store.count_results(outcome.run.run_id)
    store.close()
    client = _client(plan.solver_ctx.model)
    limiter = client.limiter if client is not None else None
    return {
        "wall_s": round(wall, 3),
        "stored": stored,
        "counts": outcome.counts,
        "limit_lowest": limiter.lowest if limiter else None,
        "limit_final": limiter.limit if limiter else None,
        "limit_cuts": limiter.cuts if limiter else None,
        "throttle_events": limiter.throttle_events if limiter else None,
        "hedges": client.hedges if client else None,
    }


def scenario(args: argparse.Namespace, *, error_rate: float, hang_rate: float, hedge: bool) -> dict[str, Any]:
    runs = []
    for _ in range(args.repeats):
        with fake_server(args.latency_ms, error_rate=error_rate, hang_rate=hang_rate) as url:
            with tempfile.TemporaryDirectory() as tmp:
                spec = write_project(Path(tmp), args.samples, url, args.concurrency, args.first_byte_s, hedge)
                result = asyncio.run(run_once(spec))
            stats = server_stats(url)
        result["server_requests"] = stats["requests"]
        result["server_status"] = stats["status"]
        result["server_hung"] = stats.get("hung", 0)
        result["all_completed"] = result["stored"] == args.samples and result["counts"].get("error", 0) == 0
        runs.append(result)
    return {
        "error_rate": error_rate,
        "hang_rate": hang_rate,
        "hedge": hedge,
        "median_wall_s": statistics.median(r["wall_s"] for r in runs),
        "all_completed": all(r["all_completed"] for r in runs),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--first-byte-s", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    clean = scenario(args, error_rate=0.0, hang_rate=0.0, hedge=False)
    faults = scenario(args, error_rate=0.2, hang_rate=0.01, hedge=False)
    hedged = scenario(args, error_rate=0.2, hang_rate=0.01, hedge=True)
    base = clean["median_wall_s"]
    out = {
        "samples": args.samples,
        "concurrency": args.concurrency,
        "latency_ms": args.latency_ms,
        "first_byte_timeout_s": args.first_byte_s,
        "repeats": args.repeats,
        "fault_free": clean,
        "faults": faults,
        "faults_hedged": hedged,
        "ratio_faults": round(faults["median_wall_s"] / base, 2),
        "ratio_faults_hedged": round(hedged["median_wall_s"] / base, 2),
        "target_ratio": 3.0,
    }
    out["meets_target"] = bool(
        faults["all_completed"]
        and hedged["all_completed"]
        and out["ratio_faults"] <= 3.0
        and out["ratio_faults_hedged"] <= 3.0
    )
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for name in ("fault_free", "faults", "faults_hedged"):
        s = out[name]
        walls = ", ".join(f"{r['wall_s']:.2f}" for r in s["runs"])
        lows = ", ".join(str(r["limit_lowest"]) for r in s["runs"])
        print(
            f"{name:14} median {s['median_wall_s']:.2f} s (runs {walls}); all completed: {s['all_completed']}; "
            f"lowest limit {lows}"
        )
    print(f"ratio faults / fault-free: {out['ratio_faults']} (hedged {out['ratio_faults_hedged']}); target <= 3.0")


if __name__ == "__main__":
    main()
