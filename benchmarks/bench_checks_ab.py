"""Same-process A/B of the deterministic Study Mode tier: the working tree against an earlier commit.

On a shared machine, CPU time per session drifts by tens of percent from minute to minute (other
tenants' load changes caches and clock sharing), so two separate `bench_checks.py` runs cannot show a
5-10% change. This loads the earlier commit's package under another name (`git archive REF src/evalwheel`,
imports rewritten to `evalwheel_ref`) into the same process, and times both on the same generated
sessions in alternating chunks (ABBA order, garbage collected before each chunk), one core, process
CPU time. The ratio of the two is what moves little with load; the absolute rates still do.

    python benchmarks/bench_checks_ab.py --ref d339fc5 [--sessions 2000] [--chunk 200] [--rounds 16]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_checks import generate

from evalwheel.types import DimensionName

ROOT = Path(__file__).resolve().parents[1]
_IMPORT = re.compile(r"\bevalwheel(?=[.\s])")


def load_ref(ref: str, into: Path) -> None:
    """Extract REF's package as `evalwheel_ref` under `into`, with its own imports pointed at itself."""
    blob = subprocess.run(["git", "archive", ref, "src/evalwheel"], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    src = into / "src" / "evalwheel"
    for path in src.rglob("*.py"):
        path.write_text(_IMPORT.sub("evalwheel_ref", path.read_text(encoding="utf-8")), encoding="utf-8")
    src.rename(into / "evalwheel_ref")


def config(module: Any, all_seven: bool) -> Any:
    dims: dict[str, object] = {"execute_code": False}
    if not all_seven:
        dims.update({d.value: {"enabled": False} for d in DimensionName})
    return module.EvaluationConfig.model_validate({"dimensions": dims})


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ref", required=True, help="git commit to compare against")
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=16)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    tmp = Path(tempfile.mkdtemp(prefix="evalwheel_ab_"))
    load_ref(args.ref, tmp)
    sys.path.insert(0, str(tmp))
    import evalwheel_ref.graders.pedagogy.session as old  # type: ignore[import-not-found]
    import evalwheel_ref.types as old_types  # type: ignore[import-not-found]

    import evalwheel.graders.pedagogy.session as new

    sessions = generate(args.sessions, 7)
    old_sessions = [old_types.Session.model_validate(s.model_dump()) for s in sessions]
    out: dict[str, object] = {"ref": args.ref, "sessions": args.sessions, "clock": "process CPU time, one core"}
    for label, all_seven in (("checks_only", False), ("all_seven", True)):
        cfg_new, cfg_old = config(new, all_seven), config(old, all_seven)
        for s, o in zip(sessions[:100], old_sessions[:100], strict=True):  # warm-up: compile the patterns
            new.evaluate_session(s, cfg_new)
            old.evaluate_session(o, cfg_old)
        rates: dict[str, list[float]] = {"new": [], "ref": []}

        def timed(
            which: str, k: int, cfg_new: Any = cfg_new, cfg_old: Any = cfg_old, rates: dict[str, list[float]] = rates
        ) -> None:
            gc.collect()
            start = time.process_time()
            if which == "new":
                for s in sessions[k : k + args.chunk]:
                    new.evaluate_session(s, cfg_new)
            else:
                for o in old_sessions[k : k + args.chunk]:
                    old.evaluate_session(o, cfg_old)
            rates[which].append(args.chunk / (time.process_time() - start))

        for r in range(args.rounds):
            k = (r * args.chunk) % max(args.sessions - args.chunk, 1)
            for which in ("new", "ref") if r % 2 == 0 else ("ref", "new"):
                timed(which, k)
        ratios = [a / b for a, b in zip(rates["new"], rates["ref"], strict=True)]
        out[label] = {
            "new_sessions_per_s_median": round(statistics.median(rates["new"])),
            "ref_sessions_per_s_median": round(statistics.median(rates["ref"])),
            "speedup_median": round(statistics.median(ratios), 3),
            "speedup_quartiles": [round(q, 3) for q in statistics.quantiles(ratios, n=4)[::2]],
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
