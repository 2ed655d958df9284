"""Interactive Study Mode chat in the terminal, saved as a Session that `evalwheel evaluate` accepts.

A chat is the cheapest way to feel what an overlay does, and saving it in the session format closes the
loop: the conversation someone just had can be graded, labelled and added to the seed set unchanged.
"""

from __future__ import annotations

import select
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.markup import escape

from evalwheel.fileio import write_text_atomic
from evalwheel.models.base import GenerateConfig, Message, Model, ModelError
from evalwheel.studymode.guard import guarded_reply
from evalwheel.studymode.prompting import Arm, build_system_message
from evalwheel.types import LearnerProfile, Session, Turn

QUIT_COMMANDS = frozenset({"/quit", "/exit"})
LineReader = Callable[[str], str | None]


def default_session_id(now: datetime | None = None) -> str:
    return "chat-" + (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


CONTINUE_PROMPT = "[dim]...>[/] "
MULTILINE_HELP = (
    "Type /quit to end. A message can span lines: paste code in ``` fences, or end a line with \\ to go on."
)
FENCE = "```"
PASTE_WAIT_S = 0.05


def _pending_input(stream: TextIO | None, wait_s: float = PASTE_WAIT_S) -> bool:
    """Whether more typed or pasted input is already waiting on a terminal (a paste arrives all at once)."""
    if stream is None or not stream.isatty():
        return False
    try:
        ready, _, _ = select.select([stream], [], [], wait_s)
    except (OSError, ValueError):
        return False
    return bool(ready)


def join_message(lines: list[str]) -> tuple[str, bool]:
    """The message typed so far, and whether it continues: inside an open ``` fence, or after a line
    that ends with a backslash (which is removed)."""
    open_fence = sum(1 for ln in lines if ln.strip().startswith(FENCE)) % 2 == 1
    if lines and lines[-1].endswith("\\") and not open_fence:
        lines[-1] = lines[-1][:-1]
        return "\n".join(lines), True
    return "\n".join(lines), open_fence


def console_reader(console: Console, stream: TextIO | None = None) -> LineReader:
    """Read one learner *message* from the terminal; end of input (Ctrl-D, a closed pipe) reads as None.

    A message can span lines, so pasted code stays one turn: a ``` fence keeps reading until it closes,
    a line ending in a backslash continues on the next, and on a terminal a multi-line paste (lines
    already waiting when one is read) is taken whole.
    """
    tty = stream if stream is not None else sys.stdin

    def read(prompt: str) -> str | None:
        try:
            lines = [console.input(prompt)]
        except EOFError:
            return None
        while True:
            text, more = join_message(lines)
            if not more and not _pending_input(tty):
                return text
            try:
                lines.append(console.input(CONTINUE_PROMPT if more else ""))
            except EOFError:
                return text

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

    Tokens are printed as they stream. A failed model call or an empty reply drops that learner message (the
    learner is told to try again) so the saved conversation never contains a turn without its reply.
    """
    if not arm.uses_model:
        raise ValueError("chat needs a model arm (base or overlay:vN), not human")
    started = datetime.now(UTC)
    instructions = build_system_message(arm, learner, memory)
    turns: list[Turn] = []
    console.print(f"[bold]Study Mode chat[/] ({escape(arm.name)}, model {escape(model.name)}).", highlight=False)
    console.print(MULTILINE_HELP, markup=False, highlight=False)
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
        tags: list[str] = []
        try:
            if arm.guard:
                # The guarded tutor's draft is checked (and fixed) before the learner sees any of it.
                reply = await guarded_reply(model, messages, turns, config)
                chunks, tags = [reply.text], reply.tags
                console.print(reply.text, end="", markup=False, highlight=False, soft_wrap=True)
            else:
                async for chunk in model.stream(messages, config):
                    chunks.append(chunk)
                    console.print(chunk, end="", markup=False, highlight=False, soft_wrap=True)
        except ModelError as exc:
            console.print(f"\n[red]the model failed: {escape(str(exc))}; please send that again[/]", highlight=False)
            turns.pop()
            continue
        console.print()
        reply_text = "".join(chunks).strip()
        if not reply_text:  # no text is a failed reply too: never saved (and graded) as a silent tutor turn
            console.print("[red]the model sent an empty reply; please send that again[/]", highlight=False)
            turns.pop()
            continue
        turns.append(Turn(role="assistant", content=reply_text, tags=tags))
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
