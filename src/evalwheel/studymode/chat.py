"""Interactive Study Mode chat in the terminal, saved as a Session that `evalwheel evaluate` accepts.

A chat is the cheapest way to feel what an overlay does, and saving it in the session format closes the
loop: the conversation someone just had can be graded, labelled and added to the seed set unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from evalwheel.fileio import write_text_atomic
from evalwheel.models.base import GenerateConfig, Message, Model, ModelError
from evalwheel.studymode.prompting import Arm, build_system_message
from evalwheel.types import LearnerProfile, Session, Turn

QUIT_COMMANDS = frozenset({"/quit", "/exit"})
LineReader = Callable[[str], str | None]


def default_session_id(now: datetime | None = None) -> str:
    return "chat-" + (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def console_reader(console: Console) -> LineReader:
    """Read one learner line from the terminal; end of input (Ctrl-D, a closed pipe) reads as None."""

    def read(prompt: str) -> str | None:
        try:
            return console.input(prompt)
        except EOFError:
            return None

    return read


async def run_chat(
    model: Model,
    arm: Arm,
    read_line: LineReader,
    console: Console,
    learner: LearnerProfile | None = None,
    memory: str | None = None,
    config: GenerateConfig | None = None,
    session_id: str | None = None,
    domain: str = "general",
) -> Session | None:
    """Run the conversation until `/quit` or end of input; return it as a Session (None if empty).

    Tokens are printed as they stream. A failed model call drops that learner message (the learner is
    told to try again) so the saved conversation never contains a turn without its reply.
    """
    if not arm.uses_model:
        raise ValueError("chat needs a model arm (base or overlay:vN), not human")
    started = datetime.now(UTC)
    instructions = build_system_message(arm, learner, memory)
    turns: list[Turn] = []
    console.print(f"[bold]Study Mode chat[/] ({arm.name}, model {model.name}). Type /quit to end.", highlight=False)
    while True:
        line = read_line("[bold cyan]you>[/] ")
        if line is None or line.strip().lower() in QUIT_COMMANDS:
            break
        if not line.strip():
            continue
        turns.append(Turn(role="user", content=line))
        messages = [Message(role="system", content=instructions)] if instructions else []
        messages += [Message(role=t.role, content=t.content) for t in turns]
        console.print("[bold green]tutor>[/] ", end="")
        chunks: list[str] = []
        try:
            async for chunk in model.stream(messages, config):
                chunks.append(chunk)
                console.print(chunk, end="", markup=False, highlight=False, soft_wrap=True)
        except ModelError as exc:
            console.print(f"\n[red]the model failed: {exc}; please send that again[/]", highlight=False)
            turns.pop()
            continue
        console.print()
        turns.append(Turn(role="assistant", content="".join(chunks).strip()))
    if not turns:
        return None
    first = next(t.content for t in turns if t.role == "user")
    return Session.model_validate(
        {
            "session_id": session_id or default_session_id(started),
            "domain": domain,
            "prompt": first,
            "learner": learner,
            "trajectory": turns,
            "metadata": {
                "source": "chat",
                "arm": arm.name,
                "overlay_version": arm.overlay_version,
                "model": model.name,
                "instructions": instructions,
                "started_at": started.isoformat(),
                "finished_at": datetime.now(UTC).isoformat(),
            },
        }
    )


def save_session(session: Session, path: Path) -> Path:
    """Validate (again, so hand-built sessions are checked too) and write the session atomically."""
    valid = Session.model_validate(session.model_dump())
    write_text_atomic(path, valid.model_dump_json(indent=2, exclude_none=True))
    return path
