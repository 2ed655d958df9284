"""Accuracy of content: the tutor's claims are right and it judges the learner's answers correctly.

Deterministic evidence only, each finding a claim plus the computation that contradicts it:
- arithmetic and algebra the tutor states (`mathcheck`), exact or with sympy;
- well-known false rules stated as fact (a short misconception list, negation-aware);
- code the tutor shows with an output it says the code gives (`codecheck`, run in the sandbox);
- the tutor's judgement of a learner answer whose truth is computable (a learner equation, or a
  prediction of what shown code prints): the response-level mistake-identification grader reads the
  tutor's reply, and confirming a wrong answer or rejecting a right one is a content error.
Nothing contradicted is not proof of accuracy; that verdict carries low confidence, and the LLM-judge
fallback (`graders.py`) is where the rest of the content gets read.
"""

from __future__ import annotations

import re
from functools import cache

from evalwheel.graders.pedagogy.dimensions.codecheck import CodeReport, check_code
from evalwheel.graders.pedagogy.dimensions.common import DimensionResult, View
from evalwheel.graders.pedagogy.dimensions.config import DimensionsConfig
from evalwheel.graders.pedagogy.dimensions.mathcheck import (
    MathClaim,
    answer_claim,
    answer_tokens,
    exercise,
    math_claims,
)
from evalwheel.graders.pedagogy.scores import quote
from evalwheel.graders.pedagogy.tagger import Action, TurnTags
from evalwheel.graders.pedagogy.text import Cue
from evalwheel.types import DimensionName, Evidence

NAME = DimensionName.ACCURACY

# False statements of a rule, as a tutor would assert them. Sentences that discuss a misconception
# ("a common myth is that ...", "... is not true") are skipped.
MISCONCEPTIONS: tuple[tuple[str, str], ...] = tuple(
    (p, why)
    for p, why in (
        (r"\blists? (?:are|is) immutable\b", "Python lists are mutable"),
        (r"\btuples? (?:are|is) mutable\b", "Python tuples are immutable"),
        (r"\bstrings? (?:are|is) mutable\b", "Python strings are immutable"),
        (
            r"\b(?:python )?(?:lists?|strings?|indexing|indexes|indices) (?:starts?|begins?) "
            r"(?:at|from) (?:index )?1\b",
            "Python indexing starts at 0",
        ),
        (
            r"\brange\(\s*\d+\s*,\s*(?P<rstop>\d+)\s*\)`? (?:includes|will include|also includes) `?(?P=rstop)\b",
            "range(a, b) stops before b",
        ),
        (r"\b(?:the )?stop (?:value|number|argument) (?:is|gets) included\b", "range's stop value is excluded"),
        (r"\bsets? (?:keep|preserve|remember|maintain) (?:the |their )?(?:insertion )?order\b", "sets are unordered"),
        (r"\bdictionar(?:y|ies) (?:can (?:have|hold)|allows?) duplicate keys\b", "dict keys are unique"),
        (
            r"\bdefault (?:arguments?|values?) (?:are|is|get) (?:re-?evaluated|re-?created|created fresh) "
            r"(?:on |at )?(?:each|every) call\b",
            "defaults are evaluated once, when the function is defined",
        ),
        (r"`?\bappend\b(?:\(\))?`? returns the (?:new |updated |whole )?list\b", "list.append returns None"),
        (r"`?\.?sort\(\)`? returns (?:a|the) (?:new |sorted )+list\b", "list.sort sorts in place and returns None"),
        (r"`?\bprint\b(?:\(\))?`? returns (?:the|its|a) (?:value|string|result|text)\b", "print returns None"),
        (
            r"`?\bis\b`? (?:is the same as|works (?:just )?like|is just like|does the same as) `?==",
            "`is` tests identity",
        ),
        (
            r"\b(?:higher|raising the) temperature (?:makes|gives) (?:the )?(?:model|outputs?|answers?|responses?) "
            r"(?:more )?(?:deterministic|consistent|predictable|repeatable)\b",
            "higher temperature adds randomness",
        ),
        (
            r"\btemperature (?:of )?0 (?:makes|gives) (?:the )?(?:model|outputs?|answers?) "
            r"(?:more )?(?:random|creative|varied)\b",
            "temperature 0 is (near) greedy decoding",
        ),
        (
            r"\bzero-shot (?:means|is when) (?:you )?(?:give|giving|include|including|show|showing) "
            r"(?:a few|some|several|multiple) examples\b",
            "zero-shot means no examples",
        ),
        (
            r"\bfew-shot (?:means|is when) (?:you )?(?:give|giving|include|including) no examples\b",
            "few-shot means a few examples",
        ),
        (r"\b(?:a )?recursive function (?:does not|doesn'?t) need a base case\b", "recursion needs a base case"),
        (r"`?//`? (?:rounds to the nearest|gives the rounded)\b", "// floors; it does not round"),
        (
            r"\brange\(\s*(?P<ra>\d+)\s*,\s*(?P<rb>\d+)\s*\)`? (?:gives|prints|produces|goes|counts|returns)"
            r"(?: you)? (?:from )?`?(?P=ra)`? (?:to|through|up to and including) `?(?P=rb)\b",
            "range(a, b) stops before b",
        ),
        (r"\brange\(\s*\d+\s*\)`? (?:starts at|begins at|starts from|begins from) `?1\b", "range(n) starts at 0"),
        (
            r"`?\bsorted\b(?:\(\))?`? (?:sorts|changes|modifies|reorders) (?:the |your )?(?:original )?list in place\b",
            "sorted() returns a new list; list.sort() sorts in place",
        ),
        (r"\btuples? can be (?:changed|modified|updated)\b", "Python tuples are immutable"),
        (r"\bstrings? can be (?:changed|modified) in place\b", "Python strings are immutable"),
        (
            r"\bdictionar(?:y|ies) (?:are|is) (?:automatically )?(?:sorted|ordered) by (?:their )?(?:key|value)s?\b",
            "dicts keep insertion order; they are not sorted",
        ),
        (r"`?\bis\b`? (?:compares|checks) (?:the |their )?values?\b", "`is` tests identity, `==` compares values"),
        (r"\bpython (?:is|'s) (?:a )?statically[- ]typed\b", "Python is dynamically typed"),
        (r"`?%`? (?:gives|returns) (?:you )?the (?:quotient|result of the division)\b", "% gives the remainder"),
        (r"`?\bint\b(?:\(\))?`? rounds (?:to the nearest|up|the number)\b", "int() truncates toward zero"),
        (r"\bindentation (?:doesn'?t|does not) matter in python\b", "indentation is part of Python's syntax"),
        (
            r"\b(?:python )?lists? (?:can only|must) (?:hold|contain|store) (?:one|a single|the same) (?:type|kind)\b",
            "Python lists can mix types",
        ),
        (
            r"`?\breturn\b`? (?:prints|displays|shows) (?:the )?(?:value|result)\b",
            "return hands a value back; it prints nothing",
        ),
    )
)
_DISCUSSES = re.compile(
    r"\b(?:myth|misconception|common (?:mistake|mix-?up|confusion)|people (?:often )?think|you might think|"
    r"not true|isn'?t true|false|wrong|actually|you said|you wrote|you think)\b",
    re.I,
)


