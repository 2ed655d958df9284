"""The persistent completion cache: hits, misses, epochs, errors never cached."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from evalwheel.models.base import GenerateConfig, Message, Model, ModelError
from evalwheel.models.cache import CachedModel, ModelCache, cache_key, default_cache_dir
from evalwheel.models.http import OpenAIModel
from evalwheel.models.reliability import RetryPolicy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from fake_openai_server import FakeOpenAIServer

FAST = RetryPolicy(max_attempts=2, base_delay_s=0.01)
MSGS = [Message(role="user", content="hello there")]


class Verdict(BaseModel):
    reason: str
    passed: bool


def cached(srv: FakeOpenAIServer, path: Path) -> CachedModel:
    return CachedModel(OpenAIModel("fake", srv.base_url, name="test:fake", retry=FAST), ModelCache(path))


async def test_second_call_is_a_hit_and_survives_reopen(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    async with FakeOpenAIServer() as srv:
        m = cached(srv, db)
        assert isinstance(m, Model) and m.name == "test:fake"
        first = await m.generate(MSGS)
        second = await m.generate(MSGS)
        await m.aclose()
        assert srv.requests == 1
        assert not first.cached and second.cached
        assert second.text == first.text and second.usage == first.usage
        # a new process (new cache object) on the same file still hits
        m2 = cached(srv, db)
        third = await m2.generate(MSGS)
        await m2.aclose()
        assert third.cached and srv.requests == 1


async def test_epoch_config_messages_and_schema_are_part_of_the_key(tmp_path: Path) -> None:
    async with FakeOpenAIServer() as srv:
        m = cached(srv, tmp_path / "c.sqlite")
        await m.generate(MSGS, GenerateConfig(epoch=0))
        assert not (await m.generate(MSGS, GenerateConfig(epoch=1))).cached
        assert (await m.generate(MSGS, GenerateConfig(epoch=1))).cached
        assert not (await m.generate(MSGS, GenerateConfig(temperature=0.7))).cached
        assert not (await m.generate([Message(role="user", content="other")])).cached
        # the timeout changes how long we wait, not the answer: same key
        assert (await m.generate(MSGS, GenerateConfig(timeout_s=5))).cached
        s1 = await m.generate(MSGS, schema=Verdict)
        s2 = await m.generate(MSGS, schema=Verdict)
        await m.aclose()
    assert not s1.cached and s2.cached
    assert isinstance(s2.parsed, Verdict) and s2.parsed == s1.parsed
    assert srv.requests == 5
    base = cache_key("a", MSGS, GenerateConfig(), None)
    assert base != cache_key("b", MSGS, GenerateConfig(), None)
    assert base != cache_key("a", MSGS, GenerateConfig(), {"type": "object"})


async def test_errors_are_never_cached(tmp_path: Path) -> None:
    async with FakeOpenAIServer(script=["400", "garbage"]) as srv:
        m = cached(srv, tmp_path / "c.sqlite")
        with pytest.raises(ModelError):
            await m.generate(MSGS)
        with pytest.raises(ModelError):
            await m.generate(MSGS, schema=Verdict)
        assert len(m.cache) == 0
        ok = await m.generate(MSGS)
        okj = await m.generate(MSGS, schema=Verdict)
        await m.aclose()
    assert not ok.cached and not okj.cached and srv.requests == 4


async def test_stream_is_cached(tmp_path: Path) -> None:
    async with FakeOpenAIServer(reply="one two three") as srv:
        m = cached(srv, tmp_path / "c.sqlite")
        a = [p async for p in m.stream(MSGS)]
        b = [p async for p in m.stream(MSGS)]
        await m.aclose()
    assert a == ["one", " two", " three"] and b == ["one two three"] and srv.requests == 1


def test_default_path_honours_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVALWHEEL_CACHE_DIR", raising=False)
    assert default_cache_dir() == Path(".evalwheel-cache")
    assert ModelCache().path == Path(".evalwheel-cache/models.sqlite")
    monkeypatch.setenv("EVALWHEEL_CACHE_DIR", str(tmp_path))
    assert ModelCache().path == tmp_path / "models.sqlite"
