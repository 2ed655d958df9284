"""Start-up benchmark: `evalwheel --help`, `evalwheel run --help` and the start of a run, plus -X importtime.

Targets (issue 15): `evalwheel run --help` and the start of a run in < 0.6 s. "Start of a run" is measured
from spawning `evalwheel run SPEC` to the first HTTP request reaching the test-double server
(benchmarks/fake_openai_server.py, fast variant, run in a thread of this process): everything the user
waits for before the first model call (imports, spec and dataset validation, preflight probe included).
`python -c pass` is reported as the interpreter's own floor. Medians of `--repeats` (default 5), because
the machine is shared; `-X importtime` lists the slowest imports of `evalwheel run --help`.

    python benchmarks/bench_startup.py [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fake_openai_server import _FastProtocol, _FastServer  # noqa: E402

EVALWHEEL = [sys.executable, "-m", "evalwheel.cli"]


def timed(cmd: list[str], repeats: int) -> dict[str, Any]:
    """Wall and CPU (user + system) of the child: on a loaded machine the CPU figure is the better guide to
    what an idle machine's wall time would be."""
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return {
        "median_s": round(statistics.median(walls), 3),
        "median_cpu_s": round(statistics.median(cpus), 3),
        "runs_s": [round(w, 3) for w in walls],
    }


def process_cpu(pid: int | None) -> float | None:
    """User + system CPU seconds of a running process, from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class FirstRequestServer:
    """The fast test double in a background thread, remembering when the first request arrived."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.first_cpu: float | None = None  # CPU seconds the client had used when its first request arrived
        self.client_pid: int | None = None
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        threading.Thread(target=self._run, daemon=True).start()
        self._ready.wait(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._start())
        self._loop.run_forever()

    async def _start(self) -> None:
        fast = _FastServer(0.0, 0.0, None)
        outer = self
        handle = fast.handle

        def first_then_handle(conn: _FastProtocol, request_line: list[str], body: bytes) -> None:
            if outer.first is None and request_line[-1:] == ["/v1/chat/completions"]:
                outer.first = time.perf_counter()
                outer.first_cpu = process_cpu(outer.client_pid)
            handle(conn, request_line, body)

        fast.handle = first_then_handle  # type: ignore[method-assign]
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _FastProtocol(fast), "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()


def run_start(repeats: int) -> dict[str, Any]:
    """Seconds from spawning `evalwheel run SPEC` to its first model request."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(repeats):
        srv = FirstRequestServer()
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            rows = "".join(json.dumps({"id": f"q{i}", "input": f"q{i}", "reference": "x"}) + "\n" for i in range(20))
            (root / "data.jsonl").write_text(rows)
            spec = (
                "name: startup\ndataset: data.jsonl\nstore: runs.sqlite\n"
                f"solver: {{type: prompt, model: 'http://127.0.0.1:{srv.port}/v1#fake', template: '{{input}}'}}\n"
                "graders: [{name: exact}]\n"
            )
            (root / "spec.yaml").write_text(spec)
            env = dict(os.environ, EVALWHEEL_CACHE_DIR=str(root / "cache"))
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [*EVALWHEEL, "run", str(root / "spec.yaml"), "--no-progress", "--no-cache", "--baseline", "none"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=root,
            )
            srv.client_pid = proc.pid
            proc.wait()
            if srv.first is None:
                raise RuntimeError("the run never called the model")
            walls.append(srv.first - t0)
            if srv.first_cpu is not None:
                cpus.append(srv.first_cpu)
    return {
        "median_s": round(statistics.median(walls), 3),
        "median_cpu_s": round(statistics.median(cpus), 3) if cpus else None,
        "runs_s": [round(w, 3) for w in walls],
    }


def slowest_imports(cmd: list[str], top: int = 12) -> list[dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-X", "importtime", *cmd[1:]], capture_output=True, text=True, check=False)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.split("|"))
        if cumulative.isdigit():
            rows.append({"module": name.strip(), "cumulative_ms": round(int(cumulative) / 1000, 1)})
    top_level = [r for r in rows if not r["module"].startswith(" ")]
    return sorted(top_level, key=lambda r: -r["cumulative_ms"])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    out = {
        "python_floor": timed([sys.executable, "-c", "pass"], args.repeats),
        "help": timed([*EVALWHEEL, "--help"], args.repeats),
        "run_help": timed([*EVALWHEEL, "run", "--help"], args.repeats),
        "run_start": run_start(args.repeats),
        "run_help_slowest_imports": slowest_imports([*EVALWHEEL, "run", "--help"]),
        "load_average": os.getloadavg(),
        "target_s": 0.6,
    }
    out["meets_target_wall"] = out["run_help"]["median_s"] < 0.6 and out["run_start"]["median_s"] < 0.6
    out["meets_target_cpu"] = out["run_help"]["median_cpu_s"] < 0.6 and (out["run_start"]["median_cpu_s"] or 9) < 0.6
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for key in ("python_floor", "help", "run_help", "run_start"):
        cpu = out[key].get("median_cpu_s")
        extra = f", CPU {cpu:.3f} s" if cpu is not None else ""
        print(f"{key:13} median {out[key]['median_s']:.3f} s{extra}  (runs {out[key]['runs_s']})")
    print("slowest imports of `run --help`:")
    for row in out["run_help_slowest_imports"]:
        print(f"  {row['cumulative_ms']:8.1f} ms  {row['module']}")


if __name__ == "__main__":
    main()