# The word each statement cannot do without: a statement's regex only runs on turns containing it.
_KEYWORD = {
    0: "immutable",
    1: "mutable",
    2: "mutable",
    3: " 1",
    4: "include",
    5: "include",
    6: "order",
    7: "duplicate",
    8: "default",
    9: "returns",
    10: "returns",
    11: "returns",
    12: "==",
    13: "temperature",
    14: "temperature",
    15: "zero-shot",
    16: "few-shot",
    17: "base case",
    18: "//",
    19: "range(",
    20: "range(",
    21: "sorted",
    22: "tuple",
    23: "in place",
    24: "by ",
    25: "value",
    26: "statically",
    27: "%",
    28: "round",
    29: "indentation",
    30: "type",
    31: "return",
}
_COMPILED = tuple((_KEYWORD[i], re.compile(p), why) for i, (p, why) in enumerate(MISCONCEPTIONS))
_NEGATION = re.compile(r"\b(?:not|never)\b|n't\b")


@cache
def _any_statement() -> tuple[re.Pattern[str], tuple[tuple[str, re.Pattern[str]], ...]]:
    """An exact prefilter: one trie-shaped search that matches iff some word-initial statement does, plus
    the few statements that start with punctuation (keyword-gated as before).

    A leading optional backtick cannot decide whether a statement occurs anywhere, so it is dropped here;
    the trie is compiled without re.ASCII so word boundaries, spaces and digits mean what the statements mean.
    """
    words: list[str] = []
    others: list[tuple[str, re.Pattern[str]]] = []
    for i, (pattern, _) in enumerate(MISCONCEPTIONS):
        core = pattern.removeprefix("`?")
        if core.startswith("\\b"):
            words.append(core)
        else:
            others.append((_KEYWORD[i], re.compile(pattern)))
    return re.compile(Cue(*words).regex.pattern), tuple(others)


