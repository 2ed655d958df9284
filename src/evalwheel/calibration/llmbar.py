"""Load LLMBar (data/llmbar/*.json): a JSON list of {input, output_1, output_2, label 1|2}.

`label` names the better output. The loader is strict: a missing/unreadable file, invalid JSON, a top level
that is not a list, a missing or empty field, or a label other than 1/2 raises `LLMBarFormatError` naming the
file, the item index (when known) and the cause.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict

from evalwheel.basemodel import EvalwheelModel
from evalwheel.datasets.errors import ItemDataFileError

FIELDS = ("input", "output_1", "output_2", "label")


class LLMBarFormatError(ItemDataFileError):
    """An LLMBar file that cannot be loaded; names file, item index (when known) and cause."""


class LLMBarPair(EvalwheelModel):
    """One pair: `gold` is "A" when output_1 is better, "B" when output_2 is."""

    model_config = ConfigDict(extra="forbid")

    id: str
    input: str
    output_1: str
    output_2: str
    gold: Literal["A", "B"]


def _item(path: Path, i: int, raw: Any) -> LLMBarPair:
    if not isinstance(raw, dict):
        raise LLMBarFormatError(path, f"expected an object, got {type(raw).__name__}", i)
    missing = [f for f in FIELDS if f not in raw]
    if missing:
        raise LLMBarFormatError(path, f"missing field(s) {', '.join(missing)}", i)
    for f in ("input", "output_1", "output_2"):
        if not isinstance(raw[f], str):
            raise LLMBarFormatError(path, f"{f} must be a string, got {type(raw[f]).__name__}", i)
    if not raw["input"].strip():
        raise LLMBarFormatError(path, "empty input", i)
    label = raw["label"]
    if isinstance(label, bool) or label not in (1, 2, "1", "2"):
        raise LLMBarFormatError(path, f"label {label!r} is not 1 or 2", i)
    return LLMBarPair(
        id=f"llmbar-{i}",
        input=raw["input"],
        output_1=raw["output_1"],
        output_2=raw["output_2"],
        gold="A" if int(label) == 1 else "B",
    )


def load_llmbar(path: Path | str) -> list[LLMBarPair]:
    """All pairs of an LLMBar JSON file, in file order (ids `llmbar-<index>`)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LLMBarFormatError(p, f"cannot read the file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise LLMBarFormatError(p, f"not UTF-8 text: {exc.reason}") from exc
    except json.JSONDecodeError as exc:
        raise LLMBarFormatError(p, f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
    if not isinstance(data, list):
        raise LLMBarFormatError(p, f"expected a JSON list of pairs, got {type(data).__name__}")
    if not data:
        raise LLMBarFormatError(p, "no pairs")
    return [_item(p, i, raw) for i, raw in enumerate(data)]
