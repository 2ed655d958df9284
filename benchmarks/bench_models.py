"""Model-layer throughput and client CPU per call, against the fake OpenAI-compatible server.

The fake server (benchmarks/fake_openai_server.py, a protocol test double) runs in a separate process
with a fixed latency, so this process's CPU time (time.process_time) is the client side only: our
OpenAIModel + retries + limiter + aiohttp + the event loop. For each concurrency c, c workers each make
calls back to back (a closed loop, exactly c in flight), so the ideal throughput is c / latency.
Workers start staggered over one latency period (steady state); `pct_of_ideal_lockstep_start` is the
same load started all at once, where bursts of c responses queue behind one event loop.

Also measured: the same load with raw aiohttp (`raw_aiohttp_pct_of_ideal`, `raw_aiohttp_cpu_ms_per_call`:
the floor our layer adds to) and with raw httpx (`raw_httpx_*`: one shared AsyncClient, HTTP/1.1, pool
sized to the concurrency; issue #3 asked to measure both), and a run with 20% injected errors (half 429
with Retry-After, half 500) in which every request must still complete. httpx is not a project
dependency: without it (`pip install httpx`) the httpx rows are skipped and `httpx` says why.

    python benchmarks/bench_models.py [--latency-ms 100] [--calls-per-worker 30] [--levels 1,8,32,64,128]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from evalwheel.models.base import GenerateConfig, Message
from evalwheel.models.http import OpenAIModel
from evalwheel.models.reliability import AdaptiveLimiter, RetryPolicy

HERE = Path(__file__).resolve().parent
MESSAGES = [
    Message(role="system", content="You are a patient tutor. Never give the answer away."),
    Message(role="user", content="How do I find the area of a triangle with base 6 and height 4?"),
]
CONFIG = GenerateConfig(max_tokens=64)


def httpx_status() -> tuple[bool, str]:
    """(importable, version or the reason it is skipped): httpx is an optional, bench-only extra."""
    try:
        import httpx
    except ImportError as exc:
        return False, f"skipped: httpx not importable ({exc}); pip install httpx to measure it"
    return True, str(httpx.__version__)


def raw_request() -> tuple[bytes, dict[str, str]]:
    """The request body and headers the raw baselines send, serialized once (no per-call pydantic)."""
    body = json.dumps(
        {
            "model": "fake",
            "messages": [m.model_dump() for m in MESSAGES],
            "max_tokens": 64,
            "temperature": 0.0,
        }
    ).encode()
    return body, {"Content-Type": "application/json"}


async def measure_raw(
    call: Callable[[], Awaitable[Any]], concurrency: int, per_worker: int, latency_s: float
) -> dict[str, Any]:
    """Warm up (open the connections), then the same staggered closed loop as `bench_level`."""
    await closed_loop(call, concurrency, 2)
    _, cpu, rate = await closed_loop(call, concurrency, per_worker, stagger_s=latency_s)
    n = concurrency * per_worker
    return {
        "concurrency": concurrency,
        "calls": n,
        "pct_of_ideal": round(100 * rate * latency_s / concurrency, 1),
        "cpu_ms_per_call": round(1000 * cpu / n, 3),
    }


@contextmanager
def fake_server(
    latency_ms: float, error_rate: float = 0.0, retry_after: str = "0", hang_rate: float = 0.0
) -> Iterator[str]:
    """Start the test-double server in its own process; yield its base URL."""
    cmd = [sys.executable, str(HERE / "fake_openai_server.py"), "--latency-ms", str(latency_ms)]
    cmd += ["--error-rate", str(error_rate), "--retry-after", retry_after, "--hang-rate", str(hang_rate)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("PORT "):
            raise RuntimeError(f"fake server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def closed_loop(
    call: Callable[[], Awaitable[Any]], concurrency: int, per_worker: int, stagger_s: float = 0.0
) -> tuple[float, float, float]:
    """Run `concurrency` workers of `per_worker` sequential calls; return (wall s, CPU s, steady-state calls/s).

    Worker i starts `i * stagger_s / concurrency` late. Started all at once, every worker would send and
    receive in lock-step bursts, and a burst of 64 responses queues behind one event loop for
    64 x (CPU per call): an artefact of the benchmark, not of a real workload whose latencies vary.
    The steady-state rate sums each worker's own calls / own duration, so the ramp is not counted.
    """
    durations: list[float] = []

    async def worker(i: int) -> None:
        if stagger_s:
            await asyncio.sleep(i * stagger_s / concurrency)
        t = time.perf_counter()
        for _ in range(per_worker):
            await call()
        durations.append(time.perf_counter() - t)

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    rate = sum(per_worker / d for d in durations)
    return time.perf_counter() - t0, time.process_time() - cpu0, rate


async def bench_level(base_url: str, concurrency: int, per_worker: int, latency_s: float) -> dict[str, Any]:
    model = OpenAIModel("fake", base_url, name="bench", max_concurrency=concurrency)

    async def call() -> None:
        await model.generate(MESSAGES, CONFIG)

    await closed_loop(call, concurrency, 2)  # warm-up: open the connections
    wall, cpu, rate = await closed_loop(call, concurrency, per_worker, stagger_s=latency_s)
    _, _, burst_rate = await closed_loop(call, concurrency, per_worker // 2 or 1)
    await model.aclose()
    n = concurrency * per_worker
    ideal = concurrency / latency_s
    return {
        "concurrency": concurrency,
        "calls": n,
        "wall_s": round(wall, 3),
        "throughput_rps": round(rate, 1),
        "ideal_rps": round(ideal, 1),
        "pct_of_ideal": round(100 * rate / ideal, 1),
        "pct_of_ideal_lockstep_start": round(100 * burst_rate / ideal, 1),
        "cpu_ms_per_call": round(1000 * cpu / n, 3),
    }


async def bench_raw_aiohttp(base_url: str, concurrency: int, per_worker: int, latency_s: float) -> dict[str, Any]:
    """The floor: a bare aiohttp POST + json.loads per call, no retries, limiter or pydantic."""
    body, headers = raw_request()
    url = base_url + "/chat/completions"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def call() -> None:
            async with session.post(url, data=body, headers=headers) as resp:
                json.loads(await resp.read())

        return await measure_raw(call, concurrency, per_worker, latency_s)


async def bench_raw_httpx(base_url: str, concurrency: int, per_worker: int, latency_s: float) -> dict[str, Any]:
    """The same floor with httpx: one shared AsyncClient, HTTP/1.1, pool limits = concurrency, json.loads."""
    import httpx  # optional: main() calls this only when httpx_status() found it

    body, headers = raw_request()
    url = base_url + "/chat/completions"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        http1=True, http2=False, limits=limits, timeout=httpx.Timeout(30.0), trust_env=False
    ) as client:

        async def call() -> None:
            resp = await client.post(url, content=body, headers=headers)
            json.loads(resp.content)

        return await measure_raw(call, concurrency, per_worker, latency_s)


async def bench_errors(base_url: str, concurrency: int, calls: int) -> dict[str, Any]:
    """20% injected 429/500: every call must complete through retries and the adaptive limiter."""
    limiter = AdaptiveLimiter(concurrency)
    model = OpenAIModel("fake", base_url, name="bench", limiter=limiter, retry=RetryPolicy(base_delay_s=0.05))
    done = failed = 0
    min_limit = concurrency

    async def one() -> None:
        nonlocal done, failed, min_limit
        try:
            await model.generate(MESSAGES, CONFIG)
            done += 1
        except Exception:
            failed += 1
        min_limit = min(min_limit, limiter.limit)

    sem = asyncio.Semaphore(concurrency)

    async def bounded() -> None:
        async with sem:
            await one()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(bounded() for _ in range(calls)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    await model.aclose()
    async with aiohttp.ClientSession() as s, s.get(base_url.removesuffix("/v1") + "/stats") as r:
        stats = await r.json()
    return {
        "calls": calls,
        "completed": done,
        "failed": failed,
        "server_requests": stats["requests"],
        "server_status": stats["status"],
        "throttle_events": limiter.throttle_events,
        "limit_min": min_limit,
        "limit_lowest": limiter.lowest,  # the lowest the limit ever was (not just where a call ended)
        "limit_cuts": limiter.cuts,
        "limit_final": limiter.limit,
        "wall_s": round(wall, 2),
        "cpu_ms_per_call": round(1000 * cpu / calls, 3),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    latency_s = args.latency_ms / 1000.0
    levels = [int(x) for x in args.levels.split(",")]
    out: dict[str, Any] = {
        "benchmark": "models.http",
        "latency_ms": args.latency_ms,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "aiohttp": aiohttp.__version__,
    }
    has_httpx, out["httpx"] = httpx_status()
    with fake_server(args.latency_ms) as url:
        out["levels"] = []
        for c in levels:
            level = await bench_level(url, c, args.calls_per_worker, latency_s)
            raw = await bench_raw_aiohttp(url, c, args.calls_per_worker, latency_s)
            level["raw_aiohttp_pct_of_ideal"] = raw["pct_of_ideal"]
            level["raw_aiohttp_cpu_ms_per_call"] = raw["cpu_ms_per_call"]
            if has_httpx:
                raw = await bench_raw_httpx(url, c, args.calls_per_worker, latency_s)
                level["raw_httpx_pct_of_ideal"] = raw["pct_of_ideal"]
                level["raw_httpx_cpu_ms_per_call"] = raw["cpu_ms_per_call"]
            out["levels"].append(level)
    with fake_server(args.latency_ms, error_rate=0.2, retry_after=args.retry_after) as url:
        out["errors_20pct"] = await bench_errors(url, 64, args.error_calls)
    at64 = next((lv for lv in out["levels"] if lv["concurrency"] == 64), None)
    out["targets"] = {
        "pct_of_ideal_at_64_ge_95": None if at64 is None else at64["pct_of_ideal"] >= 95.0,
        "cpu_ms_per_call_lt_0_5_at_64": None if at64 is None else at64["cpu_ms_per_call"] < 0.5,
        "all_complete_with_20pct_errors": out["errors_20pct"]["failed"] == 0,
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--calls-per-worker", type=int, default=30)
    parser.add_argument("--levels", default="1,8,32,64,128")
    parser.add_argument("--error-calls", type=int, default=1000)
    parser.add_argument("--retry-after", default="0", help="Retry-After the fake server sends with its 429s")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args)), indent=2))


if __name__ == "__main__":
    main()
