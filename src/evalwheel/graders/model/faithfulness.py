"""Faithfulness / hallucination grader (`faithfulness`): claims of an answer judged against the sample's context.

Steps:

1. **Claim split.** The judge model splits the answer into short, self-contained factual claims (structured
   output `{"claims": [str, ...]}`, same bounded repair as every judge call). When it cannot produce a valid
   list (invalid output after repair, or a failed call) the answer is split deterministically into sentences
   instead; `metadata["claim_source"]` says which (`"llm"` or `"sentence_split"`). At most `max_claims`
   (default 20) claims are judged; `metadata["truncated"]` says when more were found.
2. **Claim verdicts.** Each claim is judged on its own against the context (`sample.context`, a string or a
   list of passages) with the schema `{"reason", "evidence", "verdict"}` (reason and quote before the verdict):
   - SUPPORTED: the context states it;
   - REASONABLE_INFERENCE: not stated, but follows directly from the context;
   - UNSUPPORTED: checkable against the context but contradicted by it or absent from it (a hallucination);
   - NOT_CHECKABLE: not a factual assertion about the context's subject (a greeting, an opinion, advice).
   `evidence` is a quote from the context; `quote_in_context` records whether it really occurs there
   (whitespace- and case-insensitive). A claim whose judge call fails after repair is *unjudged*.
3. **Aggregate.** With S, R, U the numbers of judged SUPPORTED, REASONABLE_INFERENCE and UNSUPPORTED claims:

       faithfulness = (S + R) / (S + R + U)

   NOT_CHECKABLE and unjudged claims are left out of both numerator and denominator.
   `has_hallucinations` is True when any claim is UNSUPPORTED, False when every claim was judged and none is,
   and None (undetermined) when none is UNSUPPORTED but some claims could not be judged.
   `passed` is `faithfulness >= pass_threshold` (default 1.0: no unsupported claim). `confidence` is the share
   of claims that were judged.

**Optional deterministic pre-check** (`precheck: true`, off by default). Before any model call, every sentence of
the answer is checked for *specifics* that a context must contain for the sentence to be backed by it:

- numbers: a money amount (`$16`, `16 USD`) needs the same amount as money in the context, a percentage (`20%`,
  `20 percent`) the same percentage, a plain number (`100`, `5,000`, `4.2`) the same value in any form (number
  words up to a hundred in the context count too). Digits glued to letters (`2FA`, `MP3`) are identifiers, not
  quantities, and are ignored;
- capitalised terms: a word with a capital letter (`Salesforce`, `SAML`, `GitHub`) that does not start a sentence
  must occur in the context (case-insensitively, singular or plural). `I` and its contractions are ignored.

A sentence with a missing specific becomes an UNSUPPORTED claim of `tier` "precheck" (the reason names what is
missing) without a model call; only the remaining sentences go to the claim split and the model (`tier` "judge").
This catches wrong prices and invented named features even with a weak judge, and never lets a judge talk a
missing number into SUPPORTED. It is opt-in because it also flags legitimate specifics absent from the context:
a person's name in a greeting, arithmetic the context implies (12 x $10 = $120), a title-cased heading.
`precheck_allow` (a list of phrases, removed case-insensitively before checking, e.g. a sign-off such as
"Acme Support") exempts known-good phrases. `metadata["precheck"]` reports the sentences checked and flagged.

Unscored (`passed=None`, `value=None`, never NaN), with the reason: no context, an empty answer, no claims,
or no checkable judged claim (every claim NOT_CHECKABLE or unjudged).

Configuration (GraderContext.config): `judge_model` (a Model or a name for `get_model`; with `judge_models` the
first one is used), `temperature`, `seed`, `max_tokens`, `max_repairs` (as in `judge.py`), `max_claims`,
`pass_threshold`, `name` (default "faithfulness"), `precheck`, `precheck_allow`. Per-claim details are in
`metadata["claims"]`.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from evalwheel.basemodel import EvalwheelModel
from evalwheel.graders.model.judge import (
    DATA_RULES,
    delimit,
    generate_config,
    judge_models,
    render_input,
    render_output,
    structured_call,
)
from evalwheel.graders.registry import GraderContext, grader
from evalwheel.models.base import Message, Model
from evalwheel.types import Evidence, Output, Sample, Score, clip

ClaimLabel = Literal["SUPPORTED", "UNSUPPORTED", "NOT_CHECKABLE", "REASONABLE_INFERENCE"]
LABELS: tuple[ClaimLabel, ...] = ("SUPPORTED", "UNSUPPORTED", "NOT_CHECKABLE", "REASONABLE_INFERENCE")
FAITHFUL: tuple[ClaimLabel, ...] = ("SUPPORTED", "REASONABLE_INFERENCE")
CHECKABLE: tuple[ClaimLabel, ...] = ("SUPPORTED", "REASONABLE_INFERENCE", "UNSUPPORTED")

_TAG_RULES = " The same rules apply to the <context> and <claim> tags used here."


class ClaimList(EvalwheelModel):
    """The claim splitter's structured output."""

    model_config = ConfigDict(extra="forbid")

    claims: list[str] = Field(min_length=1, description="Atomic, self-contained factual claims of the answer.")

    @field_validator("claims")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        cleaned = [c.strip() for c in v]
        if any(not c for c in cleaned):
            raise ValueError("claims must be non-empty strings")
        return cleaned


