"""Same-process A/B of the deterministic Study Mode tier: the working tree against an earlier commit.

On a shared machine, CPU time per session drifts by tens of percent from minute to minute (other
tenants' load changes caches and clock sharing), so two separate `bench_checks.py` runs cannot show a
5-10% change. This loads the earlier commit's package under another name (`git archive REF src/evalwheel`,
imports rewritten to `evalwheel_ref`) into the same process, and times both on the same generated
sessions in alternating chunks (ABBA order, garbage collected before each chunk), one core, process
CPU time. The ratio of the two is what moves little with load; the absolute rates still do.

`--mypyc` compiles REF's copy of the tier's hot modules (`MYPYC_MODULES`: tagger, text splitting, signals,
scores and the dimension rules) with mypyc before timing, so `--ref HEAD --mypyc` measures what a compiled
build of the same code would gain (a few minutes of compiling; needs gcc and the Python headers). Modules
that define pydantic models (checks, session, the dimension config) stay interpreted: mypyc 2.4.1's C output
for them does not compile. The first sessions are also graded by both packages and compared
(`identical_outputs`), so a compiled build that changed a verdict would show.

    python benchmarks/bench_checks_ab.py --ref d339fc5 [--sessions 2000] [--chunk 200] [--rounds 16] [--mypyc]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import re
import shutil
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


MYPYC_MODULES = (
    "graders/pedagogy/text.py",
    "graders/pedagogy/tagger.py",
    "graders/pedagogy/signals.py",
    "graders/pedagogy/safety_signals.py",
    "graders/pedagogy/scores.py",
    *(
        f"graders/pedagogy/dimensions/{m}.py"
        for m in (
            "__init__",
            "scan",
            "common",
            "clarity",
            "accuracy",
            "personalization",
            "learning",
            "engagement",
            "safety",
            "lexicon",
        )
    ),
)


def compile_ref(into: Path) -> float:
    """Compile the extracted package's hot modules in place with mypyc; returns the seconds it took."""
    started = time.perf_counter()
    files = [str(Path("evalwheel_ref") / m) for m in MYPYC_MODULES]
    done = subprocess.run(
        [sys.executable, "-m", "mypyc", "--ignore-missing-imports", *files], cwd=into, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"mypyc failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def config(module: Any, all_seven: bool) -> Any:
    dims: dict[str, object] = {"execute_code": False}
    if not all_seven:
        dims.update({d.value: {"enabled": False} for d in DimensionName})
    raw: dict[str, object] = {"dimensions": dims}
    if "semantic_safety" in module.EvaluationConfig.model_fields:  # the deterministic tier only (older commits lack it)
        raw["semantic_safety"] = {"enabled": False}
    return module.EvaluationConfig.model_validate(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ref", required=True, help="git commit to compare against")
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--mypyc", action="store_true", help="Compile REF's hot modules with mypyc first.")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="evalwheel_ab_"))
    load_ref(args.ref, tmp)
    compile_s = compile_ref(tmp) if args.mypyc else None
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    sys.path.insert(0, str(tmp))
    import evalwheel_ref.graders.pedagogy.session as old  # type: ignore[import-not-found]
    import evalwheel_ref.types as old_types  # type: ignore[import-not-found]

    import evalwheel.graders.pedagogy.session as new

    sessions = generate(args.sessions, 7)
    old_sessions = [old_types.Session.model_validate(s.model_dump()) for s in sessions]
    out: dict[str, object] = {"ref": args.ref, "sessions": args.sessions, "clock": "process CPU time, one core"}
    if compile_s is not None:
        compiled = [m for m in MYPYC_MODULES if list((tmp / "evalwheel_ref").glob(m.replace(".py", ".*.so")))]
        out["ref_built_with"] = {"mypyc": len(compiled), "of": len(MYPYC_MODULES), "compile_s": round(compile_s)}
    for label, all_seven in (("checks_only", False), ("all_seven", True)):
        cfg_new, cfg_old = config(new, all_seven), config(old, all_seven)
        same, compared = 0, min(300, len(sessions))
        # warm-up (compiles the patterns) and output comparison
        for s, o in zip(sessions[:compared], old_sessions[:compared], strict=True):
            a = new.evaluate_session(s, cfg_new).model_dump_json()
            same += a == old.evaluate_session(o, cfg_old).model_dump_json()
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
        row: dict[str, object] = {
            "new_sessions_per_s_median": round(statistics.median(rates["new"])),
            "ref_sessions_per_s_median": round(statistics.median(rates["ref"])),
            "speedup_median": round(statistics.median(ratios), 3),
            "speedup_quartiles": [round(q, 3) for q in statistics.quantiles(ratios, n=4)[::2]],
            "identical_outputs": f"{same} of {compared}",
        }
        if compile_s is not None:  # REF is the compiled copy: say how much faster it is, the other way round
            inverse = [b / a for a, b in zip(rates["new"], rates["ref"], strict=True)]
            row["compiled_speedup_median"] = round(statistics.median(inverse), 3)
            row["compiled_speedup_quartiles"] = [round(q, 3) for q in statistics.quantiles(inverse, n=4)[::2]]
        out[label] = row
    print(json.dumps(out))
    shutil.rmtree(tmp, ignore_errors=True)  # the extracted (and, with --mypyc, compiled) copy


if __name__ == "__main__":
    main()
