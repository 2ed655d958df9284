"""The code-execution sandbox: real subprocesses, real limits. Each bad snippet is stopped and says why."""

from __future__ import annotations

import time
from pathlib import Path

from evalwheel.sandbox import SandboxLimits, run_python, run_python_many, split_outputs

FAST = SandboxLimits(timeout_s=10.0, cpu_s=1)


def test_ok_and_error() -> None:
    ok = run_python("print(sum(range(10)))")
    assert ok.status == "ok" and ok.stdout == "45\n"
    err = run_python("1/0")
    assert err.status == "error" and "ZeroDivisionError" in err.reason and not err.stopped


def test_infinite_loop_is_stopped() -> None:
    # The CPU rlimit stops it; the wall-clock deadline is generous so a busy machine cannot pre-empt the check.
    started = time.monotonic()
    r = run_python("while True:\n    pass\n", SandboxLimits(timeout_s=30.0, cpu_s=1))
    assert r.status == "timeout" and r.stopped and "CPU" in r.reason
    assert time.monotonic() - started < 30


def test_sleeping_forever_hits_the_wall_clock() -> None:
    r = run_python("import time\ntime.sleep(30)\n", SandboxLimits(timeout_s=0.5))
    assert r.status == "timeout" and "wall clock" in r.reason


def test_output_flood_is_cut() -> None:
    r = run_python("while True:\n    print('x' * 10000)\n", FAST)
    assert r.status == "output_limit" and len(r.stdout) <= FAST.max_output_bytes


def test_memory_hog_is_stopped() -> None:
    r = run_python("x = ' ' * (4 * 1024 ** 3)\n", SandboxLimits(memory_mb=256))
    assert r.status == "memory" and r.stopped


def test_network_is_refused() -> None:
    r = run_python("import socket\nsocket.create_connection(('127.0.0.1', 9))\n")
    assert r.status == "blocked" and "network" in r.reason


def test_file_writes_are_refused_even_when_the_error_is_caught(tmp_path: Path) -> None:
    target = tmp_path / "written.txt"
    r = run_python(f"try:\n    open({str(target)!r}, 'w').write('hi')\nexcept Exception:\n    pass\nprint('done')\n")
    assert r.status == "blocked" and "file system write" in r.reason
    assert not target.exists()


def test_processes_are_refused() -> None:
    for code in ("import os\nos.system('true')", "import subprocess\nsubprocess.run(['true'])", "import os\nos.fork()"):
        r = run_python(code)
        assert r.status == "blocked" and "process" in r.reason, code


def test_many_chunks_share_a_namespace_and_print_like_a_repl() -> None:
    r = run_python_many(
        [("exec", "xs = [1, 2, 3]"), ("single", "xs[1:]"), ("single", "xs.nope"), ("single", "len(xs)")]
    )
    assert r.status == "ok"
    assert split_outputs(r.stdout) == ["", "[2, 3]\n", "AttributeError\n", "3\n"]
