"""Would an Aho-Corasick automaton find the tutor-turn cues faster than the shipped trie-shaped regex?

The deterministic tier scans every tutor turn twice with one big alternation each (the tagger's move
cues, `tagger.turn_cues`; the dimensions' cues and term lexicon, `dimensions.scan._pattern`). This
benchmark builds the exact alternative the issue suggested and times both on the same turns:

* every cue alternative (after distributing leading groups, as `text.combine` does) contributes its
  literal prefix, up to the first regex operator, to a pyahocorasick automaton;
* the text is scanned with non-word characters mapped to spaces and a space in front of every key, so
  only word starts are hits (what the regex's leading `\\b` allows);
* at each hit, that prefix's alternatives are tried with their own compiled regex in the combined
  pattern's trie order, and hits inside an earlier match are skipped: exactly `finditer`'s leftmost,
  first-alternative, non-overlapping result (checked turn by turn, `mismatched_turns` must be 0).

Non-ASCII turns are left out of the comparison (the word-start mapping is ASCII). Process CPU time,
one core, best of the repeats. pyahocorasick is not an evalwheel dependency: `pip install pyahocorasick`.

    python benchmarks/bench_checks_ac.py [--sessions 1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import string
import sys
import time
from collections.abc import Callable
from typing import Any

from bench_checks import generate

from evalwheel.graders.pedagogy.text import Cue, _head, _split_group, expand_alternative, split_prose

_WORD = frozenset(string.ascii_letters + string.digits + "_")
_TO_SPACE = {i: " " for i in range(128) if chr(i) not in _WORD}
_OPERATORS = frozenset("()[]{}*+?.|^$\\")


def literal_prefix(alt: str) -> str:
    """The characters every match of `alt` starts with: up to the first operator (or optional char)."""
    out: list[str] = []
    for i, ch in enumerate(alt):
        if ch in _OPERATORS or alt[i + 1 : i + 2] in ("?", "*", "{"):
            break
        out.append(ch)
        if alt[i + 1 : i + 2] == "+":
            break
    return "".join(out)


def trie_order(entries: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Entries in the order `text._trie`'s alternation tries them (children first, then the node's leaves)."""
    order: list[tuple[str, str, str]] = []

    def node(items: list[tuple[str, str, str]], depth: int) -> None:
        children: dict[str, list[tuple[str, str, str]]] = {}
        leaves: dict[str, list[tuple[str, str, str]]] = {}
        for item in items:
            if len(item[0]) == depth:
                leaves.setdefault(item[1], []).append(item)
            else:
                children.setdefault(item[0][depth], []).append(item)
        for sub in children.values():
            node(sub, depth + 1)
        for group in leaves.values():
            order.extend(group)

    node(entries, 0)
    return order


def automaton(cues: dict[str, Cue]) -> Any:
    import ahocorasick  # type: ignore[import-not-found]  # optional: this benchmark only

    entries: list[tuple[str, str, str]] = []
    for name, cue in cues.items():
        for alt in cue.alternatives:
            for a in expand_alternative(alt.removeprefix("\\b")):
                if len(_split_group(a)) > 1:
                    raise ValueError(f"{name}: top-level alternation in {a!r}")
                k = _head(a)
                entries.append((a[:k], name, a[k:]))
    table: dict[str, list[tuple[int, str, re.Pattern[str]]]] = {}
    for rank, (head, name, rest) in enumerate(trie_order(entries)):
        prefix = literal_prefix(head + rest)
        if not prefix or prefix[0] not in _WORD:
            raise ValueError(f"{name}: {head + rest!r} has no word-initial literal prefix")
        key = " " + prefix.translate(_TO_SPACE)
        table.setdefault(key, []).append((rank, name, re.compile(r"\b(?:" + head + rest + ")", re.ASCII)))
    auto = ahocorasick.Automaton()
    for key, alts in table.items():
        auto.add_word(key, (len(key) - 2, tuple(alts)))
    auto.make_automaton()
    return auto


def ac_matches(auto: Any, text: str) -> list[tuple[int, int, str]]:
    """(start, end, cue) of each match, as the combined regex's finditer reports them (ASCII text)."""
    at: dict[int, tuple[tuple[int, str, re.Pattern[str]], ...]] = {}
    for end, (back, alts) in auto.iter(" " + text.translate(_TO_SPACE)):
        start = end - 1 - back
        # Several prefixes can start here ("is", "is a"): their alternatives go in the global trie order.
        at[start] = tuple(sorted(at[start] + alts, key=lambda x: x[0])) if start in at else alts
    out: list[tuple[int, int, str]] = []
    last = 0
    for start in sorted(at):
        if start < last:
            continue
        for _, name, rx in at[start]:
            m = rx.match(text, start)
            if m is not None:
                out.append((start, m.end(), name))
                last = m.end()
                break
    return out


def best_us(turns: list[str], repeats: int, fn: Callable[[str], object]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for t in turns:
            fn(t)
        best = min(best, time.process_time() - start)
    return round(1e6 * best / len(turns), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if importlib.util.find_spec("ahocorasick") is None:
        print("bench_checks_ac: pyahocorasick is not installed (pip install pyahocorasick)", file=sys.stderr)
        raise SystemExit(2)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from evalwheel.graders.pedagogy.dimensions.scan import _pattern, cue_sources
    from evalwheel.graders.pedagogy.tagger import _TURN_CUE_SOURCES, turn_cues

    dimension_sources = cue_sources()
    families = {
        "tagger_cues": (_TURN_CUE_SOURCES, turn_cues()[0]),
        "dimension_cues": (dimension_sources, _pattern()[0]),
    }
    sessions = generate(args.sessions, args.seed)
    lowered = [split_prose(t.content).lower for s in sessions for t in s.trajectory if t.role == "assistant"]
    turns = [x for x in lowered if x.isascii()]
    result: dict[str, object] = {
        "benchmark": "tutor-turn cue scan: trie-shaped regex vs Aho-Corasick candidates + per-alternative regex",
        "tutor_turns": len(turns),
        "non_ascii_turns_left_out": len(lowered) - len(turns),
        "unit": "CPU microseconds per tutor turn (best of the repeats)",
    }
    for family, (sources, regex) in families.items():
        auto = automaton(sources)
        names = {g: g.split("__", 1)[0] for g in regex.groupindex}
        mismatched = sum(
            [(m.start(), m.end(), names[m.lastgroup or ""]) for m in regex.finditer(t)] != ac_matches(auto, t)
            for t in turns
        )
        hits = sum(1 for t in turns for _ in auto.iter(" " + t.translate(_TO_SPACE)))

        def by_regex(t: str, r: re.Pattern[str] = regex) -> object:
            return list(r.finditer(t))

        def by_automaton(t: str, a: Any = auto) -> object:
            return ac_matches(a, t)

        result[family] = {
            "regex_finditer_us": best_us(turns, args.repeats, by_regex),
            "aho_corasick_us": best_us(turns, args.repeats, by_automaton),
            "candidate_hits_per_turn": round(hits / len(turns), 1),
            "mismatched_turns": mismatched,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
