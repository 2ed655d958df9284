"""Text plumbing shared by the tagger and the checks: split prose from code, sentences, questions.

Questions and word counts are about what the learner reads as prose; a question mark inside a code
block (`x if ok else y?`, a regex) is not a question to the learner, and a 30-line code listing is not
an essay. So everything downstream works on the prose part of a turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")
_WORD = re.compile(r"[A-Za-z0-9']+")
_COMPOUND_Q = re.compile(
    r",?\s+and\s+(?:then\s+)?(?:why|how|what|which|where|when|who|can you|could you|do you|does|is|are)\b",
    re.I,
)
_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")
_OPTION_ONLY = re.compile(r"^\s*(?:\(?[a-d]\)|[a-d][.)])\s", re.I)


def any_of(*alternatives: str) -> re.Pattern[str]:
    """One case-insensitive pattern matching any of the alternatives."""
    return re.compile(r"(?:" + "|".join(alternatives) + r")", re.I)


@dataclass(slots=True, frozen=True)
class Sentence:
    text: str
    start: int  # character offset in the prose


@dataclass(slots=True, frozen=True)
class Prose:
    """The learner-facing prose of a turn with code removed, and facts about the removed code."""

    text: str
    sentences: tuple[Sentence, ...]
    words: int
    code_blocks: tuple[str, ...]

    @property
    def code_lines(self) -> int:
        return sum(sum(1 for ln in b.splitlines()[1:] if ln.strip() and ln.strip() != "```") for b in self.code_blocks)


def split_prose(content: str) -> Prose:
    blocks = tuple(m.group(0) for m in _FENCE.finditer(content))
    prose = _FENCE.sub(" ", content) if blocks else content
    flat = _INLINE_CODE.sub("CODE", prose)
    sentences: list[Sentence] = []
    pos = 0
    for m in _SENTENCE_END.finditer(flat):
        chunk = flat[pos : m.start()].strip()
        if chunk:
            sentences.append(Sentence(chunk, pos))
        pos = m.end()
    tail = flat[pos:].strip()
    if tail:
        sentences.append(Sentence(tail, pos))
    return Prose(flat, tuple(sentences), len(_WORD.findall(flat)), blocks)


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def questions(prose: Prose) -> list[tuple[int, Sentence]]:
    """(sentence index, question) for every question, splitting sentences that hold several '?'."""
    out: list[tuple[int, Sentence]] = []
    for i, s in enumerate(prose.sentences):
        if "?" not in s.text:
            continue
        parts = s.text.split("?")
        offset = s.start
        for part in parts[:-1]:
            piece = part.strip()
            if piece and not _OPTION_ONLY.match(piece):
                out.append((i, Sentence(piece + "?", offset)))
            offset += len(part) + 1
    return out


def question_weight(q: Sentence) -> int:
    """How many answers a question asks for: 'what does it print, and why?' asks for two."""
    return 2 if _COMPOUND_Q.search(q.text) else 1


def is_list_item(line: str) -> bool:
    return bool(_LIST_ITEM.match(line))
