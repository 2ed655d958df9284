"""Import MRBench-format files (MRBench v2 and the BEA 2025 shared-task files) as validated records.

The format: a JSON list of conversations, each with `conversation_history` and the tutor replies under
`anno_llm_responses` (v2) or `tutor_responses` (v3): `{tutor_name: {"response": str, "annotation":
{dimension: label}}}`; `Ground_Truth_Solution` is optional (and sometimes the string "Not Available").

Why the importer is lenient per item but strict per file: agreement is measured on files we have never
seen (a hidden split of the same data), so one odd conversation must not sink the run. A file that is
not a JSON list is unusable and raises `MRBenchFormatError` naming the file and cause; an item that is
unusable is skipped and recorded in `MRBenchFile.issues` (item index, conversation id, field, cause) so
the caller can count and show it, and so can a reply whose fields are broken (no `response`, an
`annotation` that is not an object). Nothing is silently coerced away: a label that is a list or object
is kept as its JSON text (so the runner reports it as an unknown label) instead of being dropped. Labels
are normalised (whitespace) but never mapped here: deciding what counts as a known label is the
agreement runner's job, and whether problems stop a run is the caller's (`calibrate mrbench` exits 2
unless `--skip-invalid`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.datasets.errors import ItemDataFileError

RESPONSE_KEYS = ("anno_llm_responses", "tutor_responses")
NOT_AVAILABLE = {"", "not available", "n/a", "na", "none", "null"}


class MRBenchFormatError(ItemDataFileError):
    """A file (or, in strict mode, an item) that cannot be imported; names file, index and cause."""


class MRBenchResponse(EvalwheelModel):
    """One tutor reply with its human labels (dimension -> label, whitespace-normalised)."""

    model_config = ConfigDict(extra="forbid")

    tutor: str
    response: str
    annotation: dict[str, str] = Field(default_factory=dict)


class MRBenchConversation(EvalwheelModel):
    """A conversation ending in a student turn, plus the tutor replies that were labelled for it."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str
    index: int
    history: str
    ground_truth: str | None = None
    source: str | None = None
    responses: list[MRBenchResponse]
    issues: list[str] = Field(default_factory=list)  # broken replies, each naming the tutor and the field


class MRBenchFile(EvalwheelModel):
    """What was importable from one file, and the per-item problems that were skipped."""

    model_config = ConfigDict(extra="forbid")

    path: str
    conversations: list[MRBenchConversation]
    issues: list[str] = Field(default_factory=list)

    @property
    def n_responses(self) -> int:
        return sum(len(c.responses) for c in self.conversations)