class ClaimJudgement(EvalwheelModel):
    """The claim judge's structured output: reason and quote before the verdict."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(description="Why the claim is or is not backed by the context, written before the verdict.")
    evidence: str = Field(description="A short verbatim quote from the context (empty if there is none).")
    verdict: ClaimLabel


class ClaimResult(EvalwheelModel):
    """One claim's verdict, as reported in `Score.metadata["claims"]` (verdict None: unjudged)."""

    model_config = ConfigDict(extra="forbid")

    claim: str
    verdict: ClaimLabel | None
    reason: str = ""
    evidence: str = ""
    quote_in_context: bool | None = None
    failure: str | None = None
    tier: Literal["judge", "precheck"] = "judge"


# ------------------------------------------------------------------------------------------- prompts


def render_context(context: str | list[str] | None) -> str:
    """The context as one text; passages of a list are numbered."""
    if context is None:
        return ""
    if isinstance(context, str):
        return context.strip()
    parts = [p.strip() for p in context if p and p.strip()]
    if len(parts) == 1:
        return parts[0]
    return "\n\n".join(f"[{i}] {p}" for i, p in enumerate(parts, 1))


def build_claim_split_messages(question: str, answer: str) -> list[Message]:
    system = (
        "You split an answer into atomic factual claims.\n"
        + DATA_RULES
        + "\nEach claim is one short, self-contained statement (resolve pronouns, keep numbers and names exactly). "
        "Keep every assertion of the answer, add nothing, and do not judge whether the claims are true. "
        'Reply with a JSON object only: {"claims": ["...", ...]}.'
    )
    parts = []
    if question.strip():
        parts.append(delimit("input", question))
    parts.append(delimit("transcript", answer))
    parts.append('List the claims made in the transcript. Answer with JSON: {"claims": [...]}')
    return [Message(role="system", content=system), Message(role="user", content="\n\n".join(parts))]


def build_claim_messages(context: str, claim: str) -> list[Message]:
    system = (
        "You check whether a claim is backed by a context.\n"
        + DATA_RULES
        + _TAG_RULES
        + "\nUse only the context, not your own knowledge. Verdicts:\n"
        "- SUPPORTED: the context states the claim.\n"
        "- REASONABLE_INFERENCE: the context does not state it, but it follows directly and safely from the context.\n"
        "- UNSUPPORTED: the claim is about the context's subject but the context contradicts it or does not contain "
        "it (a hallucination).\n"
        "- NOT_CHECKABLE: the claim is not a factual assertion that a context could back (a greeting, an opinion, "
        "advice, a question).\n"
        'Reply with a JSON object only: first "reason", then "evidence" (a short verbatim quote from the context, '
        'or "" if there is none), then "verdict".'
    )
    user = "\n\n".join(
        [
            delimit("context", context),
            delimit("claim", claim),
            'Judge the claim against the context. Answer with JSON: {"reason": ..., "evidence": ..., "verdict": ...}',
        ]
    )
    return [Message(role="system", content=system), Message(role="user", content=user)]


