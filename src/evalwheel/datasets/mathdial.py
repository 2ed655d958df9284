"""Import MathDial JSONL files: teacher-student dialogues whose teacher turns carry a move label.

`conversation` is one string of turns joined by `|EOM|`; a teacher turn reads "Teacher: (move)text"
with move in focus / probing / telling / generic; the student speaks as "Student:" or by name.

As with MRBench, a file that cannot be read raises `MathDialFormatError` (file, line, cause) and an
unusable line is skipped and recorded in `MathDialFile.issues`, so one bad line in a hidden split is
counted rather than fatal.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.datasets.errors import DataFileError

MOVES = ("focus", "probing", "telling", "generic")
EOM = "|EOM|"
_SPEAKER = re.compile(r"^\s*([^:\n]{1,40}):\s?(.*)$", re.S)
_MOVE = re.compile(r"^\s*\(\s*([A-Za-z_ -]+?)\s*\)\s*(.*)$", re.S)


class MathDialFormatError(DataFileError):
    """A file (or, in strict mode, a line) that cannot be imported; names file, line and cause."""


class DialogueTurn(EvalwheelModel):
    """One turn; `move` is the lower-cased teacher move when the turn carries one."""

    model_config = ConfigDict(extra="forbid")

    speaker: str
    is_teacher: bool
    text: str
    move: str | None = None


class MathDialDialogue(EvalwheelModel):
    """One dialogue with its problem, the reference solution and the student's incorrect solution."""

    model_config = ConfigDict(extra="forbid")

    qid: str
    line: int
    question: str = ""
    ground_truth: str | None = None
    student_incorrect_solution: str = ""
    turns: list[DialogueTurn]


class MathDialFile(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    dialogues: list[MathDialDialogue]
    issues: list[str] = Field(default_factory=list)


def split_turns(conversation: str) -> list[DialogueTurn]:
    """Split a MathDial conversation string on |EOM| and parse speaker and teacher move."""
    turns: list[DialogueTurn] = []
    for chunk in conversation.split(EOM):
        if not chunk.strip():
            continue
        m = _SPEAKER.match(chunk)
        speaker, body = (m.group(1).strip(), m.group(2)) if m else ("", chunk)
        is_teacher = speaker.lower() == "teacher"
        move = None
        if is_teacher:
            mm = _MOVE.match(body)
            if mm:
                move, body = mm.group(1).strip().lower(), mm.group(2)
        turns.append(DialogueTurn(speaker=speaker, is_teacher=is_teacher, text=body.strip(), move=move))
    return turns


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def parse_dialogue(item: Any, line: int) -> MathDialDialogue:
    """Validate one JSONL record; raises ValueError naming the cause."""
    if not isinstance(item, dict):
        raise ValueError(f"expected an object, got {type(item).__name__}")
    conv = item.get("conversation")
    if not isinstance(conv, str) or not conv.strip():
        raise ValueError("missing or empty 'conversation'")
    gt = _str(item.get("ground_truth")).strip()
    return MathDialDialogue(
        qid=_str(item.get("qid")) or f"line{line}",
        line=line,
        question=_str(item.get("question")),
        ground_truth=gt or None,
        student_incorrect_solution=_str(item.get("student_incorrect_solution")),
        turns=split_turns(conv),
    )


def load_mathdial(path: Path | str, strict: bool = False) -> MathDialFile:
    """Read a MathDial JSONL file (a JSON list is accepted too). Bad lines are skipped unless strict."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise MathDialFormatError(p, "file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise MathDialFormatError(p, f"cannot read file: {exc}") from exc
    records: list[tuple[int, Any]] = []
    issues: list[str] = []
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = list(enumerate(json.loads(text), start=1))
        except json.JSONDecodeError as exc:
            raise MathDialFormatError(p, f"not valid JSON: {exc.msg}", exc.lineno) from exc
    else:
        for n, raw_line in enumerate(text.splitlines(), start=1):
            if not raw_line.strip():
                continue
            try:
                records.append((n, json.loads(raw_line)))
            except json.JSONDecodeError as exc:
                if strict:
                    raise MathDialFormatError(p, f"not valid JSON: {exc.msg}", n) from exc
                issues.append(f"line {n}: not valid JSON: {exc.msg}")
    dialogues: list[MathDialDialogue] = []
    for n, item in records:
        try:
            dialogues.append(parse_dialogue(item, n))
        except ValueError as exc:
            if strict:
                raise MathDialFormatError(p, str(exc), n) from exc
            issues.append(f"line {n}: {exc}")
    if not dialogues:
        raise MathDialFormatError(p, f"no usable dialogues ({issues[0] if issues else 'the file is empty'})")
    return MathDialFile(path=str(p), dialogues=dialogues, issues=issues)