@cache
def _ascii_statements() -> re.Pattern[str]:
    """The prefilter's trie compiled with re.ASCII, for texts where ASCII and Unicode matching agree
    (`_ascii_safe`): faster, since a Unicode word boundary costs a character-database lookup per position."""
    return re.compile(_any_statement()[0].pattern, re.ASCII)


# ASCII characters that Unicode `\s` counts as whitespace and re.ASCII's `\s` does not.
_UNICODE_ONLY_SPACE = re.compile(r"[\x1c-\x1f]")


def _ascii_safe(text: str) -> bool:
    r"""Whether re.ASCII and Unicode matching agree on this text: `\b`, `\w`, `\d` agree on ASCII, and `\s`
    too unless one of the four separator controls occurs."""
    return text.isascii() and _UNICODE_ONLY_SPACE.search(text) is None


def _misconception(tags: TurnTags) -> tuple[str, str] | None:
    prose = tags.prose
    if prose is None:
        return None
    low = prose.text.lower()
    words, others = _any_statement()
    # Most turns state none of the false rules: one pass says so instead of ~30 keyword-gated scans.
    prefilter = _ascii_statements() if _ascii_safe(low) else words
    if prefilter.search(low) is None and not any(k in low and p.search(low) for k, p in others):
        return None
    for keyword, pattern, why in _COMPILED:
        if keyword not in low:
            continue
        for m in pattern.finditer(low):
            sentence = prose.sentences[prose.sentence_at(m.start())]
            if _DISCUSSES.search(sentence.text) or _NEGATION.search(low, sentence.start, m.start()):
                continue
            return sentence.text, why
    return None


def _answer_to_exercise(tutor: TurnTags | None, learner_text: str) -> list[MathClaim]:
    """The learner's bare answer ("2/5", "a^8?") to the exercise the tutor's previous turn set, as a claim."""
    # The learner side first: most messages hold no bare answer, and finding the exercise costs more.
    if tutor is None or tutor.prose is None or not answer_tokens(learner_text):
        return []
    expr = exercise(tutor.prose.text)
    claim = answer_claim(expr, learner_text) if expr is not None else None
    return [claim] if claim is not None else []


def _tutor_verdict(view: View, learner_index: int) -> tuple[str, TurnTags] | None:
    """How the tutor's next reply judges a learner answer: 'confirms', 'rejects' or 'neither'.

    Uses the response-level mistake-identification rule on the reply (MRBench's "Yes" = points at a
    mistake), plus the tagger's opening confirmation ("Exactly!").
    """
    reply = view.next_assistant(learner_index)
    if reply is None or reply.index != learner_index + 1:
        return None
    from evalwheel.graders.pedagogy.response.context import ResponseContext
    from evalwheel.graders.pedagogy.response.context import Turn as RTurn
    from evalwheel.graders.pedagogy.response.rules import mistake_identification

    traj = view.ts.session.trajectory
    ctx = ResponseContext(
        turns=tuple(RTurn("tutor" if t.role == "assistant" else "student", t.content) for t in traj[: reply.index]),
        problem=view.ts.session.prompt,
    )
    label = mistake_identification(ctx, traj[reply.index].content)[0]
    if reply.confirms and label != "Yes":
        return "confirms", reply
    if label == "Yes" and not reply.confirms:
        return "rejects", reply
    if reply.confirms:
        return "confirms", reply
    return "neither", reply


