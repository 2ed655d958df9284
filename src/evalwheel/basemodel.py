"""The base of evalwheel's pydantic models: validators built on first use, not at import.

Why: building the validator and serializer of a pydantic model is the expensive part of defining it, and
evalwheel defines ~150 models. Built at import, they cost ~0.15-0.2 s of every command's start-up (most of
the time `evalwheel run` spent before its first model request), although a given command touches a
handful. With `defer_build` a model is built the first time it validates or serialises, so a command pays
only for the models it uses. Behaviour is otherwise identical (same fields, same validation, same
errors); the one visible difference is that the first use of each model is slower.

User-defined models (a structured-output schema, a grader's config) stay plain `pydantic.BaseModel`:
code that accepts *any* model checks against `pydantic.BaseModel`, never against this class.
"""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError


class EvalwheelModel(BaseModel):
    """`pydantic.BaseModel` with `defer_build=True`; subclasses' own `model_config` is merged on top."""

    model_config = ConfigDict(defer_build=True)


def _is_number_type(annotation: Any) -> bool:
    """int or float (alone, in a union, or Annotated), with no bool among the accepted types."""
    if get_origin(annotation) is Annotated:
        return _is_number_type(get_args(annotation)[0])
    members = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    members = tuple(get_args(m)[0] if get_origin(m) is Annotated else m for m in members)
    return bool not in members and any(m in (int, float) for m in members)


class OptionsModel(EvalwheelModel):
    """The base of option models users write by hand (grader configs): a YAML `true` is never the number 1.

    Why: pydantic's lax mode reads a bool as an int or a float (`true` -> 1, `false` -> 0), so `threshold: true`,
    `max_words: true` or `last_lines: false` silently became settings instead of errors. Every field whose type is
    a number, and not also a bool, rejects booleans with an error on that field (the callers name the grader)."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            field = cls.model_fields.get(info.field_name)
            if field is not None and _is_number_type(field.annotation):
                raise PydanticCustomError(
                    "bool_not_number", "expected a number, got a boolean ({value})", {"value": str(value).lower()}
                )
        return value