# ------------------------------------------------------------------------------------------- steps

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def split_sentences(text: str) -> list[str]:
    """The deterministic claim-split fallback: lines (list markers dropped), then sentences.

    A fragment of fewer than two words (an abbreviation such as "Dr." cut off, a stray number) is joined to
    the following sentence.
    """
    pieces: list[str] = []
    for line in text.splitlines():
        body = _BULLET.sub("", line).strip()
        pieces.extend(p.strip() for p in _SENTENCE_END.split(body) if p.strip())
    out: list[str] = []
    carry = ""
    for piece in pieces:
        joined = f"{carry} {piece}".strip()
        if len(joined.split()) < 2:
            carry = joined
            continue
        out.append(joined)
        carry = ""
    if carry:
        if out:
            out[-1] = f"{out[-1]} {carry}"
        else:
            out.append(carry)
    return [c for c in out if any(ch.isalnum() for ch in c)]


def _flat(text: str) -> str:
    return " ".join(text.split()).casefold()


def quote_in(quote: str, context: str) -> bool | None:
    """Whether the judge's evidence quote occurs in the context (None when there is no quote)."""
    q = _flat(quote).strip(" \"'“”‘’.…")
    if not q:
        return None
    return q in _flat(context)


async def split_claims(
    model: Model, question: str, answer: str, config: Mapping[str, Any]
) -> tuple[list[str], str, str | None]:
    """(claims, source, failure): the judge's claim list, or the sentence split when it produced none."""
    max_repairs = int(config.get("max_repairs", 1))
    result, failure = await structured_call(
        model, build_claim_split_messages(question, answer), ClaimList, generate_config(config, 0), max_repairs
    )
    if isinstance(result, ClaimList):
        return result.claims, "llm", None
    why = f"{failure.cause} ({failure.attempts} attempts): {failure.detail}" if failure else "no claim list"
    return split_sentences(answer), "sentence_split", why


async def judge_claim(model: Model, context: str, claim: str, config: Mapping[str, Any]) -> ClaimResult:
    max_repairs = int(config.get("max_repairs", 1))
    result, failure = await structured_call(
        model, build_claim_messages(context, claim), ClaimJudgement, generate_config(config, 0), max_repairs
    )
    if not isinstance(result, ClaimJudgement):
        why = f"{failure.cause} ({failure.attempts} attempts): {failure.detail}" if failure else "no verdict"
        return ClaimResult(claim=claim, verdict=None, failure=why)
    return ClaimResult(
        claim=claim,
        verdict=result.verdict,
        reason=result.reason,
        evidence=result.evidence,
        quote_in_context=quote_in(result.evidence, context),
    )


# ------------------------------------------------------------------------------------------- deterministic pre-check

_CURRENCY_SIGN = r"[$€£]"
_CURRENCY_WORD = r"(?:USD|EUR|GBP|dollars?|euros?|pounds?)\b"
_NUMBER = re.compile(
    rf"(?<![\w.,])(?P<sign>{_CURRENCY_SIGN}\s?)?(?P<num>\d+(?:,\d{{3}})*(?:\.\d+)?)(?![\w.,]\w|[A-Za-z_])"
    rf"(?P<suffix>\s?%|\s?percent\b|\s?{_CURRENCY_WORD})?",
    re.IGNORECASE,
)
_WORD_TOKEN = re.compile(r"(?<!\w)[A-Za-z][A-Za-z0-9]*(?:['’][A-Za-z]+)?")
_PRONOUN_I = {"i", "i'm", "i'll", "i've", "i'd", "i’m", "i’ll", "i’ve", "i’d"}
_SMALL_NUMBERS = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"),
)
_TENS = {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100}
_NUMBER_WORDS = {w: i for i, w in enumerate(_SMALL_NUMBERS)} | _TENS

NumberKind = Literal["money", "percent", "number"]


