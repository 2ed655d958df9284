"""Run-engine benchmark: framework overhead per sample, a cached re-run of a 1,000-sample spec, flat memory.

Targets (issue 5): a cached re-run of a 1,000-sample spec finishes in under 2 seconds, and the framework's
overhead per sample stays under 1 ms of CPU. The target model is the fake OpenAI-compatible server (an HTTP
test double, in its own process so its CPU is not counted), with zero latency, so what is measured is
evalwheel: dataset streaming, the HTTP client, grading, group-committed SQLite writes, summaries and gates.

    python benchmarks/bench_runs.py [--samples 1000] [--json]

Reported:
- cold run (every call goes to the server): process CPU ms per sample — the framework overhead;
- cached re-run, in process: wall seconds and CPU ms per sample (answers from the response cache);
- cached re-run through the CLI (`evalwheel run SPEC`, a fresh interpreter): wall seconds, imports included;
- peak traced memory of the engine for N and 4N samples (flat memory means it does not grow with N).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_models import fake_server  # noqa: E402

from evalwheel.gates import evaluate_gates, parse_gate_config, summarize  # noqa: E402
from evalwheel.runs.dataset_source import prepare_dataset  # noqa: E402
from evalwheel.runs.engine import execute, plan_run  # noqa: E402
from evalwheel.runs.spec import load_spec  # noqa: E402
from evalwheel.store import Store  # noqa: E402

FAKE_REPLY = "Let's work it out together: what do you multiply the base by?"  # the fast test double's answer


def write_project(root: Path, n: int, base_url: str) -> Path:
    with (root / "data.jsonl").open("w") as fh:
        for i in range(n):
            part = "golden" if i < 5 else "distribution"
            row = {
                "id": f"q{i:06d}",
                "partition": part,
                "input": f"Question number {i}: what is {i} + 1?",
                "reference": FAKE_REPLY,
                "tags": ["bench"],
            }
            fh.write(json.dumps(row) + "\n")
    spec = {
        "name": "bench",
        "dataset": "data.jsonl",
        "solver": {"type": "prompt", "model": f"{base_url}#fake", "template": "{input}", "max_tokens": 32},
        "graders": [{"name": "exact"}, {"name": "token_f1", "gate": False}],
        "gates": {"golden": {"min_pass_rate": 1.0}, "distribution": {"min_pass_rate": 0.9}},
        "concurrency": 32,
        "store": "runs.sqlite",
    }
    path = root / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


async def run_once(spec_path: Path, *, gates: bool = True) -> tuple[float, float, str]:
    spec = load_spec(spec_path)
    t0, c0 = time.perf_counter(), time.process_time()
    plan = plan_run(spec)
    dataset = prepare_dataset(spec.dataset_path)
    store = Store(spec.resolve("runs.sqlite"))
    try:
        outcome = await execute(plan, dataset, store)
    finally:
        await plan.aclose()
    assert store.count_results(outcome.run.run_id) == dataset.count, "every sample must be stored"
    if gates:
        summary = summarize(store.iter_results(outcome.run.run_id, with_output=False))
        report = evaluate_gates(summary, parse_gate_config(spec.gates))
        assert report.exit_code == 0, report.gates
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    store.close()
    return wall, cpu, outcome.run.run_id


def peak_memory(spec_path: Path, *, gates: bool) -> float:
    tracemalloc.start()
    asyncio.run(run_once(spec_path, gates=gates))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    n = args.samples
    results: dict[str, Any] = {"samples": n}
    with fake_server(0.0) as base_url, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["EVALWHEEL_CACHE_DIR"] = str(root / "cache")
        spec_path = write_project(root, n, base_url)
        wall, cpu, _ = asyncio.run(run_once(spec_path))
        results["cold"] = {"wall_s": round(wall, 3), "cpu_ms_per_sample": round(cpu * 1000 / n, 3)}
        wall, cpu, _ = asyncio.run(run_once(spec_path))
        results["cached_in_process"] = {"wall_s": round(wall, 3), "cpu_ms_per_sample": round(cpu * 1000 / n, 3)}
        env = {**os.environ, "EVALWHEEL_CACHE_DIR": str(root / "cache")}
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "evalwheel.cli", "run", str(spec_path), "--no-progress", "--baseline", "none"],
            env=env,
            capture_output=True,
            text=True,
            cwd=root,
        )
        results["cached_cli"] = {"wall_s": round(time.perf_counter() - t0, 3), "exit_code": proc.returncode}
        if proc.returncode != 0:
            print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
        small = peak_memory(spec_path, gates=False)
        small_g = peak_memory(spec_path, gates=True)
        big_root = root / "big"
        big_root.mkdir()
        big_spec = write_project(big_root, 4 * n, base_url)
        asyncio.run(run_once(big_spec))  # fill the cache so both memory runs are cached runs
        big = peak_memory(big_spec, gates=False)
        big_g = peak_memory(big_spec, gates=True)
        results["peak_traced_mb"] = {
            "engine": {str(n): round(small, 1), str(4 * n): round(big, 1)},
            "engine+summary+gates": {str(n): round(small_g, 1), str(4 * n): round(big_g, 1)},
        }
    results["targets"] = {
        "cached_rerun_under_2s_cli": results["cached_cli"]["wall_s"] < 2.0,
        "overhead_under_1ms_cpu": results["cold"]["cpu_ms_per_sample"] < 1.0,
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"samples: {n}")
    cold = results["cold"]
    print(f"cold run:          {cold['wall_s']:.2f} s wall, {cold['cpu_ms_per_sample']:.3f} ms CPU/sample")
    print(
        f"cached (in proc):  {results['cached_in_process']['wall_s']:.2f} s wall, "
        f"{results['cached_in_process']['cpu_ms_per_sample']:.3f} ms CPU/sample"
    )
    print(f"cached (CLI):      {results['cached_cli']['wall_s']:.2f} s wall (fresh interpreter, imports included)")
    print(f"peak traced memory: {results['peak_traced_mb']}")
    print(f"targets: {results['targets']}")


if __name__ == "__main__":
    main()
