"""Load and validate recorded tutoring sessions from JSON / JSONL files and folders.

A reviewer with a folder of 500 transcripts needs to know *every* broken file at once, each with the
file, the JSON path and the cause, rather than fixing them one crash at a time. So loading a folder
collects errors; the caller decides whether any error is fatal (`skip_invalid`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalwheel.datasets.checks import lone_surrogate, surrogate_cause
from evalwheel.fileio import FileReadError, read_text
from evalwheel.types import Session

SESSION_SUFFIXES = (".json", ".jsonl")


class SessionLoadError(ValueError):
    """A session file that cannot be used; the message names file, JSON path and cause."""

    def __init__(self, path: Path | str, json_path: str, cause: str) -> None:
        self.path = str(path)
        self.json_path = json_path
        self.cause = cause
        super().__init__(f"{self.path}: {json_path}: {cause}")


@dataclass
class LoadReport:
    """The sessions that loaded and the errors for the ones that did not."""

    sessions: list[Session] = field(default_factory=list)
    errors: list[SessionLoadError] = field(default_factory=list)


def json_path(loc: Iterable[int | str], root: str = "$") -> str:
    """Render a pydantic error location as a JSONPath-like string: $.trajectory[3].role."""
    out = root
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _describe(err: dict[str, Any]) -> str:
    msg = str(err.get("msg", "invalid"))
    if err.get("type") == "missing":
        return "required field is missing"
    if err.get("type") == "extra_forbidden":
        return "unknown field (not part of the session format)"
    got = err.get("input")
    if isinstance(got, str | int | float | bool) or got is None:
        shown = repr(got)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return f"{msg} (got {shown})"
    return msg


def validate_session(data: Any, path: Path | str, root: str = "$") -> Session:
    """Validate one decoded JSON value as a Session or raise one SessionLoadError."""
    if not isinstance(data, dict):
        raise SessionLoadError(path, root, f"expected a JSON object, got {type(data).__name__}")
    surrogate = lone_surrogate(data)  # "\ud83d" in a message or metadata crashed --json / --out / --explain
    if surrogate is not None:
        raise SessionLoadError(path, json_path(surrogate[0], root), surrogate_cause(surrogate[1]))
    try:
        return Session.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        cause = _describe(dict(first))
        if len(errors) > 1:
            others = "; ".join(f"{json_path(e['loc'], root)}: {_describe(dict(e))}" for e in errors[1:4])
            more = f" (+{len(errors) - 4} more)" if len(errors) > 4 else ""
            cause += f" [also: {others}{more}]"
        raise SessionLoadError(path, json_path(first["loc"], root), cause) from None


def _decode(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield (json-path root, decoded value) for every session-shaped value in a file."""
    try:
        text = read_text(path)
    except FileReadError as exc:
        raise SessionLoadError(path, "$", exc.cause) from None
    if path.suffix == ".jsonl":
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                yield f"line {lineno}: $", json.loads(line)
            except json.JSONDecodeError as exc:
                raise SessionLoadError(
                    path, f"line {lineno}", f"invalid JSON: {exc.msg} (column {exc.colno})"
                ) from None
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SessionLoadError(path, "$", f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if isinstance(data, list):
        for i, item in enumerate(data):
            yield f"$[{i}]", item
    else:
        yield "$", data


def load_session_file(path: Path | str) -> list[Session]:
    """Load every session in one .json (object or list) or .jsonl file; raise on the first bad one."""
    p = Path(path)
    return [validate_session(value, p, root) for root, value in _decode(p)]


def iter_session_files(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Expand files and folders (recursively) into session files, in a stable order."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in SESSION_SUFFIXES)
        else:
            yield p


def load_sessions(paths: Iterable[Path | str]) -> LoadReport:
    """Load sessions from files and folders, collecting every error instead of stopping at the first.

    Duplicate session ids are reported as errors on the later file: results are keyed by session id,
    so two different sessions with one id would silently overwrite each other downstream.
    """
    report = LoadReport()
    seen: dict[str, str] = {}
    for file in iter_session_files(paths):
        if not file.exists():
            report.errors.append(SessionLoadError(file, "$", "file or folder does not exist"))
            continue
        try:
            sessions = load_session_file(file)
        except SessionLoadError as exc:
            report.errors.append(exc)
            continue
        for s in sessions:
            if s.session_id in seen:
                report.errors.append(
                    SessionLoadError(
                        file, "$.session_id", f"duplicate session_id {s.session_id!r} (first in {seen[s.session_id]})"
                    )
                )
                continue
            seen[s.session_id] = str(file)
            report.sessions.append(s)
    return report
