"""Model name resolution and its error messages."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from evalwheel.models.base import Message, ModelConfigError
from evalwheel.models.cache import CachedModel
from evalwheel.models.http import OpenAIModel
from evalwheel.models.registry import default_model_name, get_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from fake_openai_server import FakeOpenAIServer


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EVALWHEEL_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EVALWHEEL_CACHE_DIR", str(tmp_path / "cache"))


def test_default_is_local_without_key_and_openai_with_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_model_name() == "local"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    assert default_model_name() == "openai:gpt-4o-mini"
    m = get_model(None, cache=False)
    assert isinstance(m, OpenAIModel) and m.name == "openai:gpt-4o-mini" and m.model == "gpt-4o-mini"


def test_openai_form(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    m = get_model("openai:gpt-4o", cache=False, max_concurrency=4)
    assert isinstance(m, OpenAIModel)
    assert m.url == "https://api.openai.com/v1/chat/completions" and m._headers["Authorization"] == "Bearer sk-x"
    assert m.limiter.max_limit == 4
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1/")
    m = get_model("openai:gpt-4o", cache=False)
    assert isinstance(m, OpenAIModel) and m.url == "http://127.0.0.1:8000/v1/chat/completions"
    c = get_model("openai:gpt-4o", cache_dir=tmp_path / "here")
    assert isinstance(c, CachedModel) and c.name == "openai:gpt-4o"
    assert c.cache.path == tmp_path / "here" / "models.sqlite"


def test_missing_key_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelConfigError, match="needs OPENAI_API_KEY"):
        get_model("openai:gpt-4o-mini")
    # a self-hosted server behind OPENAI_BASE_URL does not need a key
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    m = get_model("openai:qwen", cache=False)
    assert isinstance(m, OpenAIModel) and "Authorization" not in m._headers
    with pytest.raises(ModelConfigError, match="missing the model id"):
        get_model("openai:")


def test_explicit_url_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    m = get_model("http://127.0.0.1:11434/v1#qwen2.5:0.5b", cache=False)
    assert isinstance(m, OpenAIModel)
    assert m.model == "qwen2.5:0.5b" and m.url == "http://127.0.0.1:11434/v1/chat/completions"
    assert m.name == "http://127.0.0.1:11434/v1#qwen2.5:0.5b"
    assert "Authorization" not in m._headers  # the OpenAI key is not sent to arbitrary servers
    monkeypatch.setenv("EVALWHEEL_API_KEY", "tok")
    m = get_model("https://vllm.internal/v1#m", cache=False)
    assert isinstance(m, OpenAIModel) and m._headers["Authorization"] == "Bearer tok"
    with pytest.raises(ModelConfigError, match="after '#'"):
        get_model("http://127.0.0.1:8000/v1")
    with pytest.raises(ModelConfigError, match="no host"):
        get_model("http:///v1#m")


@pytest.mark.parametrize("name", ["gpt-4o", "claude", "local-large", "openai", "ftp://x/v1#m"])
def test_unknown_names_list_the_accepted_forms(name: str) -> None:
    with pytest.raises(ModelConfigError) as info:
        get_model(name)
    msg = str(info.value)
    assert f"unknown model {name!r}" in msg
    assert "local" in msg and "openai:<model>" in msg and "http(s)://host:port/v1#<model>" in msg


async def test_local_names_use_ensure_server(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeOpenAIServer(reply="from the embedded model") as srv:
        calls: list[str] = []

        def ensure_server(name: str) -> str:
            calls.append(name)
            return srv.base_url

        fake_local = types.ModuleType("evalwheel.models.local")
        fake_local.ensure_server = ensure_server  # type: ignore[attr-defined]
        fake_local.DEFAULT_PARALLEL = 2  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "evalwheel.models.local", fake_local)
        m = get_model("local-small")
        assert isinstance(m, CachedModel) and m.name == "local-small"
        c = await m.generate([Message(role="user", content="hi")])
        await m.aclose()
    assert calls == ["local-small"] and c.text == "from the embedded model" and c.cost_usd == 0.0
    assert m.inner.max_concurrency == 2 and m.inner.min_timeout_s >= 600  # type: ignore[attr-defined]
    assert srv.last_body is not None and srv.last_body["model"] == "local-small"
