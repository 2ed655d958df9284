"""What the learner-facing web chat does, apart from HTTP: profiles, sessions, replies, memory and logging.

Storage is the run store the rest of evalwheel reads, so chat sessions flow into grading, escalation and
review without an export step: each learner is one run (`study-<learner id>`, spec `study-web`, the
profile in the run's metadata), and each chat session is one result in it, re-written after every
completed exchange (graded with the Study Mode checks; tags carry the guard's interventions and whether
Study Mode was on). A session that has not been ended yet is stored as truncated, so its end-of-session
checks stay unscored until the learner ends it. Earlier sessions of the same learner become the memory
summary in the tutor's system message. When a monitor URL is configured, an ended session is also sent
to monitoring as turn events (`evalwheel.monitor.sdk.log_session`).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from evalwheel.basemodel import EvalwheelModel
from evalwheel.graders.pedagogy.session import evaluate_session
from evalwheel.models.base import GenerateConfig, Message, Model, ModelConfigError, ModelError
from evalwheel.models.reliability import Timeouts
from evalwheel.store import Store, StoreError
from evalwheel.studymode.guard import GuardConfig, guarded_reply
from evalwheel.studymode.prompting import Arm, build_system_message, memory_summary, parse_arm
from evalwheel.types import LearnerProfile, Output, RunInfo, SampleResult, Score, Session, Turn, Usage

SPEC_NAME = "study-web"
STUDY_ARM = "overlay:v3"  # Study Mode on: the guarded overlay
CHAT_ARM = "base"  # Study Mode off: the same model as a plain assistant
MAX_MESSAGE_CHARS = 20_000
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")


class StudyError(ValueError):
    """A request the chat refuses (empty message, unknown session or learner); the message says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ProfileIn(EvalwheelModel):
    """The profile form: level, goals and known concepts (all optional but the name)."""

    model_config = ConfigDict(extra="forbid")

    learner_id: str | None = None
    name: str = Field(min_length=1, max_length=100)
    level: str | None = None
    goals: list[str] = Field(default_factory=list, max_length=10)
    known_concepts: list[str] = Field(default_factory=list, max_length=30)

    @field_validator("level")
    @classmethod
    def _level(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if v not in ("beginner", "intermediate", "advanced"):
            raise ValueError("level must be beginner, intermediate or advanced")
        return v

    def profile(self) -> LearnerProfile:
        clean = [g.strip() for g in self.goals if g.strip()]
        known = [k.strip() for k in self.known_concepts if k.strip()]
        return LearnerProfile.model_validate(
            {"name": self.name.strip(), "level": self.level, "goals": clean, "known_concepts": known}
        )


class MessageIn(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(max_length=MAX_MESSAGE_CHARS)
    study_mode: bool = True


@dataclass
class ChatState:
    """One open chat session (in memory; every completed exchange is also in the store)."""

    session_id: str
    learner_id: str
    profile: LearnerProfile
    memory: str
    started_at: datetime
    turns: list[Turn] = field(default_factory=list)
    study_turns: int = 0
    guard_events: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ended: bool = False


def new_id(prefix: str) -> str:
    return f"{prefix}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}"


def run_id_of(learner_id: str) -> str:
    return f"study-{learner_id}"


class StudyService:
    """Profiles, sessions and replies for the web chat, backed by the run store and a model."""

    def __init__(
        self,
        store: Store,
        model: Model | None = None,
        model_name: str | None = None,
        monitor_url: str | None = None,
        config: GenerateConfig | None = None,
        guard: GuardConfig | None = None,
        domain: str = "general",
        timeouts: Timeouts | None = None,
    ) -> None:
        self.store = store
        self._model = model
        self.model_name = model_name
        self.timeouts = timeouts  # per-request limits of the model made from `model_name` (None: client defaults)
        self.monitor_url = monitor_url
        self.config = config or GenerateConfig(max_tokens=300)
        self.guard = guard or GuardConfig()
        self.domain = domain
        self.sessions: dict[str, ChatState] = {}
        self._model_lock = asyncio.Lock()

    async def model(self) -> Model:
        async with self._model_lock:
            if self._model is None:
                from evalwheel.models.registry import default_model_name, get_model

                self._model = get_model(self.model_name or default_model_name(), timeouts=self.timeouts)
            return self._model

    async def aclose(self) -> None:
        if self._model is not None:
            await self._model.aclose()

    # ------------------------------------------------------------------------------------ learners

    def _find_run(self, learner_id: str) -> RunInfo | None:
        try:
            return self.store.get_run(run_id_of(learner_id))
        except StoreError:
            return None

    async def save_profile(self, body: ProfileIn) -> tuple[str, LearnerProfile]:
        learner_id = body.learner_id or new_id("learner")
        if not _ID_RE.match(learner_id):
            raise StudyError("learner_id: use 3-64 lowercase letters, digits and dashes")
        profile = body.profile()
        existing = await asyncio.to_thread(self._find_run, learner_id)
        meta = {"kind": SPEC_NAME, "learner_id": learner_id, "profile": profile.model_dump(mode="json")}
        if existing is None:
            info = RunInfo(run_id=run_id_of(learner_id), spec_name=SPEC_NAME, arm="study", metadata=meta)
            await asyncio.to_thread(self.store.create_run, info)
        else:
            await asyncio.to_thread(self.store.set_run_status, run_id_of(learner_id), "running", metadata_update=meta)
        return learner_id, profile

    async def learner(self, learner_id: str) -> tuple[LearnerProfile, list[Session]]:
        run = await asyncio.to_thread(self._find_run, learner_id)
        if run is None:
            raise StudyError(f"unknown learner {learner_id!r}; create a profile first", 404)
        profile = LearnerProfile.model_validate(run.metadata.get("profile") or {})
        results = await asyncio.to_thread(lambda: list(self.store.iter_results(run.run_id)))
        return profile, [s for s in (_session_of(r, self.domain) for r in results) if s is not None]

    # ------------------------------------------------------------------------------------ sessions

    async def start(self, learner_id: str) -> ChatState:
        profile, previous = await self.learner(learner_id)
        state = ChatState(
            session_id=new_id("study"),
            learner_id=learner_id,
            profile=profile,
            memory=memory_summary(previous),
            started_at=datetime.now(UTC),
        )
        self.sessions[state.session_id] = state
        return state

    def get(self, session_id: str) -> ChatState:
        state = self.sessions.get(session_id)
        if state is None:
            raise StudyError(f"unknown or expired session {session_id!r}; start a new one", 404)
        if state.ended:
            raise StudyError("this session has ended; start a new one", 409)
        return state

    async def reply(self, session_id: str, body: MessageIn) -> AsyncIterator[dict[str, Any]]:
        """Validate, then yield `{"delta": ...}` chunks and a final `{"done": ...}` (or `{"error": ...}`).

        An empty or whitespace-only message is refused before anything reaches the model. Study Mode on
        means the guarded overlay (the reply is checked and only then streamed); off, the plain assistant
        streams token by token. A model failure drops the learner's message, so the session never holds
        a turn without its reply.
        """
        text = body.content.replace("\r\n", "\n").strip("\n")
        if not text.strip():
            raise StudyError("empty message: write something before sending")
        state = self.get(session_id)
        return self._reply(state, text, body.study_mode)

    async def _reply(self, state: ChatState, text: str, study_mode: bool) -> AsyncIterator[dict[str, Any]]:
        async with state.lock:
            arm = parse_arm(STUDY_ARM if study_mode else CHAT_ARM)
            try:
                model = await self.model()
            except ModelConfigError as exc:
                yield {"error": f"no tutor model: {exc}"}
                return
            learner_turn = Turn(role="user", content=text, tags=["study_mode" if study_mode else "chat"])
            messages = _messages(arm, state, text)
            started = time.perf_counter()
            tags: list[str] = ["study_mode"] if study_mode else ["chat"]
            try:
                if arm.guard:
                    done = await guarded_reply(model, messages, [*state.turns, learner_turn], self.config, self.guard)
                    reply = done.text
                    tags += done.tags
                    state.usage.prompt_tokens += done.usage.prompt_tokens
                    state.usage.completion_tokens += done.usage.completion_tokens
                    if done.fired:
                        state.guard_events.append(
                            {"turn": len(state.turns) + 1, "events": [e.model_dump(mode="json") for e in done.events]}
                        )
                    for chunk in _chunks(reply):
                        yield {"delta": chunk}
                else:
                    parts: list[str] = []
                    async for chunk in model.stream(messages, self.config):
                        parts.append(chunk)
                        yield {"delta": chunk}
                    reply = "".join(parts).strip()
            except (ModelError, ModelConfigError, TimeoutError) as exc:
                yield {"error": f"the tutor could not answer ({type(exc).__name__}); please send that again"}
                return
            state.turns += [learner_turn, Turn(role="assistant", content=reply, tags=tags)]
            state.study_turns += int(study_mode)
            await asyncio.to_thread(self._persist, state, model.name)
            yield {"done": True, "tags": tags, "ms": round((time.perf_counter() - started) * 1000.0, 1)}

    async def end(self, session_id: str) -> SampleResult | None:
        """End the session: grade it as finished, store it, and send it to monitoring when configured."""
        state = self.get(session_id)
        async with state.lock:
            state.ended = True
            if not state.turns:
                self.sessions.pop(session_id, None)
                return None
            model = await self.model()
            result = await asyncio.to_thread(self._persist, state, model.name)
            if self.monitor_url:
                await asyncio.to_thread(self._send_to_monitor, state, model.name)
            self.sessions.pop(session_id, None)
            return result

    # ------------------------------------------------------------------------------------ storage

    def session_of(self, state: ChatState, model_name: str) -> Session:
        return Session(
            session_id=state.session_id,
            domain=self.domain,
            prompt=next(t.content for t in state.turns if t.role == "user"),
            learner=state.profile,
            trajectory=state.turns,
            metadata={
                "source": "study-web",
                "learner_id": state.learner_id,
                "model": model_name,
                "study_turns": state.study_turns,
                "guard_events": state.guard_events,
                "truncated": None if state.ended else "session still open",
                "started_at": state.started_at.isoformat(),
            },
        )

    def _send_to_monitor(self, state: ChatState, model_name: str) -> None:
        """One event per exchange (with the turn's tags, so monitoring sees the guard fire) and a close event."""
        from evalwheel.monitor.sdk import Monitor

        mon = Monitor(self.monitor_url or "", "studymode-web", prompt_version=STUDY_ARM)
        now = time.time()
        base = {"domain": self.domain, "learner_id": state.learner_id}
        pairs = list(zip(state.turns[0::2], state.turns[1::2], strict=False))
        for k, (learner, tutor) in enumerate(pairs):
            mon.log(
                request_id=f"{state.session_id}#{k}",
                session_id=state.session_id,
                turn=k,
                input=learner.content,
                output=tutor.content,
                model=model_name,
                timestamp=now,
                metadata={**base, "tags": tutor.tags, "guard_fired": any(t.startswith("guard:") for t in tutor.tags)},
            )
        mon.log(
            request_id=f"{state.session_id}#close",
            session_id=state.session_id,
            turn=len(pairs),
            input="(session closed)",
            timestamp=now,
            metadata={**base, "session_end": True},
        )
        mon.close(30.0)

    def _persist(self, state: ChatState, model_name: str) -> SampleResult:
        """Grade and (re)write the session's result: durable after every completed exchange."""
        session = self.session_of(state, model_name)
        ev = evaluate_session(session)
        fidelity = Score(
            name="pedagogical_fidelity",
            value=ev.fidelity,
            passed=None if ev.fidelity is None else not ev.escalate,
            reason="; ".join(ev.escalation_reasons) or "no escalation",
            metadata={
                "escalate": ev.escalate,
                "taxonomy": [m.value for m in ev.taxonomy],
                "learner_id": state.learner_id,
                "study_turns": state.study_turns,
                "guard_events": state.guard_events,
                "ended": state.ended,
            },
        )
        tags = sorted({t for turn in state.turns for t in turn.tags} | ({"escalate"} if ev.escalate else set()))
        status = "unscored" if ev.fidelity is None else ("failed" if ev.escalate else "passed")
        result = SampleResult(
            run_id=run_id_of(state.learner_id),
            sample_id=state.session_id,
            partition="distribution",
            status=status,
            value=ev.fidelity,
            scores=[*ev.checks, fidelity],
            output=Output(trajectory=state.turns, usage=state.usage),
            tags=tags,
        )
        self.store.add_results([result], replace=True)
        return result


def _messages(arm: Arm, state: ChatState, text: str) -> list[Message]:
    system = build_system_message(arm, state.profile, state.memory)
    msgs = [Message(role="system", content=system)] if system else []
    msgs += [Message(role=t.role, content=t.content) for t in state.turns]
    msgs.append(Message(role="user", content=text))
    return msgs


def _chunks(text: str, size: int = 3) -> list[str]:
    """A checked reply streamed in a few words at a time (keeping newlines, so code blocks survive)."""
    words = re.split(r"(\s+)", text)
    out: list[str] = []
    for i in range(0, len(words), size * 2):
        out.append("".join(words[i : i + size * 2]))
    return [c for c in out if c]


def _session_of(result: SampleResult, domain: str) -> Session | None:
    turns = result.output.trajectory if result.output else None
    if not turns:
        return None
    first = next((t.content for t in turns if t.role == "user"), "")
    return Session(session_id=result.sample_id, domain=domain, prompt=first[:200], trajectory=turns)
