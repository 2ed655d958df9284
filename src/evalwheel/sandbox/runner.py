"""A subprocess sandbox for Python snippets: time, memory, output, network, files and processes.

Layers, each cheap and each enough to stop the accidents transcripts contain (an infinite loop, a
print in a loop, `requests.get`, `open("out.txt", "w")`):

- a fresh interpreter in isolated mode (`-I -S`: no user site, no environment, no cwd on sys.path)
  with an empty environment, started in a new session in an empty temporary directory;
- rlimits set in the child before exec: CPU seconds, address space, file size 0 (any write to a
  regular file fails), no core files, few file descriptors;
- an audit hook installed before the snippet runs that refuses sockets, subprocesses, fork/exec,
  ctypes, and every open/rename/remove/mkdir that could write; a refused event is reported on a
  private pipe even when the snippet catches the exception;
- a wall-clock deadline and an output cap enforced by the parent, which kills the process group.

This is a guard against accidents and naive misuse in graded transcripts, not a security boundary
against an adversary who targets CPython itself; run untrusted corpora in a container as well.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

from pydantic import ConfigDict, Field

from evalwheel.basemodel import EvalwheelModel, OptionsModel

Status = Literal["ok", "error", "timeout", "output_limit", "memory", "blocked"]


class SandboxLimits(OptionsModel):
    """Per-snippet limits; the defaults fit the few-line examples tutors show."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: float = Field(default=5.0, gt=0)  # wall clock; the CPU limit stops busy loops sooner
    cpu_s: int = Field(default=1, ge=1)
    memory_mb: int = Field(default=512, ge=64)
    max_output_bytes: int = Field(default=64_000, ge=1_000)


class SandboxResult(EvalwheelModel):
    """What happened: `ok` (exit 0), `error` (the snippet raised), or the limit that stopped it."""

    model_config = ConfigDict(extra="forbid")

    status: Status
    stdout: str = ""
    stderr: str = ""
    reason: str = ""
    seconds: float = 0.0

    @property
    def stopped(self) -> bool:
        """Stopped by the sandbox (not the snippet's own error): its output says nothing about the code."""
        return self.status in ("timeout", "output_limit", "memory", "blocked")


# The child's prelude. It reads the chunks from stdin as JSON, installs the audit hook, and runs them in
# one namespace; a chunk compiled in 'single' mode prints the repr of an expression, as at the >>> prompt.
# A line of \x1e separates chunk outputs.
_PRELUDE = r"""
import sys, json, os
_src = json.loads(sys.stdin.read())
_chan = int(sys.argv[1])
_W = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_DENY_PREFIX = ("socket.", "subprocess.", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.kill",
    "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link", "os.symlink",
    "os.truncate", "os.utime", "os.unlink", "os.system", "os.startfile", "shutil.", "ctypes.", "pty.",
    "urllib.Request", "http.client.", "ftplib.", "smtplib.", "poplib.", "imaplib.", "nntplib.", "telnetlib.",
    "webbrowser.", "os.putenv", "os.unsetenv", "os.chdir", "os.setuid", "fcntl.", "mmap.", "resource.setrlimit",
    "sys.remote_exec", "winreg.")
def _deny(event, why):
    try:
        os.write(_chan, (event + ": " + why + "\n").encode())
    except OSError:
        pass
    raise PermissionError("sandbox: " + event + " is not allowed (" + why + ")")
def _hook(event, args):
    if event == "open":
        path, mode, flags = (tuple(args) + (None, None, 0))[:3]
        if (mode is not None and any(c in str(mode) for c in "wax+")) or (isinstance(flags, int) and flags & _W):
            _deny(event, "file system write " + repr(path))
        return
    if event.startswith(_DENY_PREFIX):
        kind = "network" if event.startswith(("socket.", "urllib.", "http.", "ftplib.", "smtplib.")) else (
            "process" if event.startswith(("subprocess.", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
            "os.system", "pty.")) else "file system or system call")
        _deny(event, kind)
sys.addaudithook(_hook)
del _hook
_script = _src["script"]
_ns = {"__name__": "__main__", "__builtins__": __builtins__}
for _i, (_mode, _chunk) in enumerate(_src["chunks"]):
    if _i:
        sys.stdout.write("\x1e\n")
    try:
        exec(compile(_chunk, "<snippet>", _mode), _ns)
    except SystemExit:
        pass
    except BaseException as _e:
        sys.stdout.flush()
        print(type(_e).__name__ + ": " + str(_e)[:300], file=sys.stderr)
        if _script:
            sys.stdout.flush()
            os._exit(1)
        sys.stdout.write(type(_e).__name__ + "\n")
    sys.stdout.flush()
"""


