"""Numbers in tutoring text: extraction, comparison, and the final answer of a reference solution.

Revealing the answer is mostly about numbers (a math tutor who writes "so the answer is 9" has told),
so the rules need a robust notion of "the same number": 1,200 == 1200 == 1200.00, $45 == 45,
and 25% == 25.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# A number: optional sign, digits with thousands separators or plain, optional decimals; or a leading
# decimal point (.5). "24/3" yields 24 and 3 (a fraction is compared by its parts, like a tutor reads it).
_NUM = r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\w)|(?<![\w.])\.\d+(?!\w)"
NUMBER_RE = re.compile(_NUM)
_GT_FINAL = re.compile(r"(?:####|answer is|=)?\s*(-?[\d,]*\.?\d+)\s*$")


@dataclass(frozen=True)
class Num:
    """A number found in text: its value, the literal token and where it starts."""

    value: float
    token: str
    start: int


def parse_number(token: str) -> float | None:
    """'1,200.50' -> 1200.5; None if it is not a plain number."""
    try:
        return float(token.replace(",", "").replace(" ", ""))
    except ValueError:
        return None


def numbers(text: str) -> list[Num]:
    """All plain numbers (not including fraction values) in order of appearance."""
    out = []
    for m in NUMBER_RE.finditer(text):
        v = parse_number(m.group(0))
        if v is not None:
            out.append(Num(v, m.group(0), m.start()))
    return out


def same(a: float, b: float) -> bool:
    """Equal up to rounding a tutor would do (2 decimals), and exact for integers."""
    if a == b:
        return True
    scale = max(abs(a), abs(b), 1.0)
    return abs(a - b) <= max(0.005, 1e-6 * scale)


def contains(values: Iterable[float], x: float) -> bool:
    """Is `x` among `values` up to `same`?"""
    return any(same(v, x) for v in values)


def final_answer(solution: str | None) -> float | None:
    """The final numeric answer of a reference solution (GSM8K style ends with a line holding it).

    Falls back to the last number in the text; None if there is no number at all.
    """
    if not solution:
        return None
    lines = [ln.strip() for ln in solution.strip().splitlines() if ln.strip()]
    if lines:
        m = _GT_FINAL.search(lines[-1].replace("$", ""))
        if m:
            v = parse_number(m.group(1))
            if v is not None:
                return v
    found = numbers(solution)
    return found[-1].value if found else None
