"""Untrusted text (ids, grader reasons) made safe for the markdown the PR summary and `compare --markdown` write.

Why one place: a sample or run id is data, and it can hold anything. `` `{id}` `` ended the code span at the
id's first backtick and printed the rest as markdown; a `|` ended the table cell. Every markdown writer renders
such text through `cell` (table text) or `code_span` (an id).
"""

from __future__ import annotations

import re

CELL_MAX = 160
_BACKTICKS = re.compile(r"`+")


def _clip(value: object, limit: int) -> str:
    text = " ".join(str(value).split())  # one line: a newline would end the table row
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cell(value: object, limit: int = CELL_MAX) -> str:
    """Table-safe text: one line, pipes escaped, clipped."""
    return _clip(value, limit).replace("|", "\\|")


def code_span(value: object, limit: int = CELL_MAX, *, table: bool = True) -> str:
    """`value` as one inline code span whatever it holds (one line, clipped).

    CommonMark: the fence is a run of backticks longer than the longest run inside, and the content is padded
    with a space on each side (stripped again when rendered) so a backtick at either end does not join the
    fence. In a table cell (`table=True`) a `|` is escaped, which GFM undoes inside code spans too; outside a
    table a backslash would show, so it is left alone.
    """
    text = _clip(value, limit)
    if table:
        text = text.replace("|", "\\|")
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if longest or not text else f"{fence}{text}{fence}"
