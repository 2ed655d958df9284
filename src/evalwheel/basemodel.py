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

from pydantic import BaseModel, ConfigDict


class EvalwheelModel(BaseModel):
    """`pydantic.BaseModel` with `defer_build=True`; subclasses' own `model_config` is merged on top."""

    model_config = ConfigDict(defer_build=True)
