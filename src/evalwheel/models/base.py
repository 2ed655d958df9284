"""The Model protocol shared by every backend (OpenAI-compatible HTTP, the embedded local model).

Everything a caller needs crosses this boundary as pydantic models, so the run engine, the Study Mode
tutor and the LLM judges never see a backend's own types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.types import Usage


class Message(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


class GenerateConfig(EvalwheelModel):
    """Sampling and transport settings; part of the cache key (with the model, messages and epoch)."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = 0
    stop: list[str] | None = None
    timeout_s: float = Field(default=120.0, gt=0.0)
    # Repeated samples of one prompt (epochs) must stay independent, so the epoch is part of the key.
    epoch: int = Field(default=0, ge=0)


class Completion(EvalwheelModel):
    """One model answer with what it cost."""

    model_config = ConfigDict(extra="forbid")

    text: str
    parsed: Any | None = None  # the JSON object when a schema was requested
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0
    cached: bool = False
    model: str = ""
    cost_usd: float = 0.0


class ModelError(RuntimeError):
    """A call that failed after retries (server error, timeout, unparseable structured output)."""


class MalformedResponseError(ModelError):
    """The server answered 200 with something that is not an OpenAI chat completion (not JSON, no choices).

    At run time it is one sample's error like any other; to the preflight probe it means the URL points at
    something that is not an OpenAI-compatible endpoint (a web page, a proxy's error page), a setup error."""


class StructuredOutputError(ModelError):
    """The server answered, but the reply does not match the requested schema (or its content is not text).

    Kept apart from transport failures because the remedy differs: a judge re-asks the model with `why`
    (repair), while a timeout or a 5xx after retries is a run error. `reply` is the model's own text, which
    callers must treat as untrusted data."""

    def __init__(self, message: str, *, reply: str, why: str) -> None:
        super().__init__(message)
        self.reply = reply
        self.why = why


class ModelConfigError(ValueError):
    """An unknown model name, a missing key or an unreachable server: bad configuration (exit code 2)."""


Schema = type[BaseModel] | dict[str, Any]


@runtime_checkable
class Model(Protocol):
    """What every backend provides. `schema` asks for structured output (JSON schema constrained)."""

    name: str

    async def generate(
        self, messages: Sequence[Message], config: GenerateConfig | None = None, schema: Schema | None = None
    ) -> Completion: ...

    def stream(self, messages: Sequence[Message], config: GenerateConfig | None = None) -> AsyncIterator[str]: ...

    async def aclose(self) -> None: ...
