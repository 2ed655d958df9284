"""Text plumbing shared by the tagger and the checks: split prose from code, sentences, questions.

Questions and word counts are about what the learner reads as prose; a question mark inside a code
block (`x if ok else y?`, a regex) is not a question to the learner, and a 30-line code listing is not
an essay. So everything downstream works on the prose part of a turn.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import NamedTuple

_INLINE_CODE = re.compile(r"`[^`\n]*`")
# Candidate sentence breaks start with one of four characters, which lets the engine skip ahead fast;
# a '.', '!' or '?' only ends a sentence when whitespace (or the end) follows ('3.5' and 'e.g.x' don't).
_WHITESPACE = frozenset(" \t\r\n\f\v")
_BREAK = re.compile(r"[.!?\n][\"')\]]*\s*")
_COMPOUND_Q = re.compile(
    r",?\s+and\s+(?:then\s+)?(?:why|how|what|which|where|when|who|can you|could you|do you|does|is|are)\b",
    re.I,
)
_OPTION_ONLY = re.compile(r"^\s*(?:\(?[a-d]\)|[a-d][.)])\s", re.I)


def _closing_paren(text: str) -> int:
    """Index of the parenthesis closing the group that opens at text[0]."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return i
    raise ValueError(f"unbalanced group in cue pattern: {text!r}")


def expand_alternative(alt: str) -> list[str]:
    """Distribute a leading group over the rest: '(?:have|did) you' -> ['have you', 'did you']."""
    if not alt.startswith("(?:"):
        return [alt]
    i = _closing_paren(alt)
    body, rest = alt[3:i], alt[i + 1 :]
    optional = rest.startswith("?") and not rest.startswith("?:")
    if optional:
        rest = rest[1:]
    elif rest[:1] in ("*", "+", "{"):
        return [alt]
    branches = _split_group(body)
    out = [piece for b in branches for piece in expand_alternative(b + rest)]
    return [*out, *expand_alternative(rest)] if optional else out


def _split_group(body: str) -> list[str]:
    """Top-level branches of a group body (nested groups kept whole)."""
    depth, start, out = 0, 0, []
    for i, ch in enumerate(body):
        if ch == "(" and (i == 0 or body[i - 1] != "\\"):
            depth += 1
        elif ch == ")" and (i == 0 or body[i - 1] != "\\"):
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(body[start:i])
            start = i + 1
    out.append(body[start:])
    return out


_TRIE_CHAR = re.compile(r"[a-z0-9' ]")
_TRIE_DEPTH = 5


def _head(alt: str) -> int:
    """How many leading characters of an alternative are plain literals usable as trie keys."""
    k = 0
    while (
        k < _TRIE_DEPTH and k < len(alt) and _TRIE_CHAR.match(alt[k]) and alt[k + 1 : k + 2] not in ("?", "*", "+", "{")
    ):
        k += 1
    return k


def _trie(entries: list[tuple[str, str | None, str]]) -> str:
    """An alternation arranged as a trie on the first few literal characters.

    CPython's engine tries the branches of an alternation one after another at every word start; with
    ~300 phrases that was most of the tagging time. Sharing the first characters ("what do", "what
    would") lets one failed comparison discard a whole subtree. Entries are (literal head, group name
    or None, regex rest); a named entry's rest is followed by an empty group, `rest(?P<name>)`.

    The group comes after the rest rather than around it: a group around it makes the engine save and
    restore the group's bounds at every step it tries or backtracks through the rest (a `.{0,60}`
    backtracks up to 60 times), while an empty group after it is only reached once the rest has
    matched. Where the group stands changes no match (no phrase has a group of its own); the scans ran
    faster (same process, interleaved): tagger cues ~1.4x, the dimensions' cues ~1.1x, sensitive
    requests over learner turns ~2x.
    """
    names: dict[str, int] = {}

    def node(items: list[tuple[str, str | None, str]], depth: int) -> str:
        children: dict[str, list[tuple[str, str | None, str]]] = {}
        leaves: dict[str | None, list[str]] = {}
        for head, group, rest in items:
            if len(head) == depth:
                leaves.setdefault(group, []).append(rest)
            else:
                children.setdefault(head[depth], []).append((head, group, rest))
        parts = [re.escape(ch) + "(?:" + node(sub, depth + 1) + ")" for ch, sub in children.items()]
        for group, rests in leaves.items():
            body = "|".join(rests)
            if group is None:
                parts.append(f"(?:{body})")
            else:
                names[group] = names.get(group, 0) + 1
                parts.append(f"(?:{body})(?P<{group}__{names[group]}>)")
        return "|".join(parts)

    return node(entries, 0)


