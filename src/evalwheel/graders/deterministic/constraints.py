"""`constraints`: a declarative checker of a text's form, configured from a dict or YAML.

Each configured constraint yields one Score named `constraints.<constraint>` (or `<name>.<constraint>`
when the config sets `name`), with value 1.0 (pass) or 0.0 (fail), a reason and evidence quoting the
text (snippets <= 200 chars). Constraints that are not configured produce no Score. Example YAML:

    max_words: 150
    min_words: 20
    required_terms: [refund, "order number"]
    forbidden_terms: [guarantee]
    must_match: ['\\b\\d{5}\\b']          # regexes that must be found
    must_not_match: ['(?i)as an ai']     # regexes that must not be found
    professional_closing: true           # or {sign_offs: [...], last_lines: 3}
    no_internal_jargon: [JIRA, P0, SEV1] # or {terms: [...]}
    case_sensitive: false                # for terms and jargon (default false); regexes use inline flags

Words are runs of letters/digits (with inner apostrophes or hyphens), so punctuation is not counted.
Terms match as whole words/phrases (any whitespace between the words of a phrase). A professional
closing is one of `sign_offs` at the start of one of the last `last_lines` non-empty lines, followed by
nothing or by punctuation (so "Best regards, Ana" counts and "Best of luck with it" does not).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, Field, field_validator, model_validator

from evalwheel.basemodel import OptionsModel
from evalwheel.fileio import FileReadError, parse_error_text, read_text
from evalwheel.graders.deterministic._common import (
    BaseGraderConfig,
    GraderConfigError,
    compile_regex,
    output_text,
    parse_config,
    quote,
    score,
)
from evalwheel.graders.registry import GraderContext, grader
from evalwheel.types import Evidence, Output, Sample, Score, clip

GRADER = "constraints"
DEFAULT_SIGN_OFFS: tuple[str, ...] = (
    "Best regards",
    "Kind regards",
    "Warm regards",
    "Warmest regards",
    "Regards",
    "Sincerely",
    "Yours sincerely",
    "Yours faithfully",
    "Yours truly",
    "Best wishes",
    "All the best",
    "Best",
    "Many thanks",
    "Thank you",
    "Thanks",
    "Respectfully",
)
MAX_EVIDENCE = 5
_WORD = re.compile(r"\w+(?:['’-]\w+)*")


def _clean_terms(terms: list[str]) -> list[str]:
    if not terms:
        raise ValueError("must list at least one term")
    cleaned = [" ".join(t.split()) for t in terms]
    if any(not t for t in cleaned):
        raise ValueError("terms must be non-empty strings")
    return cleaned


class ClosingOptions(OptionsModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sign_offs: list[str] = Field(default_factory=lambda: list(DEFAULT_SIGN_OFFS))
    last_lines: int = Field(default=3, ge=1)

    @field_validator("sign_offs")
    @classmethod
    def _terms(cls, v: list[str]) -> list[str]:
        return _clean_terms(v)


class JargonOptions(OptionsModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    terms: list[str]

    @field_validator("terms")
    @classmethod
    def _terms(cls, v: list[str]) -> list[str]:
        return _clean_terms(v)


class ConstraintsConfig(BaseGraderConfig):
    max_words: int | None = Field(default=None, ge=0)
    min_words: int | None = Field(default=None, ge=0)
    required_terms: list[str] | None = None
    forbidden_terms: list[str] | None = None
    must_match: list[str] | None = None
    must_not_match: list[str] | None = None
    professional_closing: bool | ClosingOptions = False
    no_internal_jargon: list[str] | JargonOptions | None = None
    case_sensitive: bool = False

    @field_validator("required_terms", "forbidden_terms")
    @classmethod
    def _terms(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _clean_terms(v)

    @field_validator("must_match", "must_not_match", mode="before")
    @classmethod
    def _regexes(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        if isinstance(v, list):
            if not v:
                raise ValueError("must list at least one regular expression")
            for pattern in v:
                if isinstance(pattern, str):
                    compile_regex(pattern)
        return v

    @field_validator("no_internal_jargon", mode="before")
    @classmethod
    def _jargon(cls, v: Any) -> Any:
        return {"terms": v} if isinstance(v, list) else v

    @model_validator(mode="after")
    def _consistent(self) -> ConstraintsConfig:
        if self.min_words is not None and self.max_words is not None and self.min_words > self.max_words:
            raise ValueError(f"min_words ({self.min_words}) is greater than max_words ({self.max_words})")
        if not any(
            (
                self.max_words is not None,
                self.min_words is not None,
                self.required_terms,
                self.forbidden_terms,
                self.must_match,
                self.must_not_match,
                self.professional_closing is not False,
                self.no_internal_jargon,
            )
        ):
            raise ValueError("no constraint is configured")
        return self

    @classmethod
    def from_yaml(cls, source: str | Path) -> ConstraintsConfig:
        """Read a constraints spec from YAML text or a .yaml/.yml file; errors name the grader and field."""
        try:
            text = read_text(source, what="constraints file") if isinstance(source, Path) else source
        except FileReadError as exc:
            raise GraderConfigError(GRADER, "<file>", str(exc)) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise GraderConfigError(GRADER, "<yaml>", f"cannot parse YAML: {parse_error_text(exc)}") from None
        return parse_config(GRADER, cls, data if data is not None else {})


@lru_cache(maxsize=1024)
def _term_pattern(term: str, case_sensitive: bool) -> re.Pattern[str]:
    body = r"\s+".join(re.escape(word) for word in term.split())
    return re.compile(rf"(?<!\w){body}(?!\w)", 0 if case_sensitive else re.IGNORECASE)


def _find_terms(text: str, terms: list[str], case_sensitive: bool) -> dict[str, re.Match[str] | None]:
    return {t: _term_pattern(t, case_sensitive).search(text) for t in terms}


@lru_cache(maxsize=64)
def _closing_regex(sign_offs: tuple[str, ...]) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """One alternation over every sign-off (longest first), compiled once per list of sign-offs.

    The monitoring worker grades thousands of events a second; building a pattern per sign-off and line
    on every call was most of this grader's cost.
    """
    ordered = tuple(sorted(sign_offs, key=len, reverse=True))
    alternatives = "|".join(
        f"(?P<s{i}>" + r"\s+".join(re.escape(w) for w in sign_off.split()) + ")" for i, sign_off in enumerate(ordered)
    )
    return re.compile(rf"(?:{alternatives})\s*(?:$|[,.!;:—–-])", re.IGNORECASE), ordered


def _closing(text: str, opts: ClosingOptions) -> tuple[str | None, list[str]]:
    """The sign-off found in the last lines (or None) and those lines."""
    lines = [line.strip() for line in text.splitlines() if line.strip()][-opts.last_lines :]
    pattern, ordered = _closing_regex(tuple(opts.sign_offs))
    for line in lines:
        m = pattern.match(line.lstrip("-–—*_> ").strip())
        if m is not None and m.lastgroup is not None:
            return ordered[int(m.lastgroup[1:])], lines
    return None, lines


def check_constraints(text: str, cfg: ConstraintsConfig) -> list[Score]:
    """One Score per configured constraint (pure function; the grader wraps it)."""
    base = cfg.name or GRADER
    scores: list[Score] = []

    def add(constraint: str, passed: bool, reason: str, evidence: list[Evidence], **metadata: Any) -> None:
        scores.append(
            score(
                GRADER,
                cfg,
                name=f"{base}.{constraint}",
                value=1.0 if passed else 0.0,
                passed=passed,
                reason=reason,
                evidence=evidence[:MAX_EVIDENCE],
                constraint=constraint,
                **metadata,
            )
        )

    words = _WORD.findall(text)
    if cfg.max_words is not None:
        ok = len(words) <= cfg.max_words
        add(
            "max_words",
            ok,
            f"{len(words)} words ({'<=' if ok else '>'} max {cfg.max_words})",
            [quote(text)],
            word_count=len(words),
        )
    if cfg.min_words is not None:
        ok = len(words) >= cfg.min_words
        add(
            "min_words",
            ok,
            f"{len(words)} words ({'>=' if ok else '<'} min {cfg.min_words})",
            [quote(text)],
            word_count=len(words),
        )
    if cfg.required_terms:
        found = _find_terms(text, cfg.required_terms, cfg.case_sensitive)
        missing = [t for t, m in found.items() if m is None]
        reason = ("missing: " + ", ".join(map(repr, missing))) if missing else "all required terms present"
        evidence = [quote(text, m.start()) for m in found.values() if m is not None]
        add("required_terms", not missing, reason, evidence, missing=missing)
    if cfg.forbidden_terms:
        found = _find_terms(text, cfg.forbidden_terms, cfg.case_sensitive)
        hits = {t: m for t, m in found.items() if m is not None}
        reason = ("forbidden: " + ", ".join(map(repr, hits))) if hits else "no forbidden term"
        add("forbidden_terms", not hits, reason, [quote(text, m.start()) for m in hits.values()], found=list(hits))
    if cfg.must_match:
        matches = {p: re.search(p, text) for p in cfg.must_match}
        unmatched = [p for p, m in matches.items() if m is None]
        reason = ("no match for: " + ", ".join(map(repr, unmatched))) if unmatched else "every pattern matched"
        evidence = [quote(text, m.start()) for m in matches.values() if m is not None]
        add("must_match", not unmatched, reason, evidence, unmatched=unmatched)
    if cfg.must_not_match:
        matches = {p: re.search(p, text) for p in cfg.must_not_match}
        hits_re = {p: m for p, m in matches.items() if m is not None}
        reason = (
            "; ".join(f"{p!r} matched {clip(m.group(0), limit=60)!r}" for p, m in hits_re.items())
            if hits_re
            else "no forbidden pattern matched"
        )
        add(
            "must_not_match",
            not hits_re,
            reason,
            [quote(text, m.start()) for m in hits_re.values()],
            matched=list(hits_re),
        )
    if cfg.professional_closing is not False:
        opts = cfg.professional_closing if isinstance(cfg.professional_closing, ClosingOptions) else ClosingOptions()
        sign_off, lines = _closing(text, opts)
        tail = Evidence(turn_index=None, snippet=clip(" / ".join(lines)[-400:]))
        if sign_off is not None:
            add("professional_closing", True, f"closes with {sign_off!r}", [tail], sign_off=sign_off)
        else:
            add(
                "professional_closing", False, f"no professional sign-off in the last {opts.last_lines} line(s)", [tail]
            )
    if cfg.no_internal_jargon is not None:
        terms = cfg.no_internal_jargon.terms if isinstance(cfg.no_internal_jargon, JargonOptions) else []
        found = _find_terms(text, terms, cfg.case_sensitive)
        hits = {t: m for t, m in found.items() if m is not None}
        reason = ("internal jargon: " + ", ".join(map(repr, hits))) if hits else "no internal jargon"
        add("no_internal_jargon", not hits, reason, [quote(text, m.start()) for m in hits.values()], found=list(hits))
    return scores


@grader(GRADER)
async def constraints(sample: Sample, output: Output, ctx: GraderContext) -> list[Score]:
    """Check every configured constraint on the output text; one Score per constraint."""
    cfg = parse_config(GRADER, ConstraintsConfig, ctx.config)
    text = output_text(GRADER, cfg, output)
    if isinstance(text, Score):
        return [text]
    return check_constraints(text, cfg)
