"""Reading logged data for batch grading: JSONL or Parquet rows, each a monitoring event or a whole session.

A row with a `trajectory` is a recorded session (the seed format, `evalwheel.types.Session`) and is graded by
the config's `session_graders`; any other row is a monitoring event (`evalwheel.monitor.events.Event`, the
wire format of `POST /v1/events`) graded by `graders`. Rows are streamed with their 1-based line (JSONL) or
row (Parquet) number, so every problem can be reported where it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from evalwheel.types import Output, Sample

Kind = Literal["event", "session"]


class LogsError(ValueError):
    """A logged-data file that cannot be graded (unreadable, unknown format, bad lines): exit 2."""


@dataclass(frozen=True)
class NotJSON:
    """A row that did not parse (kept as a plain value so it travels to a Ray worker like any row)."""

    reason: str


@dataclass(frozen=True)
class Item:
    """One valid row, ready for graders (a plain dataclass: its parts were validated once, by `parse`)."""

    line: int
    kind: Kind
    id: str
    sample: Sample
    output: Output


def raw_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON or NotJSON) for every non-blank row."""
    suffix = path.suffix.lower()
    check_input(path)
    if suffix == ".parquet":
        yield from _parquet_rows(path)
        return
    if suffix not in (".jsonl", ".ndjson", ".json"):
        raise LogsError(f"{path}: expected a .jsonl or .parquet file of logged events or sessions")
    try:
        with path.open("rb") as fh:
            for n, raw in enumerate(fh, start=1):
                if raw.strip():
                    yield n, decode_line(raw)
    except OSError as exc:
        raise LogsError(f"{path}: cannot read: {exc}") from None


def check_input(path: Path) -> None:
    """LogsError naming why `path` cannot be read as logs: missing, or a directory (both the local and Ray paths)."""
    if path.is_dir():
        raise LogsError(f"{path}: not a file (a directory)")
    if not path.is_file():
        raise LogsError(f"{path}: file not found")


def decode_line(raw: bytes) -> Any:
    """One JSONL line: its JSON value, or NotJSON (the row is reported with its number, never raised)."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return NotJSON(str(exc))


def parquet_dicts(batch: Any) -> list[dict[str, Any]]:
    """A Parquet record batch as row dicts; null columns are dropped so optional fields keep their defaults."""
    return [{k: v for k, v in row.items() if v is not None} for row in batch.to_pylist()]


def _parquet_rows(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - depends on the environment
        raise LogsError(f"{path}: reading Parquet needs pyarrow: pip install 'evalwheel[parquet]'") from None
    try:
        reader = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for non-Parquet data
        raise LogsError(f"{path}: not a readable Parquet file: {exc}") from None
    n = 0
    for batch in reader.iter_batches(batch_size=4096):
        for row in parquet_dicts(batch):
            n += 1
            yield n, row


def parse(line: int, raw: Any) -> Item:
    """Validate one row; raises LogsError('line N: field: cause')."""
    from evalwheel.monitor.events import Event
    from evalwheel.types import Session

    if isinstance(raw, NotJSON):
        raise LogsError(f"line {line}: not JSON: {raw.reason}")
    if not isinstance(raw, dict):
        raise LogsError(f"line {line}: expected a JSON object, got {type(raw).__name__}")
    try:
        if "trajectory" in raw:
            session = Session.model_validate(raw)
            sample = Sample(id=session.session_id, partition="distribution", input=session)
            return Item(line=line, kind="session", id=session.session_id, sample=sample, output=Output())
        event = Event.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "row"
        more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise LogsError(f"line {line}: {where}: {first['msg']}{more}") from None
    return Item(line=line, kind="event", id=event.request_id, sample=event.to_sample(), output=event.to_output())


def validate_file(path: Path, *, limit: int = 50) -> tuple[int, list[str]]:
    """The strict pre-pass: (valid rows, problems) over the whole file, duplicates included; it stops at
    `limit` + 1 problems (a file of nothing but bad rows is not read to its end to list them all)."""
    seen: dict[str, int] = {}
    problems: list[str] = []
    valid = 0
    for n, raw in raw_rows(path):
        try:
            item = parse(n, raw)
        except LogsError as exc:
            problems.append(str(exc))
        else:
            if item.id in seen:
                problems.append(f"line {n}: duplicate id {item.id!r} (first on line {seen[item.id]})")
            else:
                seen[item.id] = n
                valid += 1
        if len(problems) > limit:
            break
    return valid, problems
