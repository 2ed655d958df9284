"""Simulated learners: personas, an LLM-played student, and a scripted deterministic student for tests.

Replay keeps the recorded learner turns, which stop making sense as soon as the tutor says something
different from the recorded one. On-policy evaluation needs a learner that answers *this* tutor: a persona
(level, goal, a misconception, patience, a tendency to ask for the answer) played by a model, or by a
script when a test needs the same conversation every time.

The first learner message is the persona's problem, the same for every arm, so arms start from the same
place and sessions pair up by persona. Whether the learner asks for the answer at a given turn is drawn
from a generator seeded by (persona, turn), so that decision is also the same across arms.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import ConfigDict, Field, ValidationError

from evalwheel.basemodel import EvalwheelModel
from evalwheel.fileio import FileReadError, parse_error_text, read_text
from evalwheel.models.base import GenerateConfig, Message, Model
from evalwheel.types import LearnerProfile, Level, Turn, Usage

DEFAULT_PERSONAS = "default"


class Persona(EvalwheelModel):
    """A simulated learner. Unknown fields are refused, so a typo in a persona file is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    domain: str
    level: Level
    goal: str
    problem: str = Field(min_length=1)
    solution: str | list[str] | None = None
    misconception: str
    wrong_answer: str
    patience: int = Field(ge=1, le=10)
    answer_seeking: float = Field(ge=0.0, le=1.0)
    opening: str | None = None
    known_concepts: list[str] = Field(default_factory=list)
    source: str | None = None

    def profile(self) -> LearnerProfile:
        """What the tutor is told about the learner: level, goal, known concepts (never the misconception)."""
        return LearnerProfile(level=self.level, goals=[self.goal], known_concepts=self.known_concepts)

    def first_message(self) -> str:
        return self.opening or f"Can you help me with this? {self.problem}"


