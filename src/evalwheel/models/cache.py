"""A persistent SQLite cache of completions and the `CachedModel` wrapper that uses it.

Key = sha256 over (model name, messages, generation config, schema). The config includes the epoch, so
repeated samples of one prompt stay independent, and excludes `timeout_s`, which changes how long we
wait, not what the model says. Only successful completions are stored: an error raised by the inner model
propagates and leaves no row, so a retry later really calls the model again.

SQLite calls run synchronously on the event loop on purpose: a primary-key lookup or a single-row insert
in WAL mode (synchronous=NORMAL, no fsync per commit) takes tens of microseconds, much less than the
cost of handing work to a thread. With no `await` between them they are also trivially safe under
concurrent asyncio use; WAL plus a busy timeout keeps several processes sharing one file safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from evalwheel.closing import track, untrack
from evalwheel.models.base import Completion, GenerateConfig, Message, Model, Schema

_DEFAULT_CONFIG = GenerateConfig()
DEFAULT_CACHE_DIR = ".evalwheel-cache"
CACHE_FILE = "models.sqlite"


def default_cache_dir() -> Path:
    """`$EVALWHEEL_CACHE_DIR`, else `.evalwheel-cache` in the working directory."""
    return Path(os.environ.get("EVALWHEEL_CACHE_DIR") or DEFAULT_CACHE_DIR)


_PYDANTIC_KEYS: dict[type[BaseModel], dict[str, Any]] = {}


def _schema_key(schema: Schema | None) -> Any:
    """The schema part of the key; a pydantic model's JSON schema is computed once per class (it is slow)."""
    if schema is None:
        return None
    if isinstance(schema, dict):
        return schema
    key = _PYDANTIC_KEYS.get(schema)
    if key is None:
        key = _PYDANTIC_KEYS[schema] = {"schema": schema.model_json_schema()}
    return key


def cache_key(model: str, messages: Sequence[Message], config: GenerateConfig, schema: Schema | None) -> str:
    """sha256 of a canonical JSON of everything that determines the answer."""
    doc = {
        "model": model,
        "messages": [[m.role, m.content] for m in messages],
        "config": config.model_dump(exclude={"timeout_s"}),
        "schema": _schema_key(schema),
    }
    blob = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ModelCache:
    """Completions by key in one SQLite file, opened lazily (creating its directory) on first use."""

    def __init__(self, path: Path | str | None = None) -> None:
        """`path` is the SQLite file (an existing directory means `<dir>/models.sqlite`); None = the default."""
        p = Path(path) if path is not None else default_cache_dir() / CACHE_FILE
        if p.is_dir():
            p = p / CACHE_FILE
        self.path = p
        self._conn: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS completions ("
                " key TEXT PRIMARY KEY, model TEXT NOT NULL, created REAL NOT NULL, completion TEXT NOT NULL)"
            )
            self._conn = conn
            track(self)  # closed at exit even if the CLI skips the final collection
        return self._conn

    def get(self, key: str) -> Completion | None:
        row = self._db().execute("SELECT completion FROM completions WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        completion = Completion.model_validate_json(row[0])
        completion.cached = True
        return completion

    def put(self, key: str, completion: Completion) -> None:
        stored = completion.model_copy(update={"cached": False})
        self._db().execute(
            "INSERT OR REPLACE INTO completions (key, model, created, completion) VALUES (?, ?, ?, ?)",
            (key, completion.model, time.time(), stored.model_dump_json()),
        )

    def __len__(self) -> int:
        row = self._db().execute("SELECT COUNT(*) FROM completions").fetchone()
        return int(row[0])

    def clear(self) -> None:
        self._db().execute("DELETE FROM completions")

    def close(self) -> None:
        untrack(self)
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class CachedModel:
    """Wraps any Model: answers from the cache when it can (`cached=True`), else calls through and stores.

    A hit returns the stored completion as it was (usage, cost, latency of the original call) with
    `cached=True`; sum costs over non-cached completions for "what this run spent". Streams are cached
    too: a hit yields the stored text in one piece, and a stream read to the end is stored (without
    usage, which the streaming API does not report).
    """

    def __init__(self, inner: Model, cache: ModelCache) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name

    def __repr__(self) -> str:
        return f"CachedModel({self.inner!r}, path={str(self.cache.path)!r})"

    async def generate(
        self, messages: Sequence[Message], config: GenerateConfig | None = None, schema: Schema | None = None
    ) -> Completion:
        cfg = config or _DEFAULT_CONFIG
        key = cache_key(self.name, messages, cfg, schema)
        hit = self.cache.get(key)
        if hit is not None:
            if schema is not None and not isinstance(schema, dict) and hit.parsed is not None:
                hit.parsed = schema.model_validate(hit.parsed)  # stored as JSON; give back the model instance
            return hit
        completion = await self.inner.generate(messages, cfg, schema)
        self.cache.put(key, completion)
        return completion

    async def stream(self, messages: Sequence[Message], config: GenerateConfig | None = None) -> AsyncIterator[str]:
        cfg = config or _DEFAULT_CONFIG
        key = cache_key(self.name, messages, cfg, None)
        hit = self.cache.get(key)
        if hit is not None:
            if hit.text:
                yield hit.text
            return
        parts: list[str] = []
        started = time.perf_counter()
        async for piece in self.inner.stream(messages, cfg):
            parts.append(piece)
            yield piece
        self.cache.put(
            key,
            Completion(text="".join(parts), latency_ms=(time.perf_counter() - started) * 1000.0, model=self.name),
        )

    async def aclose(self) -> None:
        await self.inner.aclose()
        self.cache.close()
