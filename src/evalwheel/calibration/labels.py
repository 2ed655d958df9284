"""Load a human-labelled JSONL file for `evalwheel calibrate GRADER --labels FILE`.

One JSON object per line (blank lines are skipped):

    {"id": "q1", "input": "...", "output": "text" | {Output JSON}, "reference": "..."?, "context": ...?,
     "label": true | false, "metadata": {...}?, "tags": [...]?}

`label` is the human verdict *pass* (true) or *fail* (false) for the grader being calibrated. It must be a
JSON boolean: "yes", 1 or "pass" are rejected rather than guessed, because a silently mis-read label would
corrupt every figure computed from it. `id` may be a string or an integer and must be unique in the file.

Any problem raises `LabelsFormatError` naming the file, the line number, the field and the cause.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from pydantic import ConfigDict, Field, StrictBool, ValidationError, field_validator

from evalwheel.basemodel import EvalwheelModel
from evalwheel.types import Output, Sample, Session, Turn

_UNION_TAGS = frozenset({"str", "Output", "Session", "list[Turn]", "list[str]"})


class LabelsFormatError(ValueError):
    """A labels file that cannot be loaded; names file, line (when known), field (when known) and cause."""

    def __init__(self, path: Path | str, cause: str, line: int | None = None, field: str | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.cause = cause
        where = self.path if line is None else f"{self.path}: line {line}"
        if field:
            where += f": field {field!r}"
        super().__init__(f"{where}: {cause}")


class LabelledCase(Protocol):
    """What the calibration runner needs from a labelled item: an id, the human verdict and a grader input."""

    @property
    def id(self) -> str: ...

    @property
    def label(self) -> bool: ...

    def to_sample(self) -> tuple[Sample, Output]: ...


class LabelledItem(EvalwheelModel):
    """One line of a labels file: a grader input (sample + output) with the human pass/fail verdict."""

    model_config = ConfigDict(extra="forbid")

    id: str
    input: str | list[Turn] | Session
    output: str | Output
    reference: str | None = None
    context: str | list[str] | None = None
    label: StrictBool
    metadata: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        return v

    @field_validator("id")
    @classmethod
    def _id_non_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v

    def to_sample(self) -> tuple[Sample, Output]:
        sample = Sample(
            id=self.id,
            input=self.input,
            reference=self.reference,
            context=self.context,
            metadata=self.metadata,
            tags=self.tags,
        )
        output = Output(text=self.output) if isinstance(self.output, str) else self.output
        return sample, output


def _validation_error(path: Path, line: int, exc: ValidationError) -> LabelsFormatError:
    errors = exc.errors()
    err = errors[0]
    # For a union field (`output`: text or Output JSON) pydantic reports one error per member it tried; a
    # "not a valid string" for an object the user meant as Output JSON hides the real cause, so prefer an
    # error about the content over one about the type when both concern the same field.
    same_field = [e for e in errors if e["loc"][:1] == err["loc"][:1]]
    err = next((e for e in same_field if not str(e["type"]).endswith("_type")), err)
    # pydantic names the union member it tried ("output.Output.text"); the user wrote "output.text".
    loc = [str(part) for part in err["loc"] if str(part) not in _UNION_TAGS]
    field = ".".join(loc) or "<root>"
    cause = str(err["msg"])
    if err["type"] == "missing":
        cause = "required field is missing"
    elif err["type"] == "extra_forbidden":
        cause = "unknown field"
        if len(loc) == 1:
            cause += " (known: " + ", ".join(LabelledItem.model_fields) + ")"
    elif loc == ["label"]:
        cause = f"must be true or false (the human says pass / fail), got {err.get('input')!r}"
    return LabelsFormatError(path, cause, line, field)


def load_labels(path: Path | str) -> list[LabelledItem]:
    """Every item of a labels JSONL file, in file order."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabelsFormatError(p, f"cannot read the file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise LabelsFormatError(p, f"not UTF-8 text: {exc.reason}") from exc
    items: list[LabelledItem] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise LabelsFormatError(p, f"invalid JSON: {exc.msg} (column {exc.colno})", lineno) from exc
        if not isinstance(data, dict):
            raise LabelsFormatError(p, f"expected a JSON object, got {type(data).__name__}", lineno)
        try:
            item = LabelledItem.model_validate(data)
        except ValidationError as exc:
            raise _validation_error(p, lineno, exc) from None
        if item.id in seen:
            raise LabelsFormatError(p, f"duplicate id {item.id!r} (first on line {seen[item.id]})", lineno, "id")
        seen[item.id] = lineno
        items.append(item)
    if not items:
        raise LabelsFormatError(p, "no labelled items (the file is empty)")
    return items