class PersonaFile(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    personas: list[Persona] = Field(min_length=1)


class PersonaError(ValueError):
    """A persona file that cannot be used; the message names the file, the persona and the field."""


def _location(raw: object, loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    node: object = raw
    for key in loc:
        if isinstance(key, int):
            pid = (
                node[key].get("id")
                if isinstance(node, list) and key < len(node) and isinstance(node[key], dict)
                else None
            )
            parts.append(f"[{key}]" + (f" (id {pid!r})" if pid else ""))
            node = node[key] if isinstance(node, list) and key < len(node) else None
        else:
            parts.append(("." if parts else "") + key)
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def parse_personas(text: str, source: str) -> list[Persona]:
    """Personas from YAML (or JSON) text: `{personas: [...]}` or a bare list."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PersonaError(f"{source}: invalid YAML: {parse_error_text(exc)}") from None
    if isinstance(raw, list):
        raw = {"personas": raw}
    try:
        personas = PersonaFile.model_validate(raw).personas
    except ValidationError as exc:
        e = exc.errors()[0]
        where = _location(raw, tuple(e["loc"]))
        msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"].lower()
        if e["type"] == "missing":
            msg = "missing required field"
        raise PersonaError(f"{source}: {where}: {msg}") from None
    seen: set[str] = set()
    for p in personas:
        if p.id in seen:
            raise PersonaError(f"{source}: persona id {p.id!r} appears twice")
        seen.add(p.id)
    return personas


def load_personas(path: Path | str | None = None) -> list[Persona]:
    """The personas in `path`, or the set shipped with evalwheel (`default`) when None."""
    if path is None or str(path) == DEFAULT_PERSONAS:
        text = (resources.files("evalwheel.studymode") / "personas" / "default.yaml").read_text(encoding="utf-8")
        return parse_personas(text, "evalwheel:personas/default.yaml")
    try:
        text = read_text(Path(path))
    except FileReadError as exc:
        raise PersonaError(str(exc)) from None
    return parse_personas(text, str(path))


class LearnerReply(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0
    calls: int = 0
    fallback: bool = False  # the model's message was out of character; the scripted line was used


class Learner(Protocol):
    """Writes the learner's next message given the conversation so far (learner = `user` turns)."""

    name: str

    async def reply(self, persona: Persona, transcript: Sequence[Turn], turn: int) -> LearnerReply: ...


def asks_for_answer(persona: Persona, turn: int) -> bool:
    """Whether the learner pushes for the answer at learner turn `turn` (>= 1): same draw on every arm."""
    rng = random.Random(zlib.crc32(f"{persona.id}:{turn}".encode()))
    return rng.random() < persona.answer_seeking


def impatient(persona: Persona, turn: int) -> bool:
    return turn > persona.patience


def _solution_text(persona: Persona) -> str:
    sol = persona.solution
    return sol[0] if isinstance(sol, list) and sol else sol if isinstance(sol, str) else "it"


class ScriptedLearner:
    """A deterministic learner for tests: the same transcript gives the same message, no model involved.

    Turn 1 tries the misconception's answer, later turns try again, ask for the answer when the persona
    tends to, grow impatient past its patience, and get it right once the tutor has confirmed effort
    twice — enough behaviour to exercise every check without a model.
    """

    name = "scripted"

    async def reply(self, persona: Persona, transcript: Sequence[Turn], turn: int) -> LearnerReply:
        if turn == 0:
            return LearnerReply(text=persona.first_message())
        if impatient(persona, turn):
            text = "This is taking too long and I'm getting frustrated. Can you just tell me the answer?"
        elif asks_for_answer(persona, turn):
            text = "I'm not sure. Can you just give me the answer?"
        elif turn == 1:
            text = f"I think it's {persona.wrong_answer}, because I {persona.misconception}."
        elif turn == 2:
            text = f"Maybe {persona.wrong_answer} again? I tried it a second way and got the same thing."
        else:
            text = f"Oh wait, is it {_solution_text(persona)}? I think I see it now."
        return LearnerReply(text=text)


LEARNER_SYSTEM = """You write the next message of a {level} STUDENT in a tutoring chat (you are not the tutor).
The student's problem: {problem}
The student's goal: {goal}
The student wrongly believes this: they {misconception}. So they think the answer is {wrong_answer}.
Write ONLY the student's next message: one or two short sentences, plain text, no role label, no quotes.
The student never explains the topic and never gives the correct answer unless the tutor has led them to it."""

TUTOR_LIKE = re.compile(
    r"^(?:sure|certainly|of course|great question|to (?:find|solve|calculate|fix)|let'?s|here'?s|i can help|"
    r"absolutely|step \d|the (?:answer|solution) is)\b|\b(?:i'?m sorry, but i can'?t|i can'?t (?:assist|help) with)",
    re.I,
)
_PREAMBLE = re.compile(r"^(?:the )?student'?s? (?:next )?(?:message|reply)(?: is)?\s*:?\s*", re.I)

_LABEL = re.compile(r"^\s*(?:\*\*)?(?:student|learner|me|user)(?:\*\*)?\s*:\s*", re.I)


def clean_learner_text(text: str, max_sentences: int = 3) -> str:
    """The model's message as a learner would type it: no role label, no wrapping quotes, a few sentences."""
    t = _PREAMBLE.sub("", _LABEL.sub("", text.strip()).strip()).strip().strip('"').strip()
    t = re.split(r"\n?\s*(?:Tutor|Teacher)\s*:", t)[0].strip()
    sentences = re.split(r"(?<=[.!?])\s+", t)
    return " ".join(sentences[:max_sentences]).strip()


class LLMLearner:
    """A student played by a model, steered per turn by the persona (answer seeking, patience)."""

    def __init__(self, model: Model, config: GenerateConfig | None = None) -> None:
        self.model = model
        self.name = f"llm:{model.name}"
        self.config = config or GenerateConfig(max_tokens=60, temperature=0.0)

    def messages(self, persona: Persona, transcript: Sequence[Turn], turn: int) -> list[Message]:
        """The persona as instructions, the conversation as a labelled transcript, and this turn's steer.

        A transcript in one message works better on small models than flipping the chat roles: with
        flipped roles a 0.5B model tends to answer as the tutor it has been trained to be.
        """
        system = LEARNER_SYSTEM.format(
            **persona.model_dump(include={"level", "problem", "goal", "misconception", "wrong_answer"})
        )
        steer: list[str] = []
        if impatient(persona, turn):
            steer.append("The student is getting impatient and says so briefly.")
        if asks_for_answer(persona, turn):
            steer.append("In this message the student asks the tutor to just tell them the answer.")
        else:
            steer.append("The student answers the tutor's last question with their own (possibly wrong) attempt.")
        lines = [
            f"{'Student' if t.role == 'user' else 'Tutor'}: {' '.join(t.content.split())}"
            for t in transcript
            if t.role != "system"
        ]
        prompt = "Conversation so far:\n" + "\n".join(lines) + "\n\n" + " ".join(steer) + "\nStudent:"
        return [Message(role="system", content=system), Message(role="user", content=prompt)]

    def acceptable(self, persona: Persona, text: str, transcript: Sequence[Turn]) -> bool:
        """Whether the model's message reads like this student: not empty, not the tutor's voice, not a
        copy of something already said (small models echo the opening problem)."""
        flat = " ".join(text.split()).lower()
        if len(flat) < 2 or TUTOR_LIKE.search(flat):
            return False
        said = {" ".join(t.content.split()).lower()[:80] for t in transcript}
        return flat[:80] not in said

    async def reply(self, persona: Persona, transcript: Sequence[Turn], turn: int) -> LearnerReply:
        if turn == 0:
            return LearnerReply(text=persona.first_message())
        done = await self.model.generate(self.messages(persona, transcript, turn), self.config)
        text = clean_learner_text(done.text)
        fallback = not self.acceptable(persona, text, transcript)
        if fallback:
            # Out of character (or empty): the scripted student's line for this turn keeps the session
            # on track, and the artifact counts how often that happened.
            text = (await ScriptedLearner().reply(persona, transcript, turn)).text
        return LearnerReply(text=text, usage=done.usage, latency_ms=done.latency_ms, calls=1, fallback=fallback)
