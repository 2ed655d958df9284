"""`json_valid` and `json_schema`: is the output JSON, and does it satisfy a JSON Schema?

- `json_valid`: passes when the output parses as JSON. Options: `strip_code_fences` (false: when
  true, a single surrounding Markdown code fence such as ```json ... ``` is removed first).
- `json_schema`: parses the output (same option) and validates it with the `jsonschema` library
  against `schema` (required; a JSON Schema as a mapping; its `$schema` picks the draft, default
  2020-12). The schema itself is checked when the config is read, so a broken schema is a config error
  rather than a failing sample. Every violation (up to `max_errors`, default 5) is listed with its
  JSON path.

`value` is 1.0 for a pass and 0.0 for a fail.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import Field, model_validator

from evalwheel.graders.deterministic._common import BaseGraderConfig, output_text, parse_config, quote, score
from evalwheel.graders.registry import GraderContext, grader
from evalwheel.types import Evidence, Output, Sample, Score, clip

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*[ \t]*\n(.*)\n\s*```\s*$", re.DOTALL)


class JsonValidConfig(BaseGraderConfig):
    strip_code_fences: bool = False


class JsonSchemaConfig(JsonValidConfig):
    schema_: dict[str, Any] = Field(alias="schema")
    max_errors: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _schema_is_valid(self) -> JsonSchemaConfig:
        from jsonschema import SchemaError  # type: ignore[import-untyped]

        try:
            _validator_class(self.schema_).check_schema(self.schema_)
        except SchemaError as exc:
            path = "/".join(str(p) for p in exc.path) or "<root>"
            raise ValueError(f"not a valid JSON Schema (at {path}): {exc.message}") from None
        return self


def _validator_class(schema: dict[str, Any]) -> Any:
    from jsonschema.validators import Draft202012Validator, validator_for  # type: ignore[import-untyped]

    return validator_for(schema, default=Draft202012Validator)


def _parse(text: str, strip_fences: bool) -> tuple[Any, None] | tuple[None, json.JSONDecodeError]:
    if strip_fences:
        fenced = _FENCE.match(text)
        if fenced:
            text = fenced.group(1)
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, exc


def _invalid(grader_name: str, cfg: BaseGraderConfig, text: str, exc: json.JSONDecodeError) -> Score:
    return score(
        grader_name,
        cfg,
        value=0.0,
        passed=False,
        reason=f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        evidence=[quote(text, exc.pos)],
    )


@grader("json_valid")
async def json_valid(sample: Sample, output: Output, ctx: GraderContext) -> Score:
    """Pass when the output parses as JSON."""
    cfg = parse_config("json_valid", JsonValidConfig, ctx.config)
    text = output_text("json_valid", cfg, output)
    if isinstance(text, Score):
        return text
    value, error = _parse(text, cfg.strip_code_fences)
    if error is not None:
        return _invalid("json_valid", cfg, text, error)
    return score(
        "json_valid", cfg, value=1.0, passed=True, reason=f"valid JSON ({type(value).__name__})", evidence=[quote(text)]
    )


@grader("json_schema")
async def json_schema(sample: Sample, output: Output, ctx: GraderContext) -> Score:
    """Pass when the output is JSON that satisfies `schema` (jsonschema library)."""
    cfg = parse_config("json_schema", JsonSchemaConfig, ctx.config)
    text = output_text("json_schema", cfg, output)
    if isinstance(text, Score):
        return text
    document, error = _parse(text, cfg.strip_code_fences)
    if error is not None:
        return _invalid("json_schema", cfg, text, error)
    validator = _validator_class(cfg.schema_)(cfg.schema_)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if not errors:
        return score(
            "json_schema", cfg, value=1.0, passed=True, reason="valid against the schema", evidence=[quote(text)]
        )
    shown = errors[: cfg.max_errors]
    details = [f"{e.json_path}: {e.message}" for e in shown]
    more = f" (+{len(errors) - len(shown)} more)" if len(errors) > len(shown) else ""
    reason = f"{len(errors)} schema violation(s): " + "; ".join(clip(d, limit=160) for d in details) + more
    evidence = [Evidence(turn_index=None, snippet=clip(d)) for d in details]
    return score(
        "json_schema",
        cfg,
        value=0.0,
        passed=False,
        reason=reason,
        evidence=evidence,
        violations=[{"path": e.json_path, "message": e.message} for e in errors],
    )
