"""What a dataset's raw text must satisfy beyond the `Sample` schema: strict JSON, valid Unicode, printable ids.

`lone_surrogate` guards every other JSON input too (session files, recorded outputs, ingested events).

Each rule closes a way bad input used to get through: Python's json module reads `NaN` and `Infinity`, which no
other JSON reader does; `"\\ud83d"` (half of a cut emoji) decodes to a string UTF-8 cannot encode, which crashed
the hash with a traceback; and an id is printed in tables, PR comments, JUnit names and lock diffs, where a
control character garbles the line and two spellings of the same text (NFC / NFD) cannot be told apart.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

# C0 and C1 control characters: newline, tab, ESC, NUL, ...
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

Location = tuple[str | int, ...]


class NotJSONError(ValueError):
    """`NaN` / `Infinity` in a JSON text (the message starts with "invalid JSON")."""


def _refuse_constant(name: str) -> Any:
    raise NotJSONError(f"invalid JSON: {name} is not a JSON value (JSON has no NaN or Infinity; use null or a string)")


def loads_strict(text: str) -> Any:
    """json.loads without the NaN / Infinity extension (which `save_dataset` would otherwise write back).

    Raises json.JSONDecodeError for malformed text and NotJSONError for those constants; the hook runs only
    when one is met, so valid files parse at full speed.
    """
    return json.loads(text, parse_constant=_refuse_constant)


def lone_surrogate(value: Any, loc: Location = ()) -> tuple[Location, str] | None:
    """(location, the surrogate) of the first string (or key) holding an unpaired UTF-16 surrogate, or None."""
    if isinstance(value, str):
        found = _SURROGATE.search(value)
        return (loc, found.group()) if found else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        hit = lone_surrogate(key, loc) if isinstance(key, str) else None
        hit = hit or lone_surrogate(item, (*loc, key))
        if hit:
            return hit
    return None


def surrogate_cause(char: str) -> str:
    """Why a string holding the lone surrogate `char` is refused: the same words for every input."""
    return f"lone UTF-16 surrogate {char!r} (half of a character, e.g. a cut emoji): not valid Unicode text"


def id_key(sample_id: str) -> str:
    """What makes two ids the same one: equal text after Unicode NFC normalisation.

    `café` typed on macOS (NFD: e + combining accent) and on Linux (NFC: é) are different strings that print
    identically in every report, JUnit file and lock diff; a reviewer could not tell which of them failed.
    """
    return unicodedata.normalize("NFC", sample_id)


def id_problem(sample_id: str) -> str | None:
    """Why an id cannot name a sample in results, gates, reports, the lock and --resume; None if it can."""
    if not sample_id.strip():
        return f"empty id {sample_id!r}"
    control = _CONTROL.search(sample_id)
    if control:
        return f"id {sample_id!r} contains a control character ({control.group()!r}); ids are printed in every report"
    return None


def duplicate_cause(sample_id: str, first_where: str, first_id: str) -> str:
    """A duplicate id names the first occurrence; an NFC/NFD twin is spelled in escapes, since both print alike."""
    if first_id == sample_id:
        return f"duplicate id {sample_id!r} (first at {first_where})"
    return (
        f"duplicate id {sample_id!a} (first at {first_where} as {first_id!a}: the same text in another "
        "Unicode normalisation form)"
    )
