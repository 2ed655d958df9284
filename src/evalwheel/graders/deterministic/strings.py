"""String-match graders: `exact`, `contains` and `regex`, each with `negate` and case options.

Configuration (all optional unless noted):

- `exact`: `reference` (str or list; default: the sample's reference), `case_sensitive` (true),
  `strip` (true: ignore leading/trailing whitespace), `normalize_whitespace` (false: collapse runs of
  whitespace), `negate` (false). Passes when the output equals any reference.
- `contains`: `value` (str or list; default: the sample's reference), `mode` (`any` | `all`, default
  `any`), `case_sensitive` (true), `negate` (false: with negate, passes when the output does *not*
  contain the value(s) under `mode`).
- `regex`: `pattern` (required), `case_sensitive` (true), `multiline` / `dotall` (false), `negate`
  (false). Passes when the pattern is found anywhere in the output (`re.search`).

`value` is 1.0 for a pass and 0.0 for a fail.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from evalwheel.graders.deterministic._common import (
    BaseGraderConfig,
    compile_regex,
    output_text,
    parse_config,
    quote,
    references,
    score,
    text_and_references,
)
from evalwheel.graders.registry import GraderContext, grader
from evalwheel.types import Evidence, Output, Sample, Score, clip


class _NegatableConfig(BaseGraderConfig):
    case_sensitive: bool = True
    negate: bool = False


class ExactConfig(_NegatableConfig):
    reference: str | list[str] | None = None
    strip: bool = True
    normalize_whitespace: bool = False

    @field_validator("reference")
    @classmethod
    def _non_empty(cls, v: str | list[str] | None) -> str | list[str] | None:
        if isinstance(v, list) and not v:
            raise ValueError("must not be an empty list")
        return v


class ContainsConfig(_NegatableConfig):
    value: str | list[str] | None = None
    mode: Literal["any", "all"] = "any"

    @field_validator("value")
    @classmethod
    def _non_empty(cls, v: str | list[str] | None) -> str | list[str] | None:
        if v == "" or (isinstance(v, list) and (not v or "" in v)):
            raise ValueError("must be a non-empty string or a list of non-empty strings")
        return v


class RegexConfig(_NegatableConfig):
    pattern: str = Field(min_length=1)
    multiline: bool = False
    dotall: bool = False

    @model_validator(mode="after")
    def _compiles(self) -> RegexConfig:
        compile_regex(self.pattern, self.flags)
        return self

    @property
    def flags(self) -> int:
        return (
            (0 if self.case_sensitive else re.IGNORECASE)
            | (re.MULTILINE if self.multiline else 0)
            | (re.DOTALL if self.dotall else 0)
        )


def _verdict(matched: bool, negate: bool) -> tuple[float, bool]:
    passed = matched != negate
    return (1.0 if passed else 0.0), passed


def _norm_exact(text: str, cfg: ExactConfig) -> str:
    if cfg.normalize_whitespace:
        text = " ".join(text.split())
    elif cfg.strip:
        text = text.strip()
    return text if cfg.case_sensitive else text.casefold()


@grader("exact")
async def exact(sample: Sample, output: Output, ctx: GraderContext) -> Score:
    """Pass when the output equals a reference (or, with `negate`, equals none of them)."""
    cfg = parse_config("exact", ExactConfig, ctx.config)
    pair = text_and_references("exact", cfg, sample, output, cfg.reference)
    if isinstance(pair, Score):
        return pair
    text, refs = pair
    got = _norm_exact(text, cfg)
    hit = next((r for r in refs if _norm_exact(r, cfg) == got), None)
    value, passed = _verdict(hit is not None, cfg.negate)
    if hit is not None:
        reason = f"output equals the reference {clip(hit, limit=80)!r}"
    else:
        reason = f"output differs from {'the reference' if len(refs) == 1 else f'all {len(refs)} references'}"
    if cfg.negate:
        reason += " (negated)"
    return score("exact", cfg, value=value, passed=passed, reason=reason, evidence=[quote(text)])


@grader("contains")
async def contains(sample: Sample, output: Output, ctx: GraderContext) -> Score:
    """Pass when the output contains any/all of the values (or, with `negate`, does not)."""
    cfg = parse_config("contains", ContainsConfig, ctx.config)
    text = output_text("contains", cfg, output)
    if isinstance(text, Score):
        return text
    values = references("contains", cfg, sample, cfg.value)
    if isinstance(values, Score):
        return values
    haystack = text if cfg.case_sensitive else text.casefold()
    positions = {v: haystack.find(v if cfg.case_sensitive else v.casefold()) for v in values}
    found = [v for v, pos in positions.items() if pos >= 0]
    missing = [v for v, pos in positions.items() if pos < 0]
    matched = bool(found) if cfg.mode == "any" else not missing
    value, passed = _verdict(matched, cfg.negate)
    parts = []
    if found:
        parts.append("found " + ", ".join(repr(v) for v in found))
    if missing:
        parts.append("missing " + ", ".join(repr(v) for v in missing))
    reason = f"{'; '.join(parts)} (mode={cfg.mode}{', negated' if cfg.negate else ''})"
    evidence: list[Evidence] = [quote(text, positions[v]) for v in found[:5]]
    return score("contains", cfg, value=value, passed=passed, reason=reason, evidence=evidence, found=found)


@grader("regex")
async def regex(sample: Sample, output: Output, ctx: GraderContext) -> Score:
    """Pass when `pattern` is found in the output (or, with `negate`, is not found)."""
    cfg = parse_config("regex", RegexConfig, ctx.config)
    text = output_text("regex", cfg, output)
    if isinstance(text, Score):
        return text
    match = re.search(cfg.pattern, text, cfg.flags)
    value, passed = _verdict(match is not None, cfg.negate)
    if match is not None:
        reason = f"pattern {cfg.pattern!r} matched {clip(match.group(0), limit=80)!r}"
        evidence = [quote(text, match.start())]
    else:
        reason = f"pattern {cfg.pattern!r} not found"
        evidence = []
    if cfg.negate:
        reason += " (negated)"
    return score("regex", cfg, value=value, passed=passed, reason=reason, evidence=evidence)
