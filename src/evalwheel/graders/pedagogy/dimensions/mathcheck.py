"""Arithmetic and algebra claims in prose ("7 * 8 = 54", "(x + 1)^2 = x^2 + 1"), checked exactly.

Numbers-only equalities are evaluated with exact fractions on Python's own parser (fast, no sympy);
identities with variables go to sympy, imported lazily and only for the few sentences that need it.
An equality whose sides cannot be parsed is *unparsed*, never a contradiction: the checker only
accuses a claim it could read.
"""

from __future__ import annotations

import ast
import itertools
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Literal

Verdict = Literal["correct", "wrong", "unparsed"]

_NORMALISE = str.maketrans({"×": "*", "÷": "/", "−": "-", "·": "*", "⋅": "*", "–": "-"})
_SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_SUPERSCRIPT = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+")


def normalise(text: str) -> str:
    """Typeset maths as the parsers read it: × · ÷ − as operators, a run of superscripts as one power (x¹⁰ is
    x^10, not x^1^0)."""
    text = text.translate(_NORMALISE)
    if _SUPERSCRIPT.search(text) is not None:
        text = _SUPERSCRIPT.sub(lambda m: "^" + m.group(0).translate(_SUPERSCRIPT_DIGITS), text)
    return text


# A side of an equality: numbers, single-letter variables, operators, brackets, spaces.
_SIDE = r"(?:\d+(?:\.\d+)?|(?<![A-Za-z])[a-z](?![A-Za-z])|[-+*/^() ]|\*\*)+"
_EQUALITY = re.compile(rf"({_SIDE})(?<![<>!=])=(?!=)({_SIDE}(?:(?<![<>!=])=(?!=){_SIDE})*)")
_TIMES = re.compile(r"(?<=\d)\s*x\s*(?=\d)")
_OPERATOR = re.compile(r"[-+*/^]")
_HAS_DIGIT = re.compile(r"\d")
_SOLVING = re.compile(r"\b(?:solve|find|equation|unknown|what is [a-z]\b|let [a-z]\b|if [a-z]\b|where [a-z]\b)", re.I)
_MAX_POWER = 64


@dataclass(frozen=True, slots=True)
class MathClaim:
    text: str  # the equality as written
    verdict: Verdict
    computation: str  # what the checker computed, e.g. "7*8 = 56, not 54"
    start: int  # offset in the text it was found in


def _clean(side: str) -> str:
    return " ".join(side.split()).strip()


