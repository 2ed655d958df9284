"""Replay the support example's traffic into `evalwheel monitor`, switching to the broken prompt part-way.

    python examples/support/traffic.py --endpoint http://127.0.0.1:8765 --events 1200 --break-at 600

Questions are drawn from the dataset's distribution, golden and regression partitions (weighted as the
dataset is), a share of them written urgently ("URGENT: ...", "... I need this right now!"), with strata
metadata (intent = knowledge-base category, customer segment). Each question is answered by
`traffic_app.answer` under prompt v1, then v2 from event `--break-at` on, and logged with the SDK
(`evalwheel.monitor.Monitor`). Without `--model` answers are recorded mode (reviewed answers; v2's failure
applied deterministically) and latencies are simulated; with `--model local` (or any model name) every answer
comes from the real assistant and latencies are measured. Event timestamps are spread `--interval` seconds
apart ending now, so the replay fills several monitor windows at once. Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import traffic_app  # noqa: E402

from evalwheel.monitor import Monitor  # noqa: E402
from evalwheel.solvers.base import SolverContext  # noqa: E402
from evalwheel.types import Sample  # noqa: E402

URGENT_FORMS = ("URGENT: {q}", "{q} I need this right now!", "ASAP: {q}", "{q} This is urgent!")
SEGMENTS = ("free", "starter", "pro", "enterprise")


def questions() -> list[tuple[str, str]]:
    """(question, category) for every text sample of the dataset but the adversarial ones."""
    out = []
    for line in (HERE / "dataset.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["partition"] != "adversarial" and isinstance(row["input"], str):
            out.append((row["input"], str(row.get("metadata", {}).get("category", "other"))))
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", required=True, help="monitor ingest URL, e.g. http://127.0.0.1:8765")
    p.add_argument("--token", default=None, help="bearer token when the server is not on loopback")
    p.add_argument("--app", default="support")
    p.add_argument("--events", type=int, default=1200)
    p.add_argument("--break-at", type=int, default=600, help="first event answered by the broken v2 prompt")
    p.add_argument("--urgent-share", type=float, default=0.3)
    p.add_argument("--interval", type=float, default=1.0, help="seconds of event time between events")
    p.add_argument("--model", default=None, help="answer live with this model (default: recorded mode)")
    p.add_argument("--seed", type=int, default=7)
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> dict[str, object]:
    rng = random.Random(args.seed)
    pool = questions()
    model = None
    if args.model:
        from evalwheel.models.registry import get_model

        model = get_model(args.model)
    mon = Monitor(args.endpoint, args.app, token=args.token)
    start = time.time() - args.events * args.interval
    versions: dict[str, int] = {}
    try:
        for i in range(args.events):
            q, category = rng.choice(pool)
            if rng.random() < args.urgent_share:
                q = rng.choice(URGENT_FORMS).format(q=q)
            version = "v1" if i < args.break_at else "v2"
            versions[version] = versions.get(version, 0) + 1
            ctx = SolverContext(model=model, config={"prompt_version": version}, base_dir=HERE)
            t0 = time.perf_counter()
            out = await traffic_app.answer(Sample(id=f"t{i}", partition="distribution", input=q), ctx)
            measured = (time.perf_counter() - t0) * 1000
            latency = measured if model is not None else rng.lognormvariate(6.6, 0.35)  # ~750 ms, simulated
            mon.log(
                request_id=f"{args.app}-{args.seed}-{i:06d}",
                timestamp=start + i * args.interval,
                input=q,
                output=out.text,
                context=traffic_app.retrieve(traffic_app.plain_question(q)) if model is not None else None,
                latency_ms=round(latency, 1),
                model=args.model or "recorded",
                prompt_version=version,
                metadata={"intent": category, "segment": rng.choice(SEGMENTS), "urgent": traffic_app.is_urgent(q)},
            )
    finally:
        mon.close()
        if model is not None:
            await model.aclose()
    return {"events": args.events, "break_at": args.break_at, "versions": versions, "sdk": mon.stats()}


def main(argv: list[str] | None = None) -> int:
    summary = asyncio.run(run(parse_args(argv)))
    print(json.dumps(summary, indent=2))
    sdk = summary["sdk"]
    assert isinstance(sdk, dict)
    return 0 if sdk["sent"] == summary["events"] else 3


if __name__ == "__main__":
    raise SystemExit(main())
