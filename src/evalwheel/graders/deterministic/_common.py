"""Shared plumbing for the deterministic graders: config parsing, clear config errors, Score helpers.

Every grader validates `ctx.config` with a small pydantic model (unknown keys are rejected, so a typo in
a YAML file is an error rather than a silently ignored option). A validation failure becomes a
`GraderConfigError` whose message names the grader and the offending field.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from evalwheel.basemodel import OptionsModel
from evalwheel.types import Evidence, Output, Sample, Score, clip

SNIPPET_CONTEXT = 40  # characters of text kept before a match when quoting it as evidence


class GraderConfigError(ValueError):
    """A grader's configuration is invalid; the message names the grader and the field."""

    def __init__(self, grader: str, field: str, message: str) -> None:
        self.grader = grader
        self.field = field
        super().__init__(f"grader {grader!r}: config field {field!r}: {message}")


class BaseGraderConfig(OptionsModel):
    """Options shared by every deterministic grader."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    """Score name override (defaults to the grader name); `metadata['grader']` always names the grader."""


ConfigT = TypeVar("ConfigT", bound=BaseModel)


_PARSED: dict[tuple[type[BaseModel], str], BaseModel] = {}
_PARSED_MAX = 256


def parse_config(grader: str, model: type[ConfigT], config: dict[str, Any]) -> ConfigT:
    """Validate `config` against `model`, turning the first pydantic error into a GraderConfigError.

    Graders are pure functions of (sample, output, ctx), so they parse their config on every call; a run or the
    monitoring worker calls them with the same few configs thousands of times, so valid configs are memoised
    by their JSON text (configs holding non-JSON values, such as resolved judge models, are parsed each time).
    """
    if not isinstance(config, dict):
        raise GraderConfigError(grader, "<root>", f"expected a mapping, got {type(config).__name__}")
    try:
        key: tuple[type[BaseModel], str] | None = (model, json.dumps(config, sort_keys=True))
    except (TypeError, ValueError):
        key = None
    if key is not None and (hit := _PARSED.get(key)) is not None:
        return cast(ConfigT, hit)
    try:
        parsed = model.model_validate(config)
    except ValidationError as exc:
        err = _most_specific(exc.errors())
        field = ".".join(str(part) for part in err["loc"] if not _union_tag(part)) or "<root>"
        message = str(err["msg"])
        if err["type"] == "extra_forbidden":
            known = ", ".join(sorted(f.alias or n for n, f in model.model_fields.items()))
            message = f"unknown option (known options: {known})"
        elif err["type"] == "missing":
            message = "required option is missing"
        raise GraderConfigError(grader, field, message) from None
    if key is not None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = parsed
    return parsed


def _most_specific(errors: list[Any]) -> Any:
    """The error to report: the deepest one. Why: for a union option (`professional_closing: bool | {...}`) given a
    mapping with one bad key, pydantic lists "not a valid boolean" first; the mistake is the key inside."""
    return max(errors, key=lambda e: len(e["loc"]))


def _union_tag(part: object) -> bool:
    """A union member's tag in an error location (`ClosingOptions`), not a field: option names are snake_case."""
    return isinstance(part, str) and part[:1].isupper()


def compile_regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Compile a pattern, raising ValueError with the regex error (pydantic turns it into a field error)."""
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None


def quote(text: str, start: int = 0) -> Evidence:
    """Evidence quoting `text` from a little before `start` (snippet <= 200 chars, single line)."""
    return Evidence(turn_index=None, snippet=clip(text, max(0, start - SNIPPET_CONTEXT)))


def score(
    grader: str,
    cfg: BaseGraderConfig,
    *,
    value: float | None,
    passed: bool | None,
    reason: str,
    evidence: list[Evidence] | None = None,
    name: str | None = None,
    **metadata: Any,
) -> Score:
    """Build a Score that names its grader (in `name`, unless overridden, and always in metadata)."""
    return Score(
        name=name or cfg.name or grader,
        value=value,
        passed=passed,
        reason=reason,
        evidence=evidence or [],
        metadata={"grader": grader, **metadata},
    )


def output_text(grader: str, cfg: BaseGraderConfig, output: Output) -> str | Score:
    """The output's text, or an unscored Score explaining why there is nothing to grade."""
    if output.error is not None:
        return score(grader, cfg, value=None, passed=None, reason=f"unscored: the output is an error: {output.error}")
    if output.text is None:
        return score(grader, cfg, value=None, passed=None, reason="unscored: the output has no text")
    return output.text


def references(
    grader: str, cfg: BaseGraderConfig, sample: Sample, configured: str | list[str] | None
) -> list[str] | Score:
    """Reference texts: the configured ones if given, else the sample's reference; unscored if neither."""
    if configured is not None:
        return [configured] if isinstance(configured, str) else list(configured)
    if sample.reference is not None:
        return [sample.reference]
    return score(
        grader,
        cfg,
        value=None,
        passed=None,
        reason="unscored: no reference (sample.reference is empty, none configured)",
    )


def text_and_references(
    grader: str, cfg: BaseGraderConfig, sample: Sample, output: Output, configured: str | list[str] | None
) -> tuple[str, list[str]] | Score:
    """The output text and the references for reference-based graders, or the unscored Score saying why not."""
    text = output_text(grader, cfg, output)
    if isinstance(text, Score):
        return text
    refs = references(grader, cfg, sample, configured)
    if isinstance(refs, Score):
        return refs
    return text, refs
