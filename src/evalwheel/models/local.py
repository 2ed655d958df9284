"""The embedded offline model, served by xllamacpp's OpenAI-compatible HTTP server on loopback.

Why a server rather than in-process calls: xllamacpp runs llama.cpp's own C++ HTTP server inside this process
(no subprocess, no extra port juggling beyond a free one), so the OpenAI-compatible HTTP client used for real
endpoints also drives the embedded model. One code path, one set of retries, caching and usage accounting.

`ensure_server(name)` assembles and verifies the weights (models/weights.py), starts one server per GGUF file
per process (thread-safe; later calls reuse it), waits until `/health` answers, and returns a base URL ending
in `/v1`, so `POST {base_url}/chat/completions` works. Servers stop at interpreter exit (atexit) or via
`stop_servers()`; dropping the last reference to an `xllamacpp.Server` stops its HTTP listener.

Defaults: 4096 tokens of context *per request slot* (the KV cache is sized n_ctx * n_parallel and not unified,
so each of the 2 parallel slots really holds a 4096-token conversation), threads = usable CPUs, n_parallel 2,
`offline=True` and a local file path only (no Hugging Face / URL downloads), web UI off, logging quiet.

Environment:
- `EVALWHEEL_LOCAL_MODEL`: what `local` maps to: `local-small` (the 0.5B model, ~1.5x faster; good for tests
  and demos) or a path to your own GGUF (used without a hash check). `local-small` always means the 0.5B model.
- `EVALWHEEL_MODEL_DIR`: cache folder for assembled GGUF files (default `~/.cache/evalwheel/models`).

What was verified over HTTP (xllamacpp 2026.10.11549, Qwen2.5-Coder 0.5B and 1.5B Q4_K_M, 2 vCPU):
- Paths: both `/v1/chat/completions` and `/chat/completions` answer; `/health` gives `{"status":"ok"}`,
  `/v1/models` lists the alias. The request's `"model"` field is ignored (any value works); responses echo the
  alias (`local` / `local-small`). Responses carry OpenAI `usage` plus llama.cpp `timings`.
- Structured output. These `response_format` shapes all constrain decoding to the schema (valid JSON, required
  keys, types, integer bounds, maxItems), even for a prompt that asks for something else entirely:
    {"type": "json_schema", "json_schema": {"schema": S}}
    {"type": "json_schema", "json_schema": {"name": "verdict", "schema": S, "strict": true}}   (OpenAI shape)
    {"type": "json_object", "schema": S}                                             (llama.cpp extension)
  and a top-level `"json_schema": S` field. Use the OpenAI shape: it works here and on real OpenAI servers.
  Gotchas: `{"type": "json_object"}` without a schema, and `json_schema` without `schema`, are accepted but only
  force *some* JSON object (the small models then emit `{}`), so a client must always send the schema. An
  invalid schema is a 400 with a clear message; an unsupported keyword (e.g. a lookahead `pattern`) is only a
  warning on stderr and that constraint is dropped. The response_format path compiles the schema to a GBNF
  grammar whose whitespace rule is loose: when the prompt does not ask for JSON, the models pad with runs of
  tabs/newlines (still valid JSON, but it burns tokens); when the system prompt asks for a JSON object the
  output is ordinary compact JSON. LLGuidance is compiled in and reachable through llama.cpp's `grammar`
  field (`"%llguidance {}\\nstart: %json " + json.dumps({**S, "x-guidance": {"whitespace_flexible": false}})`
  gives compact JSON), but that is llama.cpp-specific; not needed when prompts ask for JSON.
- Streaming: `"stream": true` yields SSE `data: {...chat.completion.chunk...}` lines (first delta carries the
  role, then content deltas, a final chunk with `finish_reason`), terminated by `data: [DONE]`. With
  `"stream_options": {"include_usage": true}` an extra chunk with empty `choices` carries `usage`. Streaming
  also honours `response_format`.

Measured (2 vCPU, this machine while otherwise idle, temperature 0, 128 generated tokens): 0.5B decodes ~40 tok/s
alone and ~43 tok/s aggregate with 2 parallel requests (prompt ~100-140 tok/s); 1.5B ~28 tok/s alone and ~28 tok/s
aggregate with 2 parallel requests (2 cores are saturated either way; n_parallel 2 buys fairness, not throughput).
With other CPU-heavy work on the machine the 1.5B dropped to ~7 tok/s: llama.cpp uses every core it is given.
Server start (model load + warmup, GGUF in page cache): ~1.3-1.6 s for 0.5B, ~3.8 s for 1.5B.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalwheel.models.base import ModelConfigError
from evalwheel.models.weights import INSTALL_HINT, local_model_path

DEFAULT_CTX_PER_SLOT = 4096
DEFAULT_PARALLEL = 2
DEFAULT_START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class _Running:
    server: Any  # xllamacpp.Server; kept referenced, since dropping it stops the listener
    base_url: str
    model_path: Path


_lock = threading.Lock()
_servers: dict[Path, _Running] = {}
_atexit_registered = False


def _usable_cpus() -> int:
    """CPUs this process may run on (respects taskset/cgroup affinity, unlike os.cpu_count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not available on macOS / Windows
        return max(1, os.cpu_count() or 1)


def _import_xllamacpp() -> Any:
    try:
        import xllamacpp  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        if "libgomp" in str(exc):
            raise ModelConfigError(
                f"the embedded model runtime (xllamacpp) needs the OpenMP runtime libgomp.so.1: {exc}. "
                "Install it with your system package manager, e.g. `apt-get install libgomp1`."
            ) from exc
        raise ModelConfigError(
            f"the embedded model runtime (xllamacpp) is not installed ({exc}). Install it with: {INSTALL_HINT}"
        ) from exc
    return xllamacpp


def _wait_ready(root_url: str, timeout_s: float) -> None:
    """Poll /health until it answers 200 (503 means still loading) or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    last_error = "no answer"
    while True:
        try:
            with urllib.request.urlopen(f"{root_url}/health", timeout=5) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last_error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        if time.monotonic() >= deadline:
            raise ModelConfigError(
                f"the embedded model server at {root_url} did not become ready within {timeout_s:.0f} s "
                f"(last health check: {last_error})"
            )
        time.sleep(0.1)


def _start(
    model_path: Path, alias: str, ctx_per_slot: int, n_parallel: int, threads: int, timeout_s: float
) -> _Running:
    xlc = _import_xllamacpp()
    params = xlc.CommonParams()
    params.model.path = str(model_path)
    params.offline = True  # never reach for Hugging Face or a URL: the local file is the only source
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # the OS picks a free port; read it back from listening_address
    params.model_alias = {alias}  # a set: a plain string would become a set of its characters
    params.n_parallel = n_parallel
    params.n_ctx = ctx_per_slot * n_parallel  # split evenly across slots (kv_unified off)
    params.kv_unified = False
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.ui = False
    params.verbosity = 0
    try:
        server = xlc.Server(params)
    except Exception as exc:  # a GGUF that llama.cpp cannot load (only possible via EVALWHEEL_LOCAL_MODEL=path)
        raise ModelConfigError(f"the embedded model server could not load {model_path}: {exc}") from exc
    root_url = str(server.listening_address).rstrip("/")
    if not root_url.startswith("http"):
        raise ModelConfigError(f"the embedded model server did not report a listening address ({root_url!r})")
    _wait_ready(root_url, timeout_s)
    return _Running(server=server, base_url=f"{root_url}/v1", model_path=model_path)


def ensure_server(
    name: str = "local",
    *,
    ctx_per_slot: int = DEFAULT_CTX_PER_SLOT,
    n_parallel: int = DEFAULT_PARALLEL,
    threads: int | None = None,
    timeout_s: float = DEFAULT_START_TIMEOUT_S,
) -> str:
    """Start (once per GGUF per process) the embedded model's HTTP server and return its `/v1` base URL.

    Servers are keyed by the resolved GGUF file, so `local` overridden to `local-small` and `local-small` share
    one server. The tuning arguments only apply to the call that actually starts the server.
    Raises ModelConfigError for an unknown name, missing weights or runtime, or a server that never answers.
    """
    global _atexit_registered
    with _lock:
        model_path = local_model_path(name)
        running = _servers.get(model_path)
        if running is None:
            running = _start(model_path, name, ctx_per_slot, n_parallel, threads or _usable_cpus(), timeout_s)
            _servers[model_path] = running
            if not _atexit_registered:
                atexit.register(stop_servers)
                _atexit_registered = True
        return running.base_url


def stop_servers() -> None:
    """Stop every embedded server started by this process (registered with atexit; safe to call twice)."""
    with _lock:
        running = list(_servers.values())
        _servers.clear()
    # Dropping the last reference runs xllamacpp's destructor, which stops the HTTP listener and frees the model.
    del running
