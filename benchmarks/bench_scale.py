"""Scale-out benchmark: batch grading on a local Ray cluster vs one process, the encoder tier batched, and the
monitoring queue (PostgreSQL table vs Redis stream).

    python benchmarks/bench_scale.py [--sessions 100000] [--local-sessions N] [--workers 1,2]
        [--grader checks|dimensions] [--encoder-replies 2048] [--ingest-events 20000]
        [--queue-events 20000] [--skip-grading] [--json]

What runs, all real:
- Synthetic logged sessions (JSONL) built from the shipped example sessions' turns
  (examples/studymode/sessions): each synthetic session takes a random example's prompt and a random
  contiguous run of 2-6 user/assistant turn pairs from the pool, so sessions differ in length and content.
- `bare_grader`: `evaluate_session` in a loop on parsed sessions (the grader alone, per CPU-second): the
  per-core ceiling. `--grader checks` = tagging + the nine checks + fidelity (bench_checks.py's
  "checks only"); `dimensions` adds the seven reviewer dimensions (code execution off in both).
- `local`: `grade_logs` in this process (LocalGrader) into Parquet: wall rate, CPU seconds per 1,000
  sessions, overhead vs the bare grader (reading, validating, folding, serialising, writing).
- `ray`: the same file on a local Ray cluster started with `num_cpus=K` for each K in `--workers` (the code
  path of `evalwheel grade --executor ray`: byte-range shards, Parquet parts, merge). Reported: wall rate,
  rate per worker, worker CPU seconds (measured inside the workers per shard), driver CPU, each worker's
  peak RSS (VmHWM). overhead_vs_local_cpu compares CPU per session (workers + driver vs one process), which
  other load on a shared machine does not distort the way wall-clock rates are distorted.
- `encoder` (--encoder-replies N [--encoder-rounds R]): two response graders (linear tier on MiniLM, int8 ONNX
  encoder), each on its own, on N logged replies: one call per 256-reply chunk vs one call per reply,
  alternating over R rounds; CPU per reply and the median per-round CPU ratio.
- Ingest (--ingest-events, needs --pg-url or EVALWHEEL_TEST_PG_URL): `evalwheel monitor serve --no-worker`
  processes (1, then 2) on one PostgreSQL database fed by 4 SDK senders; events/s acknowledged end to end.
- Queues (--queue-events N): the same ingest (every event sampled, so every event is queued), then N queued
  events drained by 1 and 2 `Worker` processes (the deterministic `constraints` grader), with the queue as
  the PostgreSQL table and as a Redis stream on a redis-server started here; the store is PostgreSQL in both.
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


_DIMENSIONS = ("pedagogical_fidelity", "accuracy", "clarity", "engagement", "personalization", "safety",
               "opportunity_for_learning")  # fmt: skip
# `checks`: tagging + the nine checks + fidelity (what bench_checks.py calls checks-only, ~2,000/s per core);
# `dimensions`: the same plus the seven reviewer dimensions (code execution off).
GRADER_CONFIGS: dict[str, dict[str, Any]] = {
    "checks": {"execute_code": False, **{d: {"enabled": False} for d in _DIMENSIONS}},
    "dimensions": {"execute_code": False},
}


def monitor_config(grader: str) -> Any:
    from evalwheel.monitor.config import MonitorConfig

    return MonitorConfig.model_validate(
        {"session_graders": [{"name": "studymode.fidelity", "gate_scores": ["pedagogical_fidelity"],
                              "config": {"studymode": {"dimensions": GRADER_CONFIGS[grader]}}}]}
    )  # fmt: skip


def bare_rate(logs: Path, grader: str, limit: int = 5000) -> dict[str, Any]:
    """The grader alone (`evaluate_session` in a loop, sessions already parsed): the per-core ceiling."""
    from evalwheel.graders.pedagogy.session import EvaluationConfig, evaluate_session
    from evalwheel.types import Session

    with logs.open() as fh:
        sessions = [Session.model_validate_json(line) for _, line in zip(range(limit), fh, strict=False)]
    cfg = EvaluationConfig.model_validate({"dimensions": GRADER_CONFIGS[grader]})
    evaluate_session(sessions[0], cfg)  # warm (regex compilation, imports)
    t0 = time.process_time()
    for s in sessions:
        evaluate_session(s, cfg)
    cpu = time.process_time() - t0
    return {"sessions": len(sessions), "cpu_s": round(cpu, 2), "sessions_per_cpu_s": round(len(sessions) / cpu, 1)}


def grade_once(logs: Path, out: Path, executor: Any, grader: str) -> dict[str, Any]:
    from evalwheel.grade import grade_logs
    from evalwheel.grade.sinks import ParquetSink

    sink = ParquetSink(out)
    t0, c0 = time.perf_counter(), time.process_time()
    outcome = asyncio.run(
        grade_logs(logs, monitor_config(grader), [sink], executor=executor, skip_invalid=True, chunk_size=500)
    )
    sink.close("finished")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    res: dict[str, Any] = {
        "graded": outcome.graded,
        "wall_s": round(wall, 2),
        "sessions_per_s": round(outcome.graded / wall, 1),
        "driver_cpu_s": round(cpu, 2),
        "out_mb": round(out.stat().st_size / 1e6, 1),
    }
    if outcome.workers:
        worker_cpu = sum(w["cpu_s"] for w in outcome.workers.values())
        res["worker_cpu_s"] = round(worker_cpu, 2)
        res["sessions_per_worker_cpu_s"] = round(outcome.graded / worker_cpu, 1)
        res["cpu_s_per_1000_sessions"] = round(1000 * (worker_cpu + cpu) / outcome.graded, 3)
        res["worker_peak_rss_mb"] = sorted(w["peak_rss_mb"] for w in outcome.workers.values())
        res["shards"] = int(sum(w["shards"] for w in outcome.workers.values()))
    else:
        res["sessions_per_cpu_s"] = round(outcome.graded / cpu, 1)
        res["cpu_s_per_1000_sessions"] = round(1000 * cpu / outcome.graded, 3)
        res["peak_rss_mb"] = round(_peak_rss_mb()[1], 1)
    return res


def ray_run(logs: Path, out: Path, workers: int, grader: str) -> dict[str, Any]:
    import ray

    from evalwheel.grade import RayGrader

    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        warm = ray.get([ray.remote(num_cpus=1)(_peak_rss_mb).remote() for _ in range(workers)])  # start workers
        res = grade_once(logs, out, RayGrader(), grader)
        res["workers"] = workers
        res["sessions_per_s_per_worker"] = round(res["sessions_per_s"] / workers, 1)
        res["idle_worker_rss_mb"] = sorted(round(v, 1) for _, v in warm)
        return res
    finally:
        ray.shutdown()


def ingest(pg_url: str, servers: int, total: int, config: Path, queue: str | None = None) -> dict[str, Any]:
    from contextlib import ExitStack

    from evalwheel.monitor import Monitor
    from test_monitor_helpers import monitor_server

    extra = ["--queue", queue] if queue else []
    with ExitStack() as stack:
        urls = [
            stack.enter_context(monitor_server(pg_url, "--no-worker", "--config", str(config), *extra))[0]
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


SUPPORT_REPLY = "The Pro plan costs $16 per user per month billed annually.\n\nBest regards,\nTaskHarbor Support"


def _worker_proc(store: str, queue: str | None, name: str, barrier: Any, results: Any) -> None:
    """One worker process: bind graders, wait for the others, then drain the queue and report its window."""
    from evalwheel.monitor.config import MonitorConfig
    from evalwheel.monitor.redis_queue import open_monitor_store
    from evalwheel.monitor.worker import Worker

    cfg = MonitorConfig.model_validate(
        {"graders": [{"name": "constraints", "config_file": str(ROOT / "examples/support/constraints.yaml")}]}
    )
    w = Worker(open_monitor_store(store, queue), cfg, batch=500, worker_id=name)
    barrier.wait()
    t0, c0 = time.time(), time.process_time()
    asyncio.run(w.drain())
    results.put((name, t0, time.time(), time.process_time() - c0, w.stats.graded))


def worker_rate(store: str, queue: str | None, processes: int, n: int) -> dict[str, Any]:
    """`n` sampled events queued, then `processes` worker processes drain them (the `constraints` grader)."""
    import multiprocessing as mp

    from evalwheel.monitor.events import Event
    from evalwheel.monitor.queue import Decision
    from evalwheel.monitor.redis_queue import open_monitor_store

    st = open_monitor_store(store, queue)
    batch = [
        (Event(request_id=f"w{i}", app="bench", input="How much is Pro?", output=SUPPORT_REPLY, timestamp=1.0),
         Decision("x", True, 1.0, "b"))
        for i in range(n)
    ]  # fmt: skip
    for i in range(0, n, 2000):
        st.enqueue(batch[i : i + 2000])
    st.close()
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=_worker_proc, args=(store, queue, f"w{k}", barrier, results)) for k in range(processes)]
    for pr in procs:
        pr.start()
    got = [results.get(timeout=900) for _ in procs]
    for pr in procs:
        pr.join()
    start, end = min(g[1] for g in got), max(g[2] for g in got)
    graded = sum(g[4] for g in got)
    return {"processes": processes, "graded": graded, "events_per_s": round(graded / (end - start), 1),
            "events_per_cpu_s": round(graded / sum(g[3] for g in got), 1),
            "per_process": [g[4] for g in got]}  # fmt: skip


def queue_bench(pg_url: str, events: int, ingest_events: int, tmp: Path) -> dict[str, Any]:
    """The PostgreSQL table queue vs a Redis stream (store on PostgreSQL in both): ingest and workers, 1 and 2."""
    os.environ["EVALWHEEL_TEST_PG_URL"] = pg_url
    from conftest import _drop_postgres_database, _fresh_postgres_database
    from redis_helpers import redis_server

    config = tmp / "monitor-all.yaml"
    config.write_text("sampler: {default_rate: 1.0}\n")  # every event goes through the queue
    out: dict[str, Any] = {}
    with redis_server(tmp) as redis_url:
        import redis

        for backend, queue in (("postgres", None), ("redis", redis_url)):
            rows: dict[str, Any] = {"ingest": [], "workers": []}
            for k in (1, 2):
                for kind in ("ingest", "workers"):
                    url, name = _fresh_postgres_database()
                    redis.Redis.from_url(redis_url).flushall()
                    try:
                        if kind == "ingest":
                            rows["ingest"].append(ingest(url, k, ingest_events, config, queue))
                        else:
                            rows["workers"].append(worker_rate(url, queue, k, events))
                    finally:
                        _drop_postgres_database(name)
            out[backend] = rows
    return out


ENCODER_CONFIG = {
    "graders": [
        {"name": "pedagogy.providing_guidance"},  # linear tier: MiniLM embeddings + logistic regression
        {"name": "pedagogy.mistake_identification", "config": {"tier": "encoder"}},  # int8 ONNX cross-encoder
    ]
}


def encoder_rate(n: int, chunk: int = 256, seed: int = 7, rounds: int = 3) -> dict[str, Any]:
    """Response graders (embedder + ONNX encoder) on `n` logged replies, one call per chunk vs one per reply.

    Events pair a random learner turn with a random tutor reply from the seed sessions. Each grader is timed
    on its own (config `ENCODER_CONFIG`), and the two modes alternate over `rounds` rounds (batched, per
    reply, batched, ...) so that load drifting on a shared machine does not favour the mode that ran first.
    Rates are replies per process CPU-second (onnxruntime's threads included); the ratio reported is the
    median of the per-round ratios."""
    from statistics import median

    from evalwheel.grade.batch import grade_rows
    from evalwheel.monitor.config import MonitorConfig

    rng = random.Random(seed)
    seeds = [json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))]
    users = [t["content"] for s in seeds for t in s["trajectory"] if t["role"] == "user"]
    tutors = [t["content"] for s in seeds for t in s["trajectory"] if t["role"] == "assistant"]
    rows = [(i + 1, {"request_id": f"e{i}", "app": "bench", "input": rng.choice(users), "output": rng.choice(tutors)})
            for i in range(n)]  # fmt: skip
    loop = asyncio.new_event_loop()
    out: dict[str, Any] = {"replies": n, "chunk": chunk, "rounds": rounds, "graders": {}}
    for spec in ENCODER_CONFIG["graders"]:
        config = MonitorConfig.model_validate({"graders": [spec]})
        loop.run_until_complete(grade_rows(config, True, rows[:8], 16))  # load the models before timing
        times: dict[str, list[tuple[float, float]]] = {"batched": [], "per_reply": []}
        for _ in range(rounds):
            for batched in (True, False):
                t0, c0 = time.perf_counter(), time.process_time()
                for i in range(0, n, chunk):
                    loop.run_until_complete(grade_rows(config, True, rows[i : i + chunk], 16, batched=batched))
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                times["batched" if batched else "per_reply"].append((wall, cpu))
        res: dict[str, Any] = {}
        for key, runs in times.items():
            wall, cpu = sum(w for w, _ in runs), sum(c for _, c in runs)
            res[key] = {"replies_per_s": round(n * rounds / wall, 1), "replies_per_cpu_s": round(n * rounds / cpu, 1),
                        "cpu_ms_per_reply": round(1000 * cpu / (n * rounds), 1)}  # fmt: skip
        ratios = [p[1] / b[1] for b, p in zip(times["batched"], times["per_reply"], strict=True)]
        res["speedup_cpu_median"] = round(median(ratios), 2)  # per-reply CPU / batched CPU, per round
        res["speedup_cpu_per_round"] = [round(r, 2) for r in ratios]
        out["graders"][f"{spec['name']} ({spec.get('config', {}).get('tier', 'best')})"] = res
    return out


def grading(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The bare grader, the local engine and Ray with each worker count, on one synthetic file."""
    from evalwheel.grade import LocalGrader

    result: dict[str, Any] = {}
    logs = tmp / "sessions.jsonl"
    result["logs_mb"] = round(synth_sessions(logs, args.sessions) / 1e6, 1)
    result["bare_grader"] = bare_rate(logs, args.grader)
    local_logs = logs
    if args.local_sessions and args.local_sessions < args.sessions:
        local_logs = tmp / "local.jsonl"
        with logs.open() as src, local_logs.open("w") as dst:
            dst.writelines(line for _, line in zip(range(args.local_sessions), src, strict=False))
    result["local"] = grade_once(local_logs, tmp / "local.parquet", LocalGrader(), args.grader)
    result["local"]["overhead_vs_bare_grader"] = round(
        1 - result["local"]["sessions_per_cpu_s"] / result["bare_grader"]["sessions_per_cpu_s"], 3
    )
    result["ray"] = []
    for k in args.workers.split(","):
        run = ray_run(logs, tmp / f"ray{k}.parquet", int(k), args.grader)
        # CPU per session, Ray (workers + driver) vs one process: other load on a shared machine distorts it less
        run["cpu_overhead_vs_local"] = round(
            run["cpu_s_per_1000_sessions"] / result["local"]["cpu_s_per_1000_sessions"] - 1, 3
        )
        result["ray"].append(run)
        (tmp / f"ray{k}.parquet").unlink()
    one = next((r for r in result["ray"] if r["workers"] == 1), None)
    if one:  # CPU per session, Ray (workers + driver) vs one process: load on the shared machine cancels out
        result["overhead_vs_local_cpu"] = round(
            one["cpu_s_per_1000_sessions"] / result["local"]["cpu_s_per_1000_sessions"] - 1, 3
        )
        result["overhead_vs_local_wall"] = round(1 - one["sessions_per_s"] / result["local"]["sessions_per_s"], 3)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sessions", type=int, default=20_000)
    ap.add_argument("--local-sessions", type=int, default=0, help="grade only the first N locally (0: all)")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--grader", choices=sorted(GRADER_CONFIGS), default="checks")
    ap.add_argument("--ingest-events", type=int, default=20_000)
    ap.add_argument("--pg-url", default=os.environ.get("EVALWHEEL_TEST_PG_URL", ""))
    ap.add_argument("--queue-events", type=int, default=0,
                    help="compare the PostgreSQL and Redis queues: events per worker run (ingest uses --ingest-events)")
    ap.add_argument("--skip-grading", action="store_true", help="only the ingest / queue measurements")
    ap.add_argument("--encoder-replies", type=int, default=0, help="response graders batched vs per reply")
    ap.add_argument("--encoder-rounds", type=int, default=3, help="alternating batched / per-reply rounds")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result: dict[str, Any] = {"sessions": args.sessions, "grader": args.grader, "cpus": os.cpu_count(),
                              "loadavg_start": os.getloadavg()}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_grading:
            result.update(grading(Path(tmp), args))
        if args.pg_url and args.ingest_events and not args.queue_events:
            config = Path(tmp) / "monitor.yaml"
            config.write_text("sampler: {default_rate: 0.1}\n")
            result["ingest_postgres"] = [ingest(args.pg_url, k, args.ingest_events, config) for k in (1, 2)]
        if args.encoder_replies:
            result["encoder"] = encoder_rate(args.encoder_replies, rounds=args.encoder_rounds)
        if args.pg_url and args.queue_events:
            result["queues"] = queue_bench(args.pg_url, args.queue_events, args.ingest_events, Path(tmp))
    result["loadavg_end"] = os.getloadavg()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