def _numbers(text: str) -> list[tuple[NumberKind, str, str]]:
    """(kind, normalised value, as written) for every number in `text`."""
    found: list[tuple[NumberKind, str, str]] = []
    for m in _NUMBER.finditer(text):
        value = m.group("num").replace(",", "")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        value = value.lstrip("0") or "0"
        suffix = (m.group("suffix") or "").strip().lower()
        kind: NumberKind = "money" if m.group("sign") or (suffix and suffix[0] not in "%p") else "number"
        if suffix in ("%", "percent"):
            kind = "percent"
        found.append((kind, value, m.group(0).strip()))
    return found


def _context_words(context: str) -> set[str]:
    return {w.casefold() for w in _WORD_TOKEN.findall(context)}


def _known_word(word: str, words: set[str]) -> bool:
    w = re.sub(r"['’]s$", "", word.casefold())
    variants = {w, w + "s", w + "es", w[:-1] if w.endswith("s") else w, w[:-2] if w.endswith("es") else w}
    return bool(variants & words)


def _initial_positions(sentence: str) -> set[int]:
    """Start offsets of words that begin a sentence (also "Hi! Yes, ..." kept together by the split) or follow a
    colon or a line break, optionally after an opening quote or bracket: such words are capitalised anyway."""
    return {m.end() for m in re.finditer(r"(?:^|[:.!?\n])\s*[\"'“‘(\[]?", sentence)}


def missing_specifics(text: str, context: str, allow: Sequence[str] = ()) -> list[str]:
    """The numbers and capitalised terms of `text` that `context` does not contain (see the module docstring).

    `text` should be one sentence (a capitalised first word is not a term). `allow` lists phrases that are
    removed (case-insensitively) before checking. The result keeps the order and spelling of `text`.
    """
    for phrase in allow:
        if phrase.strip():
            text = re.sub(r"\s+".join(map(re.escape, phrase.split())), " ", text, flags=re.IGNORECASE)
    ctx_numbers = _numbers(context)
    words = _context_words(context)
    by_kind: dict[str, set[str]] = {"money": set(), "percent": set(), "number": set()}
    for kind, value, _ in ctx_numbers:
        by_kind[kind].add(value)
    any_value = by_kind["money"] | by_kind["percent"] | by_kind["number"]
    any_value |= {str(v) for w, v in _NUMBER_WORDS.items() if w in words}
    missing: list[str] = []
    for kind, value, written in _numbers(text):
        ok = value in by_kind[kind] if kind != "number" else value in any_value
        if not ok and written not in missing:
            missing.append(written)
    initial = _initial_positions(text)
    in_numbers = [m.span() for m in _NUMBER.finditer(text)]  # "16 USD": the currency word belongs to the number
    for m in _WORD_TOKEN.finditer(text):
        word = m.group(0)
        if m.start() in initial or word.casefold() in _PRONOUN_I or word == word.lower():
            continue
        if any(a <= m.start() < b for a, b in in_numbers):
            continue
        if not _known_word(word, words) and word not in missing:
            missing.append(word)
    return missing


def precheck_sentences(answer: str, context: str, allow: Sequence[str] = ()) -> tuple[list[ClaimResult], list[str]]:
    """(UNSUPPORTED results for sentences with missing specifics, the sentences left for the model)."""
    flagged: list[ClaimResult] = []
    rest: list[str] = []
    for sentence in split_sentences(answer):
        missing = missing_specifics(sentence, context, allow)
        if missing:
            reason = "precheck: not in the context: " + ", ".join(repr(x) for x in missing)
            flagged.append(ClaimResult(claim=sentence, verdict="UNSUPPORTED", reason=reason, tier="precheck"))
        else:
            rest.append(sentence)
    return flagged, rest


class Faithfulness(EvalwheelModel):
    """The aggregate over a list of claim results (see the module docstring for the formula)."""

    model_config = ConfigDict(extra="forbid")

    value: float | None
    has_hallucinations: bool | None
    counts: dict[str, int]
    judged: int
    unjudged: int
    checkable: int


