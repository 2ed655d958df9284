"""Model names -> Model objects.

Accepted names:

- `local`, `local-small`: the embedded model (Qwen2.5-Coder 1.5B / 0.5B) served by llama.cpp on loopback
  (`evalwheel.models.local.ensure_server`), spoken to over the same HTTP code path as every other server.
- `openai:<model>`: an OpenAI-compatible API; `OPENAI_BASE_URL` (default https://api.openai.com/v1) and
  `OPENAI_API_KEY`. The key is required for api.openai.com; for another base URL (vLLM, Ollama, ...) it is
  sent when set and optional otherwise.
- `http(s)://host:port/v1#<model>`: an explicit server, the model id after `#` (e.g.
  `http://127.0.0.1:11434/v1#qwen2.5:0.5b` for Ollama). `EVALWHEEL_API_KEY` is sent as the bearer token
  when set; OPENAI_API_KEY deliberately is not, so an OpenAI key never leaks to an arbitrary server.

Default when no name is given: `openai:gpt-4o-mini` if OPENAI_API_KEY is set, else `local`.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from evalwheel.models.base import Model, ModelConfigError
from evalwheel.models.cache import CACHE_FILE, CachedModel, ModelCache, default_cache_dir
from evalwheel.models.http import OpenAIModel
from evalwheel.models.reliability import HedgePolicy, Timeouts

LOCAL_NAMES = ("local", "local-small")
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPENAI_DEFAULT_MODEL = "openai:gpt-4o-mini"

ACCEPTED_FORMS = (
    "local | local-small (embedded offline model), "
    "openai:<model> (OPENAI_API_KEY, optional OPENAI_BASE_URL), "
    "http(s)://host:port/v1#<model> (an explicit OpenAI-compatible server)"
)


def default_model_name() -> str:
    """`openai:gpt-4o-mini` when an OpenAI key is configured, else the embedded `local` model."""
    return OPENAI_DEFAULT_MODEL if os.environ.get("OPENAI_API_KEY") else "local"


def check_model_name(name: str) -> None:
    """Raise ModelConfigError unless `name` has one of the accepted forms; starts, contacts and reads nothing.

    The form checks of `get_model`, on their own. Why: commands that only record or estimate with a model name
    (`import openai-eval --judge-model`, `replay --dry-run`) accepted any typo with exit 0, and resolving the name
    there would start the embedded server or demand an API key the command does not use.
    """
    if name in LOCAL_NAMES:
        return
    if name.startswith("openai:"):
        if not name[len("openai:") :].strip():
            raise ModelConfigError(f"model {name!r}: missing the model id after 'openai:', e.g. openai:gpt-4o-mini")
        return
    if name.startswith(("http://", "https://")):
        url, sep, model = name.partition("#")
        if not urlsplit(url).hostname:
            raise ModelConfigError(f"model {name!r}: no host in the URL; expected http(s)://host:port/v1#<model>")
        if not sep or not model.strip():
            raise ModelConfigError(
                f"model {name!r}: add the model id after '#', e.g. {url.rstrip('/')}#<model> "
                "(servers that ignore it accept any id)"
            )
        return
    raise ModelConfigError(f"unknown model {name!r}; accepted: {ACCEPTED_FORMS}")


def _build(
    name: str, max_concurrency: int, timeouts: Timeouts | None = None, hedge: HedgePolicy | None = None
) -> OpenAIModel:
    check_model_name(name)
    if name in LOCAL_NAMES:
        try:
            from evalwheel.models.local import ensure_server  # lazy: needs the optional [local] extra
        except ImportError as exc:
            raise ModelConfigError(
                f"model {name!r} needs the embedded runtime: pip install 'evalwheel[local]' ({exc})"
            ) from exc
        from evalwheel.models.local import DEFAULT_PARALLEL

        base_url = ensure_server(name)
        # No more requests in flight than the server has slots: queued requests would burn their timeout
        # waiting, then be retried. The floor on the timeout covers long answers on a busy 2-core machine.
        return OpenAIModel(
            name,
            base_url,
            name=name,
            max_concurrency=min(max_concurrency, DEFAULT_PARALLEL),
            min_timeout_s=600.0,
            timeouts=timeouts,
            hedge=hedge,
        )

    if name.startswith("openai:"):
        model = name[len("openai:") :].strip()
        base_url = os.environ.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_BASE_URL
        key = os.environ.get("OPENAI_API_KEY") or None
        if key is None and urlsplit(base_url).hostname == urlsplit(OPENAI_DEFAULT_BASE_URL).hostname:
            raise ModelConfigError(
                f"model {name!r} needs OPENAI_API_KEY (set it, or use the offline model with --model local)"
            )
        return OpenAIModel(
            model, base_url, api_key=key, name=name, max_concurrency=max_concurrency, timeouts=timeouts, hedge=hedge
        )

    url, _, model = name.partition("#")  # http(s)://host:port/v1#<model>: the only form left
    key = os.environ.get("EVALWHEEL_API_KEY") or None
    return OpenAIModel(
        model.strip(), url, api_key=key, name=name, max_concurrency=max_concurrency, timeouts=timeouts, hedge=hedge
    )


def get_model(
    name: str | None = None,
    *,
    cache: bool = True,
    cache_dir: Path | None = None,
    max_concurrency: int = 16,
    timeouts: Timeouts | None = None,
    hedge: HedgePolicy | None = None,
) -> Model:
    """Resolve a model name (None -> `default_model_name()`), wrapped in the persistent cache unless `cache=False`.

    `cache_dir` overrides `$EVALWHEEL_CACHE_DIR` / `.evalwheel-cache`. Nothing is contacted here except the
    embedded server being started for `local*`; an unreachable server surfaces as ModelConfigError on the
    first call, after retries.
    """
    resolved = (name or "").strip() or default_model_name()
    if max_concurrency < 1:
        raise ModelConfigError(f"max_concurrency must be >= 1, got {max_concurrency}")
    model = _build(resolved, max_concurrency, timeouts, hedge)
    if not cache:
        return model
    return CachedModel(model, ModelCache((cache_dir or default_cache_dir()) / CACHE_FILE))