def _entries(alternatives: tuple[str, ...], group: str | None) -> list[tuple[str, str | None, str]]:
    out: list[tuple[str, str | None, str]] = []
    for alt in alternatives:
        for a in expand_alternative(alt.removeprefix("\\b")):
            k = _head(a)
            out.append((a[:k], group, a[k:]))
    return out


class Cue:
    """A case-insensitive alternation of phrases, matched against lowercased text.

    Texts are lowercased once and matched without re.IGNORECASE (about 2.5x faster in CPython's
    engine); `find` does the lowercasing for one-off searches. Patterns use ASCII word boundaries:
    every cue phrase is ASCII, and Unicode `\b` costs a character-database lookup per position.
    """

    __slots__ = ("alternatives", "regex")

    def __init__(self, *alternatives: str) -> None:
        self.alternatives = alternatives
        self.regex = re.compile(_pattern(alternatives), re.ASCII)

    def search(self, lowered_text: str, pos: int = 0) -> re.Match[str] | None:
        return self.regex.search(lowered_text, pos)

    def find(self, text: str) -> re.Match[str] | None:
        """Search any text (lowercased here); offsets of the match are valid in `text`."""
        return self.regex.search(lowered(text))


def _pattern(alternatives: tuple[str, ...]) -> str:
    if all(a.startswith("\\b") for a in alternatives):
        # Factor the word boundary out so the engine only tries the alternatives at word starts.
        return r"\b(?:" + _trie(_entries(alternatives, None)) + r")"
    return r"(?:" + "|".join(alternatives) + r")"


def any_of(*alternatives: str) -> Cue:
    """A Cue matching any of the (lowercase) alternatives."""
    return Cue(*alternatives)


def combine(cues: dict[str, Cue]) -> re.Pattern[str]:
    """One regex for several cues, so a single pass over a turn finds every cue.

    All cues' alternatives share one trie (see `_trie`); each leaf ends in an empty named group
    `<cue>__<n>`, the last group a match closes, so the part before `__` of `match.lastgroup` is the cue's
    name. Every alternative must start at a word boundary and must not capture (that would take
    `lastgroup`).
    """
    entries: list[tuple[str, str | None, str]] = []
    for name, cue in cues.items():
        if "__" in name or not all(a.startswith("\\b") for a in cue.alternatives):
            raise ValueError(f"cue {name!r}: names must not contain '__' and phrases must start with \\b")
        entries += _entries(cue.alternatives, name)
    pattern = re.compile(r"\b(?:" + _trie(entries) + ")", re.ASCII)
    if pattern.groups != len(pattern.groupindex) or not all("__" in g for g in pattern.groupindex):
        raise ValueError("cue phrases must not have capturing groups of their own")
    return pattern


class Sentence(NamedTuple):
    text: str
    start: int  # offset of text[0] in the prose, so prose.lower[start : start + len(text)] is its lowercase


_new_tuple = tuple.__new__


