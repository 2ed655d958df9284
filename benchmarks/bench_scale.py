"""Scale-out benchmark: batch grading on a local Ray cluster vs one process, and ingest on PostgreSQL.

    python benchmarks/bench_scale.py [--sessions 20000] [--workers 1,2] [--ingest-events 20000] [--json]

What runs, all real:
- Synthetic logged sessions (JSONL) built from the shipped example sessions' turns
  (examples/studymode/sessions): each synthetic session takes a random example's prompt and a random
  contiguous run of user/assistant turn pairs from the pool, so sessions differ in length and content.
- `grade_logs` with `session_graders: [studymode.fidelity]` (the deterministic tier) into a Parquet file:
  once in this process (`local`), then on a local Ray cluster started with `num_cpus=K` for each K in
  `--workers` (the same code path as `evalwheel grade --executor ray`). Reported per run: sessions/s total,
  sessions/s per worker, and each Ray worker's peak RSS (VmHWM, read inside the workers after the run).
  overhead_vs_local = 1 - (1-worker Ray rate / local rate): what sharding, pickling and the driver cost.
- Ingest: `evalwheel monitor serve --no-worker` processes (1, then 2) on one PostgreSQL database
  (EVALWHEEL_TEST_PG_URL or --pg-url; skipped without one), fed by 4 SDK senders split over the servers;
  events/s acknowledged (stored) end to end.
The machine is shared: figures are for whatever else was running, and clients and servers share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

EXAMPLES = ROOT / "examples" / "studymode" / "sessions"


def synth_sessions(path: Path, n: int, seed: int = 7) -> int:
    """Write `n` synthetic sessions; returns bytes written."""
    rng = random.Random(seed)
    seeds = [json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))]
    pairs: list[list[dict[str, str]]] = []
    for s in seeds:
        turns = [{"role": t["role"], "content": t["content"]} for t in s["trajectory"]]
        pairs += [turns[i : i + 2] for i in range(0, len(turns) - 1, 2) if turns[i]["role"] == "user"]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            base = rng.choice(seeds)
            k = rng.randint(2, 6)
            start = rng.randrange(0, max(1, len(pairs) - k))
            trajectory = [t for pair in pairs[start : start + k] for t in pair]
            row = {
                "session_id": f"syn-{i:07d}",
                "domain": base["domain"],
                "prompt": base["prompt"],
                "trajectory": trajectory,
            }
            fh.write(json.dumps(row) + "\n")
    return path.stat().st_size


def _peak_rss_mb() -> tuple[int, float]:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return os.getpid(), int(line.split()[1]) / 1024
    return os.getpid(), float("nan")


def grade_once(logs: Path, out: Path, executor: Any) -> dict[str, Any]:
    from evalwheel.grade import grade_logs
    from evalwheel.grade.sinks import ParquetSink
    from evalwheel.monitor.config import MonitorConfig

    config = MonitorConfig.model_validate(
        {"session_graders": [{"name": "studymode.fidelity", "gate_scores": ["pedagogical_fidelity"]}]}
    )
    sink = ParquetSink(out)
    t0 = time.perf_counter()
    outcome = asyncio.run(grade_logs(logs, config, [sink], executor=executor, skip_invalid=True, chunk_size=500))
    sink.close("finished")
    wall = time.perf_counter() - t0
    return {"graded": outcome.graded, "wall_s": round(wall, 2), "sessions_per_s": round(outcome.graded / wall, 1)}


def ray_run(logs: Path, out: Path, workers: int) -> dict[str, Any]:
    import ray

    from evalwheel.grade import RayGrader

    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        warm = ray.get([ray.remote(num_cpus=1)(_peak_rss_mb).remote() for _ in range(workers)])  # start workers
        res = grade_once(logs, out, RayGrader())

        @ray.remote(num_cpus=1)
        def peak() -> tuple[int, float]:
            time.sleep(0.5)  # hold the slot so each probe lands on a different worker process
            return _peak_rss_mb()

        probes = dict(ray.get([peak.remote() for _ in range(workers)]))
        res["workers"] = workers
        res["sessions_per_s_per_worker"] = round(res["sessions_per_s"] / workers, 1)
        res["worker_peak_rss_mb"] = sorted(round(v, 1) for v in probes.values())
        res["idle_worker_rss_mb"] = sorted(round(v, 1) for _, v in warm)
        return res
    finally:
        ray.shutdown()


def ingest(pg_url: str, servers: int, total: int, config: Path) -> dict[str, Any]:
    from contextlib import ExitStack

    from evalwheel.monitor import Monitor
    from test_monitor_helpers import monitor_server

    with ExitStack() as stack:
        urls = [
            stack.enter_context(monitor_server(pg_url, "--no-worker", "--config", str(config)))[0]
            for _ in range(servers)
        ]
        senders = 4
        monitors = [
            Monitor(urls[k % servers], f"bench{servers}", batch_size=1000, max_buffer=200_000, flush_interval_s=0.05)
            for k in range(senders)
        ]
        per = total // senders

        def fire(k: int) -> None:
            m = monitors[k]
            for i in range(per):
                while not m.log(request_id=f"s{servers}-{k}-{i}", input="Which step comes next?", output="Try 2x."):
                    m.dropped_buffer_full -= 1
                    time.sleep(0.005)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=fire, args=(k,)) for k in range(senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for m in monitors:
            m.close(600)
        elapsed = time.perf_counter() - t0
        sent = sum(m.stats()["sent"] for m in monitors)
    return {"servers": servers, "events": sent, "events_per_s": round(sent / elapsed, 1), "lost": per * senders - sent}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sessions", type=int, default=20_000)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--ingest-events", type=int, default=20_000)
    ap.add_argument("--pg-url", default=os.environ.get("EVALWHEEL_TEST_PG_URL", ""))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from evalwheel.grade import LocalGrader

    result: dict[str, Any] = {"sessions": args.sessions, "cpus": os.cpu_count(), "loadavg": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp) / "sessions.jsonl"
        result["logs_mb"] = round(synth_sessions(logs, args.sessions) / 1e6, 1)
        result["local"] = grade_once(logs, Path(tmp) / "local.parquet", LocalGrader())
        result["ray"] = [ray_run(logs, Path(tmp) / f"ray{k}.parquet", int(k)) for k in args.workers.split(",")]
        one = next((r for r in result["ray"] if r["workers"] == 1), None)
        if one:
            result["overhead_vs_local"] = round(1 - one["sessions_per_s"] / result["local"]["sessions_per_s"], 3)
        if args.pg_url:
            config = Path(tmp) / "monitor.yaml"
            config.write_text("sampler: {default_rate: 0.1}\n")
            result["ingest_postgres"] = [ingest(args.pg_url, k, args.ingest_events, config) for k in (1, 2)]
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
