"""Study Mode: the tutor product itself (versioned overlay prompts, learner context, the guard, replay across
arms, simulated learners, terminal chat and the learner-facing web chat)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import APIRouter


def study_router(*args: Any, **kwargs: Any) -> APIRouter:
    """The `/study` web chat router (FastAPI is imported only when this is called: the CLI stays fast)."""
    from evalwheel.studymode.web.router import study_router as build

    return build(*args, **kwargs)


__all__ = ["study_router"]