def _exact(node: ast.AST) -> Fraction:
    """Exact value of a numbers-only expression; ValueError for anything else."""
    if isinstance(node, ast.Expression):
        return _exact(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        v = _exact(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        a, b = _exact(node.left), _exact(node.right)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        if isinstance(node.op, ast.Div):
            if b == 0:
                raise ValueError("division by zero")
            return a / b
        if isinstance(node.op, ast.Pow) and b.denominator == 1 and abs(b) <= _MAX_POWER:
            return a ** int(b)
    raise ValueError("not a plain arithmetic expression")


def _numeric(side: str) -> Fraction:
    return _exact(ast.parse(side.replace("^", "**"), mode="eval"))


def _decimals(side: str) -> int | None:
    """Decimal places written on a numbers-only side ('3.33' -> 2): a rounded value is allowed that much slack."""
    found = re.findall(r"\d+\.(\d+)", side)
    return max(len(d) for d in found) if found else None


def _fmt(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{float(v):.6g}"


@lru_cache(maxsize=8192)
def _symbolic(lhs: str, rhs: str) -> bool | None:
    """Whether lhs == rhs as an identity in its variables (None: sympy could not parse it)."""
    try:
        from sympy import expand, simplify
        from sympy.parsing.sympy_parser import (
            convert_xor,
            implicit_multiplication_application,
            parse_expr,
            standard_transformations,
        )

        tf = (*standard_transformations, implicit_multiplication_application, convert_xor)
        diff = parse_expr(lhs, transformations=tf, evaluate=True) - parse_expr(rhs, transformations=tf, evaluate=True)
        return bool(expand(diff) == 0 or simplify(diff) == 0)
    except Exception:  # sympy raises many types on malformed input; all mean "could not read it"
        return None


def _check_pair(lhs: str, rhs: str) -> tuple[Verdict, str] | None:
    """Verdict on one equality, or None when it is not a claim the checker should judge."""
    lhs_vars = set(re.findall(r"[a-z]", lhs))
    rhs_vars = set(re.findall(r"[a-z]", rhs))
    if not _OPERATOR.search(lhs) and not _OPERATOR.search(rhs):
        return None  # "x = 5", "3 = 3": an assignment or a restatement, not a computation
    if not lhs_vars and not rhs_vars:
        if not _HAS_DIGIT.search(lhs) or not _HAS_DIGIT.search(rhs):
            return None
        try:
            a, b = _numeric(lhs), _numeric(rhs)
        except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
            same = _symbolic(lhs, rhs)  # implicit products like 2(3 + 4)
            if same is None:
                return ("unparsed", f"could not evaluate {lhs} = {rhs}")
            return ("correct", f"{lhs} equals {rhs}") if same else ("wrong", f"{lhs} does not equal {rhs}")
        places = _decimals(rhs)
        tolerance = Fraction(1, 2 * 10**places) if places is not None else Fraction(0)
        if abs(a - b) <= tolerance:
            return ("correct", f"{lhs} = {_fmt(a)}")
        return ("wrong", f"{lhs} = {_fmt(a)}, not {rhs}")
    if lhs_vars != rhs_vars or not ((_OPERATOR.search(lhs) and _OPERATOR.search(rhs)) or "(" in lhs + rhs):
        return None  # an equation to solve ("2x + 3 = 7"), not an identity
    same = _symbolic(lhs, rhs)
    if same is None:
        return ("unparsed", f"could not parse {lhs} = {rhs}")
    return ("correct", f"{lhs} - ({rhs}) simplifies to 0") if same else ("wrong", f"{lhs} - ({rhs}) is not 0")


def math_claims(text: str) -> list[MathClaim]:
    """Every checkable equality in a prose text (code removed by the caller), with its verdict."""
    if "=" not in text:
        return []
    out: list[MathClaim] = []
    offset = 0
    for line in text.split("\n"):
        # Only lines with an '=' next to a digit or an operator can hold a claim; the regex skips the rest.
        if "=" in line and _CANDIDATE.search(line):
            out += [MathClaim(c.text, c.verdict, c.computation, c.start + offset) for c in _line_claims(line)]
        offset += len(line) + 1
    return out


_CANDIDATE = re.compile(r"[\d)⁰¹²³⁴⁵⁶⁷⁸⁹]\s*(?:[-+*/^×÷−·⋅]|=)|[-+*/^×÷−·⋅]\s*[\d(]")


def _line_claims(text: str) -> list[MathClaim]:
    norm = _TIMES.sub("*", normalise(text).replace("`", " "))
    out: list[MathClaim] = []
    for m in _EQUALITY.finditer(norm):
        k = m.start() + len(m.group(0)) - len(m.group(0).lstrip())
        if norm[k] == "(" and k and (norm[k - 1].isalnum() or norm[k - 1] in "_."):
            continue  # `factorial(1) = ...`: a call's arguments, not an arithmetic side
        sides = [_clean(s) for s in re.split(r"(?<![<>!=])=(?!=)", m.group(0))]
        while sides and not sides[0]:
            sides.pop(0)  # "the price = 3 * 4 = 12": the words before the first '=' are not a side
        if len(sides) < 2 or any(not s for s in sides):
            continue
        # Only identities need the "are we solving an equation?" context; sentences with both are rare.
        sentence_start = max(norm.rfind(".", 0, m.start()), norm.rfind("\n", 0, m.start())) + 1
        solving = _SOLVING.search(norm, sentence_start, m.start()) is not None
        for lhs, rhs in itertools.pairwise(sides):
            if solving and re.search(r"[a-z]", lhs + rhs):
                continue
            verdict = _check_pair(lhs, rhs)
            if verdict is not None:
                out.append(MathClaim(f"{lhs} = {rhs}", verdict[0], verdict[1], m.start()))
    return out


# --- an exercise the tutor sets and the learner's bare answer to it --------------------------------------------

_EXERCISE_CUE = re.compile(
    r"\b(?:try|work out|work it out|have a go|go at|compute|calculate|simplify|evaluate|what is|what's|whats|"
    r"what do you get|what would|your turn|on your own|now)\b",
    re.I,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_BARE_FRACTION = re.compile(r"^-?\d+\s*/\s*\d+$")
# A learner's answer: a number, a fraction or a monomial (6y^6, a^8), the last one in a short message.
_ANSWER_TOKEN = re.compile(r"(?<![\w.^])-?(?:\d+(?:\.\d+)?(?:\s*/\s*\d+)?(?:[a-z](?:\^\d+)?)?|[a-z]\^\d+)(?![\w.^/])")
_MAX_ANSWER_WORDS = 15


def exercise(tutor_prose: str) -> str | None:
    """The expression a tutor turn asks the learner to work out ("Have a go at 1/2 + 1/3", "Try a⁴ · a²."), or
    None. Only the last two sentences are read, and only a run with an operator that is not a lone fraction
    ("which is bigger, 3/4 or 2/3?" sets no computation); an equation ("solve 2x + 3 = 7") is not an exercise
    with one value."""
    if not _CANDIDATE.search(tutor_prose):
        return None
    sentences = [s for s in _SENTENCE_END.split(normalise(tutor_prose).strip()) if s.strip()]
    for sentence in reversed(sentences[-2:]):
        if "=" in sentence:
            return None
        runs = [r for r in re.finditer(_SIDE, sentence) if _OPERATOR.search(r[0]) and _HAS_DIGIT.search(r[0])]
        if not runs:
            continue
        run = runs[-1]
        expr = _clean(run.group(0)).strip("+*/^ ")
        if _BARE_FRACTION.match(expr) or not _OPERATOR.search(expr.lstrip("-")):
            return None
        # "A harder one: 2y³ · 3y²." sets it too: the expression closes its sentence after a colon.
        set_after_colon = sentence[: run.start()].rstrip().endswith(":") and not sentence[run.end() :].strip(" .!")
        if "?" in sentence or _EXERCISE_CUE.search(sentence) or set_after_colon:
            return expr
    return None


def answer_tokens(learner_text: str) -> list[str]:
    """The answer-like tokens (numbers, fractions, monomials) of a short learner message; none when the message is
    long or states an equation itself (read by `math_claims`). Needs no exercise, so a caller can rule out most
    learner messages before looking for the exercise the tutor set."""
    if "=" in learner_text or len(learner_text.split()) > _MAX_ANSWER_WORDS:
        return []
    return [_clean(t) for t in _ANSWER_TOKEN.findall(normalise(learner_text.lower()).replace("**", "^"))]


def answer_claim(exercise_expr: str, learner_text: str) -> MathClaim | None:
    """The learner's bare answer to `exercise_expr` as a claim "exercise = answer", judged like any equality;
    None when the message is long, states an equation itself (read by `math_claims`) or has no answer token."""
    tokens = answer_tokens(learner_text)
    # Learners restate the operands while working ("3 lots of -2 is -6", "start at -4, go right 6... 2"): the
    # answer is the one token that is not an operand; with several candidates the message is not read.
    operands = {n.lstrip("-") for n in re.findall(r"\d+(?:\.\d+)?", exercise_expr)}
    fresh = [t for t in tokens if t.lstrip("-").replace(" ", "") not in operands]
    if len(fresh) == 1:
        answer = fresh[0]
    elif len(tokens) == 1:
        answer = tokens[0]
    else:
        return None
    verdict = _check_pair(exercise_expr, answer)
    if verdict is None or verdict[0] == "unparsed":
        return None
    return MathClaim(f"{exercise_expr} = {answer}", verdict[0], verdict[1], 0)