def _limit_child(limits: SandboxLimits) -> None:
    """rlimits for the child, set between fork and exec (POSIX only)."""
    import resource

    mem = limits.memory_mb * 1024 * 1024
    for res, value in (
        (resource.RLIMIT_CPU, limits.cpu_s),
        (resource.RLIMIT_AS, mem),
        (resource.RLIMIT_FSIZE, 0),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, 64),
    ):
        # An rlimit the platform does not allow lowering further is skipped; the other layers still apply.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(res, (value, value))


def _run(chunks: tuple[tuple[str, str], ...], script: bool, limits: SandboxLimits) -> SandboxResult:
    import json

    payload = json.dumps({"script": script, "chunks": [list(c) for c in chunks]}).encode()
    chan_r, chan_w = os.pipe()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="evalwheel-sandbox-") as cwd:
        os.chmod(cwd, 0o500)  # not writable even if a write slipped past the hook
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _PRELUDE, str(chan_w)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env={"PYTHONIOENCODING": "utf-8", "PYTHONHASHSEED": "0"},
            start_new_session=True,
            pass_fds=(chan_w,),
            preexec_fn=lambda: _limit_child(limits),
        )
        os.close(chan_w)
        try:
            return _collect(proc, payload, chan_r, limits, started)
        finally:
            os.close(chan_r)
            os.chmod(cwd, 0o700)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _collect(
    proc: subprocess.Popen[bytes], payload: bytes, chan_r: int, limits: SandboxLimits, started: float
) -> SandboxResult:
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        proc.stdin.write(payload)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    sel.register(chan_r, selectors.EVENT_READ, "chan")
    bufs: dict[str, bytearray] = {"out": bytearray(), "err": bytearray(), "chan": bytearray()}
    deadline = started + limits.timeout_s
    open_streams = 3
    status: Status | None = None
    reason = ""
    while open_streams:
        left = deadline - time.monotonic()
        if left <= 0:
            status, reason = "timeout", f"still running after {limits.timeout_s:g} s (wall clock)"
            break
        for key, _ in sel.select(timeout=min(left, 0.5)):
            fd = key.fileobj if isinstance(key.fileobj, int) else key.fileobj.fileno()
            chunk = os.read(fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                open_streams -= 1
                continue
            bufs[key.data].extend(chunk)
        if len(bufs["out"]) + len(bufs["err"]) > limits.max_output_bytes:
            status, reason = "output_limit", f"printed more than {limits.max_output_bytes:,} bytes"
            break
    sel.close()
    if status is not None:
        _kill(proc)
    code = proc.wait()
    elapsed = time.monotonic() - started
    out = bufs["out"][: limits.max_output_bytes].decode("utf-8", "replace")
    err = bufs["err"][:4000].decode("utf-8", "replace")
    blocked = bufs["chan"].decode("utf-8", "replace").strip()
    if status is None:
        if blocked:
            status, reason = "blocked", "refused: " + blocked.splitlines()[0]
        elif code == -signal.SIGXCPU or code == -signal.SIGKILL:
            status, reason = "timeout", f"used more than {limits.cpu_s} s of CPU"
        elif "MemoryError" in err:
            status, reason = "memory", f"needed more than {limits.memory_mb} MB"
        elif code == -signal.SIGXFSZ:
            status, reason = "blocked", "refused: file system write (file size limit)"
        elif code == 0:
            status = "ok"
        else:
            status, reason = "error", (err.strip().splitlines() or [f"exit code {code}"])[-1][:300]
    return SandboxResult(status=status, stdout=out, stderr=err, reason=reason, seconds=round(elapsed, 4))


@lru_cache(maxsize=4096)
def _cached(chunks: tuple[tuple[str, str], ...], script: bool, limits: SandboxLimits) -> SandboxResult:
    return _run(chunks, script, limits)


def run_python(code: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Run one script; stdout is what it printed. Results are cached per (code, limits) in this process."""
    return _cached((("exec", code),), True, limits or SandboxLimits())


def run_python_many(chunks: Sequence[tuple[str, str]], limits: SandboxLimits | None = None) -> SandboxResult:
    """Run (mode, code) chunks in one interpreter and one namespace; outputs are separated by a '\\x1e' line.

    Mode "exec" runs a block; mode "single" runs one statement like a line typed at `>>>` (an expression
    prints its repr). A chunk that raises prints its exception's type name and the next chunk still runs.
    """
    return _cached(tuple((m, c) for m, c in chunks), False, limits or SandboxLimits())


def split_outputs(stdout: str) -> list[str]:
    """The per-chunk outputs of `run_python_many`."""
    return stdout.split("\x1e\n")
