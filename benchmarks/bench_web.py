"""Review-workspace benchmark: every page's server time with 100,000 results in the store.

Target (issue 10): with 100,000 results in the store every page renders in under 300 ms. The store is
filled with synthetic but realistically shaped results (10 Study Mode-like scores with evidence, a
six-turn transcript each) spread over several runs of two specs, plus review items and labels; then
`evalwheel serve` runs as a subprocess on a loopback port and each page is fetched over HTTP.

    python benchmarks/bench_web.py [--results 100000] [--runs 10] [--store PATH] [--json]

The server folds every finished run once into a stored digest (a background thread at start-up); the
benchmark waits for that and reports how long it took. Then per page: the first request (cold: nothing in
the server's memory caches yet) and the median of the next five (warm), in milliseconds, measured by the
client (HTTP and rendering included). Compare is computed in the background; its first request returns the
"computing" page, so its cold figure is that page's time and the warm figure the finished comparison's.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from evalwheel.review import LabelInput, ReviewStore, build_candidates
from evalwheel.store import Store
from evalwheel.types import Evidence, Output, RunInfo, SampleResult, Score, Turn

CHECKS = [
    "diagnosis_first",
    "no_direct_answer_initially",
    "single_question_per_step",
    "wait_for_student",
    "check_reinforce",
    "vary_rhythm",
    "conciseness",
    "recap",
    "safety",
]
TARGET_MS = 300.0


def _result(run_id: str, i: int, rng: random.Random) -> SampleResult:
    verdicts = [rng.random() > 0.2 for _ in CHECKS]
    scores = [
        Score(
            name=c,
            value=float(v),
            passed=v,
            reason=f"{c} {'held' if v else 'missed'} on turn {i % 6}",
            evidence=[Evidence(turn_index=1, snippet="Before I explain: what have you tried so far?")],
            confidence=round(0.5 + rng.random() / 2, 2),
            metadata={"grader": "studymode.fidelity"},
        )
        for c, v in zip(CHECKS, verdicts, strict=True)
    ]
    fid = sum(verdicts) / len(verdicts)
    scores.append(
        Score(
            name="pedagogical_fidelity",
            value=fid,
            passed=fid >= 0.6,
            metadata={"grader": "studymode.fidelity", "escalate": fid < 0.5, "taxonomy": []},
        )
    )
    turns = [
        Turn(
            role="user" if k % 2 == 0 else "assistant",
            content=f"Learner message {k} about loops and lists. " * 4
            if k % 2 == 0
            else "Before I explain: what have you tried so far? " * 3,
        )
        for k in range(6)
    ]
    status = "passed" if fid >= 0.6 else "failed"
    partition = ("golden", "regression", "adversarial", "distribution")[i % 4]
    return SampleResult(
        run_id=run_id,
        sample_id=f"s{i:06d}",
        partition=partition,
        status=status,
        value=fid,
        scores=scores,
        output=Output(trajectory=turns, latency_ms=120.0),
    )


def fill(path: Path, total: int, n_runs: int) -> list[str]:
    store = Store(path)
    per_run = total // n_runs
    rng = random.Random(0)
    ids: list[str] = []
    for r in range(n_runs):
        run_id = f"bench-{r:03d}"
        spec, arm = ("studymode", ("base", "overlay:v2")[r % 2]) if r < n_runs - 2 else ("support", None)
        store.create_run(RunInfo(run_id=run_id, spec_name=spec, arm=arm, started_at=f"2026-11-{r + 1:02d}T10:00:00"))
        for start in range(0, per_run, 2000):
            store.add_results([_result(run_id, i, rng) for i in range(start, min(per_run, start + 2000))])
        store.set_run_status(run_id, "finished")
        ids.append(run_id)
    review = ReviewStore(store)
    review.enqueue(build_candidates(store, ids[:2], spot_checks=5))
    for name in ("ana", "ben"):
        review.add_reviewer(name)
    page, _ = review.queue(limit=300)
    for k, item in enumerate(page):
        for who in ("ana", "ben"):
            review.save_label(
                item.item_id,
                who,
                LabelInput(
                    checks={"diagnosis_first": "pass" if (k + (who == "ben")) % 3 else "fail"},
                    dimensions={"clarity": (k + len(who)) % 3},
                ),
            )
    return ids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch_ms(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as resp:
        resp.read()
        status = resp.status
    return (time.perf_counter() - t0) * 1000, status


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--store", type=Path, default=None, help="Reuse (or create) this SQLite store.")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-web-"))
    db = args.store or folder / "runs.sqlite"
    t0 = time.perf_counter()
    if not db.exists():
        ids = fill(db, args.results, args.runs)
    else:
        ids = [r.run_id for r in sorted(Store(db).list_runs(limit=1000), key=lambda r: r.run_id)]
    fill_s = time.perf_counter() - t0
    n_results = sum(Store(db).count_results(i) for i in ids)
    item = ReviewStore(db).queue(limit=1)[0][0]
    port = free_port()
    log = (folder / "serve.log").open("w")  # the server's log (a pipe nobody reads could fill and block it)
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalwheel.cli", "serve", "--store", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                fetch_ms(base + "/login")
                break
            except OSError:
                time.sleep(0.1)
        # the server folds each finished run once into a stored digest, in a background thread at start-up;
        # /ready answers 200 when that warm-up is done
        t_warm = time.perf_counter()
        while time.perf_counter() - t_warm < 900:
            try:
                if fetch_ms(base + "/ready")[1] == 200:
                    break
            except OSError:  # 503 while warming up
                pass
            time.sleep(0.5)
        warm_up_s = time.perf_counter() - t_warm
        pages = {
            "runs": "/",
            "runs (filtered)": "/?spec=studymode&arm=base",
            "run": f"/runs/{ids[0]}",
            "run (failing page 20)": f"/runs/{ids[0]}?p=20",
            "sample": f"/runs/{ids[0]}/samples/s000007",
            "compare": f"/compare?a={ids[0]}&b={ids[2]}",
            "trends": "/trends?spec=studymode",
            "monitor": "/monitor",
            "review queue": "/review",
            "review item": f"/review/items/{item.item_id}",
            "graders": "/graders",
        }
        rows: dict[str, dict[str, Any]] = {}
        compare_s = None
        for name, path in pages.items():
            cold, status = fetch_ms(base + path)
            if name == "compare":  # wait for the background comparison before timing the finished page
                t_cmp = time.perf_counter()
                while b'id="pending"' in urllib.request.urlopen(base + path, timeout=120).read():
                    time.sleep(0.5)
                compare_s = time.perf_counter() - t_cmp
            warm = statistics.median(fetch_ms(base + path)[0] for _ in range(5))
            rows[name] = {"path": path, "status": status, "cold_ms": round(cold, 1), "warm_ms": round(warm, 1)}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    report = {
        "results": n_results,
        "runs": len(ids),
        "fill_s": round(fill_s, 1),
        "digest_warm_up_s": round(warm_up_s, 1),
        "compare_background_s": None if compare_s is None else round(compare_s, 1),
        "target_ms": TARGET_MS,
        "pages": rows,
        "max_warm_ms": max(r["warm_ms"] for r in rows.values()),
        "max_cold_ms": max(r["cold_ms"] for r in rows.values()),
        "machine": f"{platform.machine()} {platform.system()}, Python {platform.python_version()}",
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"{n_results:,} results in {len(ids)} runs (store filled in {fill_s:.0f} s; "
        f"run digests computed in {warm_up_s:.1f} s after start-up)"
    )
    print(f"compare computed in the background in {compare_s or 0:.1f} s")
    for name, r in rows.items():
        flag = "" if r["warm_ms"] < TARGET_MS else "  OVER TARGET"
        print(f"{name:24} cold {r['cold_ms']:8.1f} ms   warm {r['warm_ms']:8.1f} ms{flag}")


if __name__ == "__main__":
    main()
