"""Hand-made features of (context, reply): the inputs of the rules tier and part of the trained tier.

One function, `rule_features`, computes a fixed, named vector so that the trained classifiers see the
same numbers the rules reason with; `FEATURE_NAMES` is the column order saved with the weights, and
the trainer refuses weights whose names differ. Values are small counts, 0/1 flags or log-lengths.
"""

from __future__ import annotations

import math
import re

import numpy as np

from evalwheel.graders.pedagogy.response import cues, reveal
from evalwheel.graders.pedagogy.response import numbers as num
from evalwheel.graders.pedagogy.response.context import ResponseContext, clean

_WORD = re.compile(r"[a-z][a-z']+")
_STOP_WORDS = (
    "the a an and or but so to of in on at for with is are was were be been it its this that these those "
    "you your i we us our they them he she his her their my me do does did can could would should will "
    "just not no yes what how why which when if then than there here let's lets have has had get got"
)
_STOP = frozenset(_STOP_WORDS.split())
# Cue families counted as features (capped at 4), in column order.
COUNTED_CUES: tuple[str, ...] = (
    "praise",
    "attempt_praise",
    "encourage_close",
    "harsh",
    "mistake",
    "recheck",
    "correct_claim",
    "hint",
    "probe",
    "directive",
    "invite",
    "move_on",
    "meta",
    "apology",
    "hedge",
    "explain",
)

FEATURE_NAMES: tuple[str, ...] = (
    "log_words",
    "n_sentences",
    "n_questions",
    "ends_question",
    "has_question",
    "n_exclaim",
    "log_numbers",
    "n_new_numbers",
    "n_student_numbers",
    "n_problem_numbers",
    "has_reference",
    "reveal_rule",
    "gt_stated",
    "new_conclusion",
    "computed",
    "answer_phrase",
    "called",
    "praise",
    "attempt_praise",
    "encourage_close",
    "harsh",
    "mistake",
    "recheck",
    "correct_claim",
    "hint",
    "probe",
    "directive",
    "invite",
    "move_on",
    "meta",
    "apology",
    "starts_praise",
    "praise_only",
    "overlap_student",
    "overlap_problem",
    "n_you",
    "n_lets",
    "empty",
    "hedge",
    "explain",
    "specific_question",
    "last_question",
    "last_action",
)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a) if a else 0.0


def rule_features(ctx: ResponseContext, reply: str) -> dict[str, float]:
    """The named feature values for one reply in its context."""
    text = clean(reply)
    words = text.split()
    sents = reveal.sentences(text)
    nums = num.numbers(text)
    low = text.lower()
    gt = reveal.ground_truth_stated(ctx, text)
    new_c = reveal.new_conclusions(ctx, text)
    comp = reveal.computed_results(ctx, text)
    c = {name: cues.count(name, text) for name in cues.CUES}
    first = sents[0][1] if sents else ""
    last = sents[-1][1] if sents else ""
    anchors = content_words(ctx.problem) | content_words(ctx.last_student)
    questions = [s for _, s in sents if s.endswith("?")]
    f: dict[str, float] = {
        "log_words": math.log1p(len(words)),
        "n_sentences": float(len(sents)),
        "n_questions": float(text.count("?")),
        "ends_question": float(text.rstrip(" \"'").endswith("?")),
        "has_question": float("?" in text),
        "n_exclaim": float(min(text.count("!"), 3)),
        "log_numbers": math.log1p(len(nums)),
        "n_new_numbers": float(sum(not num.contains(ctx.context_numbers, n.value) for n in nums)),
        "n_student_numbers": float(sum(num.contains(ctx.last_student_numbers, n.value) for n in nums)),
        "n_problem_numbers": float(sum(num.contains(ctx.problem_numbers, n.value) for n in nums)),
        "has_reference": float(ctx.final_answer is not None),
        "reveal_rule": float(reveal.reveals(ctx, text) is not None),
        "gt_stated": float(gt is not None),
        "new_conclusion": float(len(new_c) > 0),
        "computed": float(len(comp) > 0),
        "answer_phrase": float(c["answer_phrase"] > 0),
        "called": float(c["called"] > 0),
        "starts_praise": float(
            cues.find("praise", first) is not None or cues.find("correct_claim", first) is not None
        ),
        "praise_only": float((c["praise"] + c["correct_claim"]) > 0 and c["mistake"] + c["recheck"] == 0),
        "overlap_student": _overlap(content_words(text), content_words(ctx.last_student)),
        "overlap_problem": _overlap(content_words(text), content_words(ctx.problem)),
        "n_you": float(min(len(re.findall(r"\byou(?:r|'re|'ve)?\b", low)), 6)),
        "n_lets": float(len(re.findall(r"\blet'?s\b", low))),
        "empty": float(not words),
        "specific_question": float(any(num.numbers(q) or content_words(q) & anchors for q in questions)),
        "last_question": float(last.endswith("?")),
        "last_action": float(
            last.endswith("?")
            or any(cues.find(k, last) is not None for k in ("directive", "invite", "probe"))
        ),
    }
    for name in COUNTED_CUES:
        f[name] = float(min(c[name], 4))
    return f


def feature_vector(ctx: ResponseContext, reply: str) -> np.ndarray:
    """`rule_features` as a float32 array in `FEATURE_NAMES` order."""
    f = rule_features(ctx, reply)
    return np.asarray([f[name] for name in FEATURE_NAMES], dtype=np.float32)