@dataclass(slots=True)
class Prose:
    """The learner-facing prose of a turn with code removed, and facts about the removed code."""

    text: str
    lower: str  # `text` lowercased, same length, for Cue searches
    sentences: tuple[Sentence, ...]
    starts: tuple[int, ...]
    words: int
    code_blocks: tuple[str, ...]
    code_at: tuple[int, ...] = ()  # prose offsets where each code block stood

    def lower_of(self, s: Sentence) -> str:
        """The lowercased text of one of this prose's sentences (no re-lowercasing)."""
        return self.lower[s.start : s.start + len(s.text)]

    def sentence_at(self, offset: int) -> int:
        """Index of the sentence containing a character offset of the prose."""
        return max(bisect_right(self.starts, offset) - 1, 0)

    @property
    def code_lines(self) -> int:
        return sum(sum(1 for ln in b.splitlines()[1:] if ln.strip() and ln.strip() != "```") for b in self.code_blocks)


def split_prose(content: str) -> Prose:
    """The prose of a turn: fenced code removed (remembered in `code_blocks`), inline code kept for display
    but masked for matching, so a '?' or a cue word inside `code` never counts."""
    if "```" in content:
        fences = _fences(content)
        blocks = tuple(content[a:b] for a, b in fences)
        parts: list[str] = []
        code_at: list[int] = []
        size, last = 0, 0
        for a, b in fences:
            seg = content[last:a] + "\n"
            parts.append(seg)
            size += len(seg)
            code_at.append(size)
            last = b
        parts.append(content[last:])
        text = "".join(parts)
    else:
        blocks, code_at, text = (), [], content
    masked = _INLINE_CODE.sub(_mask, text) if "`" in text else text
    sentences: list[Sentence] = []
    add = sentences.append
    pos, n = 0, len(masked)
    ends = [m.end() for m in _BREAK.finditer(masked)]
    ends.append(n)
    for end in ends:
        if end < n and masked[end - 1] not in _WHITESPACE:
            # '3.5' or 'e.g.x': a '.', '!' or '?' not followed by whitespace ends no sentence
            continue
        raw = masked[pos:end]
        chunk = raw.strip()
        if chunk:
            start = pos + len(raw) - len(raw.lstrip())
            # tuple.__new__ directly: the NamedTuple's generated __new__ is a Python call per sentence
            add(_new_tuple(Sentence, (text[start : start + len(chunk)], start)))
        pos = end
    return Prose(
        text,
        lowered(masked),
        tuple(sentences),
        tuple([s.start for s in sentences]),
        len(masked.split()),
        blocks,
        tuple(code_at),
    )


def _mask(m: re.Match[str]) -> str:
    """Inline code of the same length with its content blanked: offsets stay valid in both texts."""
    return "`" + "_" * (len(m.group()) - 2) + "`"


def _fences(content: str) -> list[tuple[int, int]]:
    """Spans of fenced code blocks (an unclosed fence runs to the end, as chat UIs render it)."""
    spans: list[tuple[int, int]] = []
    i = content.find("```")
    while i != -1:
        j = content.find("```", i + 3)
        end = len(content) if j == -1 else j + 3
        spans.append((i, end))
        i = content.find("```", end)
    return spans


def lowered(text: str) -> str:
    """Lowercase without changing the length (offsets must stay valid); rare length-changing chars stay."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def questions(prose: Prose) -> list[tuple[int, Sentence]]:
    """(sentence index, question) for every question, splitting sentences that hold several '?'.

    Question marks are looked for in the masked text, so one inside inline code is not a question.
    """
    out: list[tuple[int, Sentence]] = []
    for i, s in enumerate(prose.sentences):
        if "?" not in s.text:
            continue
        low = prose.lower_of(s)
        offset = 0
        for part in low.split("?")[:-1]:
            piece = part.strip()
            if piece and not _OPTION_ONLY.match(piece):
                lead = offset + len(part) - len(part.lstrip())
                out.append((i, _new_tuple(Sentence, (s.text[lead : lead + len(piece)] + "?", s.start + lead))))
            offset += len(part) + 1
    return out


def question_weight(q: Sentence) -> int:
    """How many answers a question asks for: 'what does it print, and why?' asks for two."""
    return 2 if _COMPOUND_Q.search(q.text) else 1
