"""Score and Evidence objects built from values the deterministic Study Mode tier produced itself.

Every session yields ~16 Scores (nine checks, seven dimensions). Full pydantic validation, or even
`model_construct` (a Python loop over the fields), cost about a tenth of the tier's time; the values
are already of the right types (finite 0-2 or 0/1 values, float confidences in [0, 1], Evidence
objects built by `Evidence.quote`), so they are set directly, exactly as `model_construct` would.
"""

from __future__ import annotations

from typing import Any

from evalwheel.types import Evidence, Score, clip

_new = Score.__new__
_set = object.__setattr__
_FIELDS_ALL = frozenset(("name", "value", "passed", "reason", "evidence", "confidence", "metadata"))
_FIELDS_NO_META = frozenset(("name", "value", "passed", "reason", "evidence", "confidence"))


def trusted_score(
    name: str,
    value: float | None,
    passed: bool | None,
    reason: str,
    evidence: list[Evidence],
    confidence: float | None,
    metadata: dict[str, Any] | None = None,
) -> Score:
    """A Score from trusted values; `metadata=None` leaves it unset (an empty dict), as the constructor does.

    Callers pass floats (not ints) for `value` and `confidence`: that is what validation would store.
    """
    s = _new(Score)
    _set(
        s,
        "__dict__",
        {
            "name": name,
            "value": value,
            "passed": passed,
            "reason": reason,
            "evidence": evidence,
            "confidence": confidence,
            "metadata": {} if metadata is None else metadata,
        },
    )
    _set(s, "__pydantic_fields_set__", set(_FIELDS_NO_META if metadata is None else _FIELDS_ALL))
    _set(s, "__pydantic_extra__", None)
    _set(s, "__pydantic_private__", None)
    return s


_new_evidence = Evidence.__new__
_EVIDENCE_FIELDS = frozenset(("turn_index", "snippet"))


def quote(turn_index: int | None, text: str, start: int = 0) -> Evidence:
    """`Evidence.quote` without re-validation: `clip` already bounds the snippet to the schema's limit."""
    e = _new_evidence(Evidence)
    _set(e, "__dict__", {"turn_index": turn_index, "snippet": clip(text, start)})
    _set(e, "__pydantic_fields_set__", set(_EVIDENCE_FIELDS))
    _set(e, "__pydantic_extra__", None)
    _set(e, "__pydantic_private__", None)
    return e
