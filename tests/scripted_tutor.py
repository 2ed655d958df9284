"""TEST DOUBLE of the Model protocol for the Study Mode guard, simulation and web-chat tests.

`ScriptedTutorDouble` is not a model: it answers from a script (a list of replies, or a function of the
messages) so tests can assert the guard's and the simulator's plumbing deterministically. The tests that
exercise a real model use the embedded one and are marked `slow`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

from evalwheel.models.base import Completion, GenerateConfig, Message, ModelError, Schema
from evalwheel.types import Usage

Script = Sequence[str] | Callable[[Sequence[Message]], str]


class ScriptedTutorDouble:
    """TEST DOUBLE: replies from `script` (cycled list, or a function of the messages); "!fail" raises,
    "!hang" sleeps past any timeout."""

    def __init__(self, script: Script, name: str = "scripted-tutor-double", delay_s: float = 0.0) -> None:
        self.name = name
        self.script = script
        self.delay_s = delay_s
        self.calls: list[list[Message]] = []
        self.closed = False

    async def _text(self, messages: Sequence[Message]) -> str:
        self.calls.append(list(messages))
        n = len(self.calls) - 1
        text = self.script(messages) if callable(self.script) else self.script[n % len(self.script)]
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if text == "!fail":
            raise ModelError("scripted failure (test double)")
        if text == "!hang":
            await asyncio.sleep(3600)
        return text

    async def generate(
        self, messages: Sequence[Message], config: GenerateConfig | None = None, schema: Schema | None = None
    ) -> Completion:
        text = await self._text(messages)
        return Completion(
            text=text,
            usage=Usage(
                prompt_tokens=sum(len(m.content.split()) for m in messages), completion_tokens=len(text.split())
            ),
            latency_ms=3.0,
            model=self.name,
        )

    async def stream(self, messages: Sequence[Message], config: GenerateConfig | None = None) -> AsyncIterator[str]:
        text = await self._text(messages)
        for i, word in enumerate(text.split(" ")):
            yield word if i == 0 else " " + word

    async def aclose(self) -> None:
        self.closed = True