def accuracy(view: View, cfg: DimensionsConfig) -> DimensionResult:
    ts = view.ts
    traj = ts.session.trajectory
    errors: list[Evidence] = []
    reasons: list[str] = []
    minor: list[Evidence] = []
    verified = 0
    unparsed: list[str] = []
    for tags in ts.assistant:
        prose = tags.prose
        if prose is not None and "=" in prose.text:
            for c in math_claims(prose.text):
                if c.verdict == "wrong":
                    errors.append(quote(tags.index, f"claim “{c.text}”; computed {c.computation}"))
                    reasons.append(f"turn {tags.index} states {c.text} ({c.computation})")
                elif c.verdict == "correct":
                    verified += 1
                else:
                    unparsed.append(c.text)
        wrong_rule = _misconception(tags)
        if wrong_rule is not None:
            errors.append(quote(tags.index, f"claim “{wrong_rule[0]}”; but {wrong_rule[1]}"))
            reasons.append(f"turn {tags.index} states a false rule ({wrong_rule[1]})")
    # The learner's own equations, or bare answers to an exercise the tutor set, and whether the tutor judged
    # them right.
    for i in ts.user_indices:
        content = traj[i].content
        if "=" in content:
            claims = [c for c in math_claims(content) if c.verdict != "unparsed"]
        else:
            claims = _answer_to_exercise(view.by_index.get(i - 1), content)
        if not claims:
            continue
        learner_right = all(c.verdict == "correct" for c in claims)
        judged = _tutor_verdict(view, i)
        if judged is None:
            continue
        how, reply = judged
        shown = claims[0] if learner_right else next(c for c in claims if c.verdict == "wrong")
        if how == "confirms" and not learner_right:
            errors.append(quote(reply.index, f"confirms “{shown.text}”; computed {shown.computation}"))
            reasons.append(f"turn {reply.index} confirms a wrong learner answer ({shown.computation})")
        elif how == "rejects" and learner_right:
            errors.append(quote(reply.index, f"rejects “{shown.text}”, which is right ({shown.computation})"))
            reasons.append(f"turn {reply.index} rejects a right learner answer")
        elif how == "neither" and not learner_right:
            minor.append(quote(reply.index, f"leaves “{shown.text}” uncorrected ({shown.computation})"))
        else:
            verified += 1
    code: CodeReport | None = None
    if cfg.execute_code:
        code = check_code(ts.session, cfg.sandbox)
        for f in code.findings:
            cc = f.claim
            if f.verdict == "wrong" and cc.kind != "learner_prediction":
                errors.append(
                    quote(
                        cc.turn_index, f"says `{cc.code[:60]}` gives {cc.stated[:50]!r}; it gives {f.actual[:50]!r}"
                    )
                )
                reasons.append(f"turn {cc.turn_index}: code output stated wrongly ({cc.kind})")
            elif cc.kind == "learner_prediction" and f.verdict in ("correct", "wrong"):
                judged = _tutor_verdict(view, cc.turn_index)
                if judged is None:
                    continue
                how, reply = judged
                if how == "confirms" and f.verdict == "wrong":
                    errors.append(
                        quote(
                            reply.index, f"confirms the prediction {cc.stated[:60]!r}; the code gives {f.actual[:60]!r}"
                        )
                    )
                    reasons.append(f"turn {reply.index} confirms a wrong prediction")
                elif how == "rejects" and f.verdict == "correct":
                    errors.append(
                        quote(
                            reply.index,
                            f"rejects the prediction {cc.stated[:60]!r}; the code does give {f.actual[:60]!r}",
                        )
                    )
                    reasons.append(f"turn {reply.index} rejects a right prediction")
                else:
                    verified += 1
            elif f.verdict == "correct":
                verified += 1
    meta: dict[str, object] = {"verified_claims": verified, "unparsed_math": unparsed}
    if code is not None:
        meta["code_claims"] = len(code.findings)
        meta["code_seconds"] = code.seconds
        if code.stopped:
            meta["code_unscored"] = code.stopped
    if errors:
        conf = 0.85 if any("computed" in e.snippet or "gives" in e.snippet for e in errors) else 0.65
        return DimensionResult(NAME, 0, "; ".join(reasons[:3]), conf, errors[:4], meta)
    if minor:
        return DimensionResult(NAME, 1, "a wrong learner answer is left uncorrected", 0.6, minor[:3], meta)
    teaches = any(
        t.actions & {Action.MICRO_EXPLAIN, Action.LECTURE, Action.ANSWER_REVEAL, Action.HINT, Action.ENCOURAGEMENT}
        for t in ts.assistant
    )
    stopped = f"; {code.stopped}" if code is not None and code.stopped else ""
    if code is not None and code.stopped and not verified:
        # The claims that could be checked were code, and the code had to be stopped: say so, don't guess.
        return DimensionResult(NAME, None, code.stopped, 0.5, [], meta)
    if verified:
        return DimensionResult(NAME, 2, f"{verified} checked claim(s) hold, none contradicted{stopped}", 0.75, [], meta)
    if not teaches:
        return DimensionResult(NAME, None, "no content claim and no judged learner answer" + stopped, 0.5, [], meta)
    return DimensionResult(
        NAME, 2, "no checkable claim is contradicted (content not verified)" + stopped, 0.45, [], meta
    )