def aggregate(results: Sequence[ClaimResult]) -> Faithfulness:
    counts = Counter(r.verdict for r in results if r.verdict is not None)
    faithful = sum(counts[label] for label in FAITHFUL)
    checkable = sum(counts[label] for label in CHECKABLE)
    unjudged = sum(1 for r in results if r.verdict is None)
    if counts["UNSUPPORTED"]:
        hallucinated: bool | None = True
    else:
        hallucinated = None if unjudged or not results else False
    return Faithfulness(
        value=faithful / checkable if checkable else None,
        has_hallucinations=hallucinated,
        counts={label: counts[label] for label in LABELS},
        judged=len(results) - unjudged,
        unjudged=unjudged,
        checkable=checkable,
    )


# ------------------------------------------------------------------------------------------- the grader


def _unscored(name: str, reason: str, metadata: dict[str, Any]) -> Score:
    return Score(name=name, value=None, passed=None, reason=f"unscored: {reason}", metadata=metadata)


async def faithfulness(sample: Sample, output: Output, ctx: GraderContext) -> Score:
    """Split the answer into claims, judge each against `sample.context`, aggregate (see module docstring)."""
    config = ctx.config
    name = str(config.get("name", "faithfulness"))
    threshold = float(config.get("pass_threshold", 1.0))
    max_claims = int(config.get("max_claims", 20))
    if max_claims < 1:
        raise ValueError(f"max_claims must be >= 1, got {max_claims}")
    model = judge_models(config)[0]
    meta: dict[str, Any] = {"judge": getattr(model, "name", type(model).__name__)}
    context = render_context(sample.context)
    answer = render_output(output).strip()
    if not context:
        return _unscored(name, "the sample has no context to check the answer against", meta)
    if not answer:
        return _unscored(name, "the answer is empty" + (f" ({output.error})" if output.error else ""), meta)

    flagged: list[ClaimResult] = []
    to_split = answer
    if config.get("precheck", False):
        allow = [str(a) for a in config.get("precheck_allow", [])]
        flagged, rest = precheck_sentences(answer, context, allow)
        to_split = "\n".join(rest)
        meta["precheck"] = {"sentences": len(flagged) + len(rest), "flagged": len(flagged)}
    claims: list[str] = []
    if to_split.strip():
        claims, source, split_failure = await split_claims(model, render_input(sample), to_split, config)
        meta.update(claim_source=source, split_failure=split_failure)
    else:
        meta.update(claim_source="precheck", split_failure=None)
    meta["truncated"] = len(flagged) + len(claims) > max_claims
    flagged = flagged[:max_claims]
    claims = claims[: max_claims - len(flagged)]
    if not claims and not flagged:
        return _unscored(name, "no claims could be extracted from the answer", meta)

    results = flagged + list(await asyncio.gather(*(judge_claim(model, context, c, config) for c in claims)))
    agg = aggregate(results)
    meta.update(
        faithfulness=agg.value,
        has_hallucinations=agg.has_hallucinations,
        counts=agg.counts,
        n_claims=len(results),
        judged=agg.judged,
        unjudged=agg.unjudged,
        checkable=agg.checkable,
        claims=[r.model_dump() for r in results],
    )
    evidence = [Evidence(snippet=clip(r.claim)) for r in results if r.verdict == "UNSUPPORTED"][:5]
    if agg.value is None:
        if agg.judged == 0:
            first = next((r.failure for r in results if r.failure), "no verdict")
            return _unscored(name, f"no claim could be judged: {first}", meta)
        return _unscored(name, f"no checkable claim ({agg.counts['NOT_CHECKABLE']} not checkable)", meta)
    faithful = agg.counts["SUPPORTED"] + agg.counts["REASONABLE_INFERENCE"]
    reason = f"faithfulness {agg.value:.2f}: {faithful}/{agg.checkable} checkable claims supported or inferable"
    if agg.counts["UNSUPPORTED"]:
        first_bad = next(r for r in results if r.verdict == "UNSUPPORTED")
        reason += f"; {agg.counts['UNSUPPORTED']} unsupported, e.g. {clip(first_bad.claim, limit=120)!r}"
    if agg.unjudged:
        reason += f"; {agg.unjudged} claim(s) could not be judged"
    return Score(
        name=name,
        value=agg.value,
        passed=agg.value >= threshold,
        reason=reason,
        evidence=evidence,
        confidence=agg.judged / len(results),
        metadata=meta,
    )


grader("faithfulness")(faithfulness)