def _text(value: Any) -> str:
    """Coerce a text-ish JSON value to str: None -> "", numbers -> their repr, lists -> joined lines."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    return str(value)


def normalise_label(value: Any) -> str | None:
    """Collapse whitespace of a label; None/empty labels become None (= not labelled).

    A list or object is not a label, but it is not "no label" either: it is kept as its JSON text so the
    agreement runner reports it as an unknown label (counted, never folded into a class, never dropped).
    """
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    text = " ".join(str(value).split())
    return text or None


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _annotation(raw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for dim, label in raw.items():
        norm = normalise_label(label)
        if norm is not None:
            out[str(dim).strip()] = norm
    return out


def _responses(raw: Any, key: str) -> tuple[list[MRBenchResponse], list[str]]:
    """Parse the tutor -> reply mapping (also a list of {"tutor"/"model", "response", ...}): the usable
    replies, and one line per broken one naming the tutor and the field."""
    items: list[tuple[str, Any]]
    if isinstance(raw, dict):
        items = [(str(k), v) for k, v in raw.items()]
    elif isinstance(raw, list):
        items = [
            (str(v.get("tutor", v.get("model", i))) if isinstance(v, dict) else str(i), v) for i, v in enumerate(raw)
        ]
    else:
        raise ValueError(f"{key}: expected an object of tutor replies, got {_type(raw)}")
    out: list[MRBenchResponse] = []
    issues: list[str] = []
    for tutor, value in items:
        where = f"tutor {tutor!r}"
        if isinstance(value, str):
            out.append(MRBenchResponse(tutor=tutor, response=value))
            continue
        if not isinstance(value, dict):
            issues.append(f"{where}: expected an object with 'response' and 'annotation', got {_type(value)} "
                          "(reply skipped)")  # fmt: skip
            continue
        text = value.get("response")
        if not isinstance(text, str):
            cause = "missing" if text is None else f"expected text, got {_type(text)}"
            issues.append(f"{where}: response: {cause} (reply skipped)")
            continue
        annotation = value.get("annotation", {})
        if annotation is None:
            annotation = {}
        if not isinstance(annotation, dict):
            issues.append(f"{where}: annotation: expected an object of dimension -> label, got {_type(annotation)} "
                          "(reply kept without labels)")  # fmt: skip
            annotation = {}
        out.append(MRBenchResponse(tutor=tutor, response=text, annotation=_annotation(annotation)))
    return out, issues


def _history(item: dict[str, Any]) -> str:
    """The conversation before the replies: text (or a list of text lines); missing or empty is an error."""
    raw = item.get("conversation_history")
    if raw is None:
        raise ValueError("conversation_history: missing")
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        raw = "\n".join(raw)
    if not isinstance(raw, str):
        raise ValueError(f"conversation_history: expected text, got {_type(raw)}")
    if not raw.strip():
        raise ValueError("conversation_history: empty (the replies cannot be judged without the conversation)")
    return raw


def parse_conversation(item: Any, index: int) -> MRBenchConversation:
    """Validate one list item; raises ValueError naming the field and cause if it is unusable."""
    if not isinstance(item, dict):
        raise ValueError(f"expected an object, got {_type(item)}")
    key = next((k for k in RESPONSE_KEYS if k in item), None)
    if key is None:
        raise ValueError(f"no tutor responses (expected one of {', '.join(RESPONSE_KEYS)})")
    history = _history(item)
    responses, issues = _responses(item[key], key)
    if not responses:
        first = f"; {issues[0]}" if issues else ""
        raise ValueError(f"{key}: holds no usable tutor replies{first}")
    gt = _text(item.get("Ground_Truth_Solution")).strip()
    return MRBenchConversation(
        conversation_id=_text(item.get("conversation_id")) or f"#{index}",
        index=index,
        history=history,
        ground_truth=None if gt.lower() in NOT_AVAILABLE else gt,
        source=_text(item.get("Data")) or None,
        responses=responses,
        issues=issues,
    )


def item_where(item: Any, index: int) -> str:
    """'item 3 (conversation c-17)': how every problem of one list item is introduced."""
    cid = item.get("conversation_id") if isinstance(item, dict) else None
    return f"item {index}" + (f" (conversation {_text(cid)})" if cid not in (None, "") else "")


def load_mrbench(path: Path | str, strict: bool = False) -> MRBenchFile:
    """Read an MRBench-format JSON file. File-level problems raise; item problems are skipped.

    With `strict=True` the first unusable item raises `MRBenchFormatError` too.
    """
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MRBenchFormatError(p, "file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise MRBenchFormatError(p, f"cannot read file: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise MRBenchFormatError(p, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if isinstance(raw, dict):  # tolerate a wrapper object holding the list
        lists = [v for v in raw.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise MRBenchFormatError(p, "expected a JSON list of conversations, got an object")
        raw = lists[0]
    if not isinstance(raw, list):
        raise MRBenchFormatError(p, f"expected a JSON list of conversations, got {type(raw).__name__}")
    conversations: list[MRBenchConversation] = []
    issues: list[str] = []
    for i, item in enumerate(raw):
        try:
            conv = parse_conversation(item, i)
        except ValueError as exc:
            if strict:
                raise MRBenchFormatError(p, str(exc), i) from exc
            issues.append(f"{item_where(item, i)}: {exc}")
            continue
        if conv.issues and strict:
            raise MRBenchFormatError(p, conv.issues[0], i)
        issues.extend(f"{item_where(item, i)}, {issue}" for issue in conv.issues)
        conversations.append(conv)
    if not conversations:
        raise MRBenchFormatError(p, f"no usable conversations ({issues[0] if issues else 'the list is empty'})")
    return MRBenchFile(path=str(p), conversations=conversations, issues=issues)
