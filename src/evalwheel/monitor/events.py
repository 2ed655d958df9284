"""The monitoring event: one request/response of a production LLM app, as the SDK, HTTP and OTLP deliver it.

Only `request_id`, `app` and an input (`input` or `messages`) are required, so an app can start logging with
three fields and add strata metadata, feedback and session ids later. Chat apps send one event per turn
with `session_id` + `turn`; `assemble_sessions` groups them into a `Session` the Study Mode grader reads.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from evalwheel.basemodel import EvalwheelModel
from evalwheel.types import Output, Sample, Session, Turn, Usage

MAX_TEXT = 200_000  # characters per text field; larger events are refused (the body limit catches most first)
MAX_TIMESTAMP = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last second a datetime (and a window label) can show


class Message(EvalwheelModel):
    """One chat message of an event's `messages` (OpenAI-style roles)."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "tool"]
    content: str = Field(max_length=MAX_TEXT)


class Feedback(EvalwheelModel):
    """End-user feedback: `score` in [-1, 1] (thumbs down = -1) and/or a comment."""

    model_config = ConfigDict(extra="forbid")

    score: float | None = Field(default=None, ge=-1.0, le=1.0)
    comment: str | None = Field(default=None, max_length=10_000)

    @property
    def negative(self) -> bool:
        return self.score is not None and self.score < 0


class Event(EvalwheelModel):
    """One logged LLM call (JSON field names are the wire format)."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=200)
    app: str = Field(min_length=1, max_length=200)
    timestamp: float = Field(
        default_factory=time.time, allow_inf_nan=False, description="Unix seconds (UTC) of the request."
    )
    input: str | None = Field(default=None, max_length=MAX_TEXT)
    messages: list[Message] | None = None
    output: str | None = Field(default=None, max_length=MAX_TEXT)
    context: list[str] | None = None
    latency_ms: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    error: str | None = Field(default=None, max_length=10_000)
    model: str | None = None
    prompt_version: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    feedback: Feedback | None = None
    session_id: str | None = Field(default=None, max_length=200)
    turn: int | None = Field(default=None, ge=0)
    cost_usd: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    usage: Usage | None = None

    @field_validator("timestamp")
    @classmethod
    def _in_range(cls, value: float) -> float:
        """Why: `1e20`, `-1e300` or milliseconds were stored (202) and every window report, the CLI's and the
        server's alert loop alike, then died with OverflowError on that event's window label."""
        if 0.0 <= value <= MAX_TIMESTAMP:
            return value
        hint = " (this looks like milliseconds)" if 1e12 <= value <= MAX_TIMESTAMP * 1000 else ""
        raise ValueError(f"expected Unix seconds between 0 and {MAX_TIMESTAMP:.0f} (year 9999), got {value:g}{hint}")

    @model_validator(mode="after")
    def _has_input(self) -> Event:
        if self.input is None and not self.messages:
            raise ValueError("an event needs `input` or a non-empty `messages`")
        return self

    @property
    def question(self) -> str:
        """The text a grader or embedder treats as the request: `input`, else the last user message."""
        if self.input is not None:
            return self.input
        users = [m.content for m in self.messages or [] if m.role == "user"]
        return users[-1] if users else (self.messages or [])[-1].content

    def to_sample(self, partition: str = "distribution") -> Sample:
        """The event as an offline `Sample` (what graders read, and what `promote` writes)."""
        return Sample(
            id=self.request_id,
            partition=partition,
            input=self.question,
            context=self.context,
            metadata={k: v for k, v in self.metadata.items() if isinstance(k, str)},
        )

    def to_output(self) -> Output:
        return Output(text=self.output, latency_ms=self.latency_ms, error=self.error, usage=self.usage or Usage())


class EventBatch(EvalwheelModel):
    """`POST /v1/events` body: a single event object, or `{"events": [...]}`, or a bare JSON list."""

    model_config = ConfigDict(extra="forbid")

    events: list[Event] = Field(min_length=1, max_length=10_000)


def assemble_sessions(events: Iterable[Event], *, domain: str = "unknown") -> list[Session]:
    """Group turn events by `session_id` (ordered by `turn`, then time) into Study Mode sessions.

    Each event contributes its user input (the last user message, or `input`) and its assistant `output`, so a
    chat logged one turn per event becomes the trajectory the pedagogy checks grade. The session's `prompt`
    is the first user text, its `domain` comes from the first event's `metadata.domain` when present.
    """
    groups: dict[str, list[Event]] = {}
    for e in events:
        if e.session_id is not None:
            groups.setdefault(e.session_id, []).append(e)
    sessions: list[Session] = []
    for sid, group in groups.items():
        group.sort(key=lambda e: (e.turn if e.turn is not None else 1 << 30, e.timestamp))
        trajectory: list[Turn] = []
        for e in group:
            trajectory.append(Turn(role="user", content=e.question))
            if e.output:
                trajectory.append(Turn(role="assistant", content=e.output))
        first = group[0]
        sessions.append(
            Session(
                session_id=sid,
                domain=str(first.metadata.get("domain", domain)),
                prompt=first.question,
                trajectory=trajectory,
                metadata={"app": first.app, "events": [e.request_id for e in group]},
            )
        )
    return sessions
