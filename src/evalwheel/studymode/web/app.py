"""The web chat on its own: `evalwheel study-web` (the workspace, `evalwheel serve`, mounts the same router)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from evalwheel.studymode.web.router import study_router
from evalwheel.studymode.web.service import StudyService
from evalwheel.web.security import TOKEN_COOKIE, request_token, same_secret


class TokenGate(BaseHTTPMiddleware):
    """Every request must carry the server token (Bearer header or cookie); `?token=` once sets the cookie."""

    def __init__(self, app: object, token: str) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.token = token

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        given = request.query_params.get("token")
        if given and same_secret(given, self.token):
            response: Response = RedirectResponse(request.url.path, status_code=303)
            response.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="strict")
            return response
        sent = request_token(request)
        if not (sent and same_secret(sent, self.token)):
            return PlainTextResponse("401: this server needs its token (open /study?token=...)", status_code=401)
        return await call_next(request)


def create_study_app(service: StudyService, token: str | None = None) -> FastAPI:
    """A FastAPI app serving `/study` over `service`; with `token`, every request must carry it or gets 401."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await service.aclose()

    app = FastAPI(title="evalwheel study", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(study_router(lambda request: service))

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/study")

    if token:
        app.add_middleware(TokenGate, token=token)
    return app
