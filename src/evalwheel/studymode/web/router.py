"""The `/study` router (mounted by `evalwheel serve`, or served alone by `evalwheel study-web`).

Routes: the page (`GET /study`), its assets, and a small JSON API — profile, learner (with earlier
sessions), start, message (streamed as NDJSON: `{"delta"}` chunks then `{"done"}` or `{"error"}`), end.
State-changing calls accept only `application/json` bodies: a cross-site HTML form cannot send one without
a CORS preflight, which this app never grants, so the API cannot be driven from another site.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

from evalwheel.studymode.web.service import MessageIn, ProfileIn, StudyError, StudyService

ServiceFactory = Callable[[Request], StudyService]
ASSETS = {"study.js": "application/javascript", "study.css": "text/css"}


def _asset(name: str) -> str:
    return (resources.files("evalwheel.studymode.web") / "static" / name).read_text(encoding="utf-8")


def default_service(request: Request) -> StudyService:
    """The app's StudyService, created on first use over the workspace's store (`evalwheel serve`).

    The tutor model is `app.state.study_model` (`serve --study-model`), else $EVALWHEEL_STUDY_MODEL, else the
    default; `app.state.study_timeout` (`serve --timeout`) is the total time limit per model request."""
    state = request.app.state
    service = getattr(state, "study_service", None)
    if service is None:
        import os

        review = getattr(state, "review", None)
        store = getattr(review, "runs", None)
        if store is None:
            raise StudyError("the study chat has no store configured", 500)
        from evalwheel.models.reliability import Timeouts

        service = StudyService(
            store,
            model_name=getattr(state, "study_model", None) or os.environ.get("EVALWHEEL_STUDY_MODEL"),
            monitor_url=os.environ.get("EVALWHEEL_MONITOR_URL"),
            timeouts=Timeouts.total(getattr(state, "study_timeout", None)),
        )
        state.study_service = service
    return service


async def _json(request: Request, model: type[ProfileIn] | type[MessageIn]) -> Any:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise StudyError("send JSON (Content-Type: application/json)", 415)
    try:
        raw = await request.body()
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(x) for x in e["loc"]) or "body"
        raise StudyError(f"{where}: {e['msg']}", 422) from None


def _error(exc: StudyError) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


def study_router(service: ServiceFactory | None = None) -> APIRouter:
    """The learner-facing chat under `/study`. `service` maps a request to its StudyService (tests and the
    standalone server pass their own; the workspace uses one over its store)."""
    get_service = service or default_service
    router = APIRouter(prefix="/study")

    @router.get("", include_in_schema=False)
    def page() -> Response:
        return Response(_asset("study.html"), media_type="text/html; charset=utf-8")

    @router.get("/static/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in ASSETS:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(_asset(name), media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})

    @router.post("/api/profile")
    async def profile(request: Request) -> Response:
        try:
            body = await _json(request, ProfileIn)
            learner_id, prof = await get_service(request).save_profile(body)
        except StudyError as exc:
            return _error(exc)
        return JSONResponse({"learner_id": learner_id, "profile": prof.model_dump(mode="json")})

    @router.get("/api/learners/{learner_id}")
    async def learner(request: Request, learner_id: str) -> Response:
        try:
            prof, sessions = await get_service(request).learner(learner_id)
        except StudyError as exc:
            return _error(exc)
        return JSONResponse(
            {
                "learner_id": learner_id,
                "profile": prof.model_dump(mode="json"),
                "sessions": [
                    {"session_id": s.session_id, "prompt": s.prompt, "turns": len(s.trajectory)} for s in sessions
                ],
            }
        )

    @router.post("/api/learners/{learner_id}/sessions")
    async def start(request: Request, learner_id: str) -> Response:
        try:
            state = await get_service(request).start(learner_id)
        except StudyError as exc:
            return _error(exc)
        return JSONResponse({"session_id": state.session_id, "memory": state.memory})

    @router.post("/api/sessions/{session_id}/messages")
    async def message(request: Request, session_id: str) -> Response:
        try:
            body = await _json(request, MessageIn)
            chunks = await get_service(request).reply(session_id, body)
        except StudyError as exc:
            return _error(exc)

        async def ndjson() -> AsyncIterator[bytes]:
            async for item in chunks:
                yield (json.dumps(item) + "\n").encode("utf-8")

        return StreamingResponse(ndjson(), media_type="application/x-ndjson", headers={"Cache-Control": "no-store"})

    @router.post("/api/sessions/{session_id}/end")
    async def end(request: Request, session_id: str) -> Response:
        try:
            result = await get_service(request).end(session_id)
        except StudyError as exc:
            return _error(exc)
        if result is None:
            return JSONResponse({"saved": False})
        fid = result.value
        return JSONResponse({"saved": True, "status": result.status, "fidelity": fid, "tags": result.tags})

    return router
