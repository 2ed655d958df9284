"""The FastAPI application: pages, review queue, static assets, error pages, auth and the monitoring mount."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import RequestResponseEndpoint

from evalwheel.review.store import ReviewError, ReviewStore
from evalwheel.store import StoreError
from evalwheel.web import monitoring, pages, review_pages
from evalwheel.web.digest import create_tables, start_warm_up
from evalwheel.web.queries import agreement_figures
from evalwheel.web.render import TEMPLATES, env, error_page
from evalwheel.web.security import AuthMiddleware

STATIC = Path(__file__).with_name("static")
NAV = [
    ("/", "Runs"),
    ("/compare", "Compare"),
    ("/trends", "Trends"),
    ("/monitor", "Monitor"),
    ("/review", "Review"),
    ("/graders", "Graders"),
    ("/study", "Study chat"),
]
log = logging.getLogger("evalwheel.web")


def plotly_js_path() -> Path | None:
    """plotly.min.js from the `plotly` package's data, located without importing plotly."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


def create_app(
    store: str | Path | ReviewStore | None = None,
    *,
    token: str | None = None,
    ingest_only: bool = False,
    golden_dir: Path | None = None,
    monitor_config: Path | None = None,
    study_model: str | None = None,
    study_timeout: float | None = None,
) -> FastAPI:
    """The workspace over one store. `token` (required off loopback) guards every request; `ingest_only`
    serves just the monitoring ingest (production), none of the pages. `monitor_config` is the monitoring
    YAML (sampler, windows, drift) for the ingest routes mounted here. `study_model` (else
    $EVALWHEEL_STUDY_MODEL) is the /study chat's tutor and `study_timeout` its total limit per model request."""
    review = store if isinstance(store, ReviewStore) else ReviewStore(store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.ingestor.aclose()

    app = FastAPI(title="evalwheel", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.review = review
    app.state.server_token = token
    app.state.golden_dir = (golden_dir or Path.cwd()).resolve()
    app.state.nav = NAV
    app.state.study_model = study_model  # read by the /study router's StudyService (studymode.web.router)
    app.state.study_timeout = study_timeout
    _mount_ingest(app, review, token, monitor_config)
    if not ingest_only:
        create_tables(review.runs)
        # before the warm-up thread: both import the Study Mode graders, and two threads importing that
        # package at once can hit Python's import-lock deadlock detection (the chat was then not mounted)
        _mount_study(app)
        app.state.warm_up = start_warm_up(review.runs, _compile_templates, lambda: agreement_figures(review))
        app.include_router(pages.router)
        app.include_router(review_pages.router)
        app.include_router(monitoring.router)
        app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

        @app.get("/ready")
        def ready() -> Response:
            """Readiness: 200 once the start-up warm-up (run digests, templates) is done, 503 before."""
            done = not app.state.warm_up.is_alive()
            return Response(
                "ready" if done else "warming up", status_code=200 if done else 503, media_type="text/plain"
            )

        @app.get("/vendor/plotly.min.js")
        def plotly_js() -> Response:
            path = plotly_js_path()
            if path is None:
                return Response("plotly is not installed", status_code=404, media_type="text/plain")
            return FileResponse(
                path, media_type="application/javascript", headers={"Cache-Control": "public, max-age=86400"}
            )

    _refuse_nul(app)
    app.add_middleware(AuthMiddleware, server_token=token, reviewer_lookup=review.reviewer_for_token)
    _error_handlers(app)
    return app


def _compile_templates() -> None:
    """Compile templates and the Study Mode tagger's regex (first use ~0.3 s) before the first request."""
    from evalwheel.graders.pedagogy.tagger import tag_turn

    for path in TEMPLATES.glob("*.html"):
        env.get_template(path.name)
    tag_turn("What have you tried so far?", 1)


def _mount_ingest(app: FastAPI, review: ReviewStore, token: str | None, config_path: Path | None) -> None:
    """The monitoring ingest routes (POST /v1/events, OTLP traces, healthz, metrics) on the same store."""
    from evalwheel.monitor import Ingestor, MonitorStore, ingest_router, load_monitor_config

    config = load_monitor_config(config_path)
    store = MonitorStore(review.runs.url)
    ingestor = Ingestor(store, config)
    app.state.monitor_store = store
    app.state.monitor_config = config
    app.state.ingestor = ingestor
    app.include_router(ingest_router(ingestor, token=token))


def _mount_study(app: FastAPI) -> None:
    """The learner web chat (`evalwheel.studymode`, `/study`), when it can be built: an optional part must
    not take the dashboard down, so a failure to build it is logged and the rest is served."""
    try:
        from evalwheel.studymode import study_router

        app.include_router(study_router())
    except Exception:
        log.exception("the /study chat could not be mounted")


def _refuse_nul(app: FastAPI) -> None:
    """A NUL byte in the path or a query parameter is bad input (404 / 400 naming the parameter) before any
    page runs: PostgreSQL text cannot hold one, so its query would fail with a 500."""

    @app.middleware("http")
    async def no_nul(request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.scope.get("path", "")
        if "\x00" in path:
            return error_page(request, 404, "Not found", f"Nothing at {path[:300]!r}: an id cannot contain NUL.")
        for name, value in request.query_params.multi_items():
            if "\x00" in name or "\x00" in value:
                shown = name[:100].replace("\x00", "\\x00")
                return error_page(request, 400, "Bad request", f"query.{shown}: contains a NUL byte")
        return await call_next(request)


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_page(request, 404, "Not found", f"Nothing at {request.url.path[:300]}.")
        return error_page(request, exc.status_code, "Error", str(exc.detail)[:500])

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return error_page(
            request, 404 if "path" in where else 400, "Bad request", f"{where}: {first.get('msg', 'invalid')}"
        )

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Response:
        return error_page(request, 404, "Not found", str(exc)[:500])

    @app.exception_handler(ReviewError)
    async def review_error(request: Request, exc: ReviewError) -> Response:
        return error_page(request, 404 if str(exc).startswith("no review item") else 400, "Review", str(exc)[:500])

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("error serving %s", request.url.path)
        return error_page(request, 500, "Server error", "Something went wrong; the server log has the details.")
