"""A scripted judge endpoint for judge tests: the fake OpenAI-compatible server (a test double for the HTTP
protocol, benchmarks/fake_openai_server.py) replying from a queue of texts or a reply function, and the
OpenAIModel clients pointed at it (closed after every test by the autouse fixture in conftest.py)."""

from __future__ import annotations

import sys
from collections import deque
from pathlib import Path
from typing import Any

from evalwheel.models.http import OpenAIModel
from evalwheel.models.reliability import RetryPolicy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from fake_openai_server import FakeOpenAIServer

FAST = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.02)
_OPEN: list[OpenAIModel] = []


class ScriptedJudge(FakeOpenAIServer):
    """The fake server with a queue of reply texts (then the schema-filled default), or a reply function."""

    def __init__(self, replies: list[str] | None = None, fn: Any = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.replies: deque[str] = deque(replies or [])
        self.fn = fn
        self.bodies: list[dict[str, Any]] = []

    async def __aenter__(self) -> ScriptedJudge:
        await self.start()
        return self

    def _text(self, body: dict[str, Any], *, garbage: bool) -> str:
        self.bodies.append(body)
        if not garbage and self.replies:
            return self.replies.popleft()
        if not garbage and self.fn is not None:
            return str(self.fn(body))
        text: str = super()._text(body, garbage=garbage)
        return text


def judge(srv: FakeOpenAIServer, name: str = "fake-judge") -> OpenAIModel:
    """A judge model client on the scripted server, closed after the test."""
    model = OpenAIModel("fake", srv.base_url, name=name, retry=FAST)
    _OPEN.append(model)
    return model


async def close_judges() -> None:
    while _OPEN:
        await _OPEN.pop().aclose()
