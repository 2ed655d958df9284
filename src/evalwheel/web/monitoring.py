"""The monitoring tier inside the workspace: the /monitor page, windows on /trends, the ingest mount,
promotion of failure candidates, and monitoring failures as review-queue items.

Everything here goes through `evalwheel.monitor`'s public read-side functions (issue #9); the web layer
never reads the monitoring tables itself.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from evalwheel.fileio import confined
from evalwheel.web.render import error_page, page
from evalwheel.web.security import csrf_valid

router = APIRouter()
log = logging.getLogger("evalwheel.web")
WINDOWS_SHOWN = 48


def monitor_store(request: Request) -> Any:
    """The MonitorStore on the workspace's store URL (one per app, opened lazily)."""
    existing = getattr(request.app.state, "monitor_store", None)
    if existing is None:
        from evalwheel.monitor import MonitorStore

        existing = MonitorStore(request.app.state.review.runs.url)
        request.app.state.monitor_store = existing
    return existing


def monitor_config(request: Request) -> Any:
    from evalwheel.monitor import MonitorConfig

    return getattr(request.app.state, "monitor_config", None) or MonitorConfig()


def _window_rows(request: Request) -> list[dict[str, Any]]:
    from evalwheel.monitor import window_reports

    rows: list[dict[str, Any]] = []
    for wd in window_reports(monitor_store(request), monitor_config(request), last=WINDOWS_SHOWN):
        w = wd.window
        drifted = [m.metric for m in wd.drift.drifted] if wd.drift is not None else []
        rows.append(
            {
                "start_iso": w.start_iso,
                "app": w.app,
                "volume": w.volume,
                "sampled": w.sampled,
                "graded": w.graded,
                "pass_rate": w.pass_rate.estimate,
                "low": w.pass_rate.low,
                "high": w.pass_rate.high,
                "error_rate": w.error_rate,
                "latency_p95": w.latency_p95,
                "cost_usd": w.cost_usd,
                "drifted": drifted,
            }
        )
    return rows


def monitor_trends(request: Request) -> list[dict[str, Any]]:
    """Monitoring windows for the trends chart (empty when nothing was ingested)."""
    try:
        return _window_rows(request)
    except Exception:  # the trends page must render even if the monitoring tables are unreadable
        log.exception("monitoring windows unavailable")
        return []


@router.get("/monitor", response_class=HTMLResponse)
def monitor_page(request: Request) -> Response:
    from evalwheel.monitor import alert_history, failure_candidates, sampled_events, status

    store = monitor_store(request)
    return page(
        request,
        "monitor.html",
        status=status(store),
        windows=_window_rows(request),
        alerts=alert_history(store, limit=50),
        events=sampled_events(store, limit=30),
        failures=failure_candidates(store, limit=100, embed=False),
        title="Monitor",
    )


@router.post("/monitor/promote")
def promote_failures(
    request: Request,
    csrf: Annotated[str, Form()] = "",
    request_ids: Annotated[list[str] | None, Form()] = None,
    dataset: Annotated[str, Form(max_length=500)] = "",
    root_cause: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    if not csrf_valid(request, csrf):
        return error_page(request, 403, "Form expired", "The form's CSRF token is missing or wrong; reload.")
    from evalwheel.monitor import PromotionError, promote

    base: Path = request.app.state.golden_dir
    target = confined(base, dataset.strip()) if dataset.strip() else None
    if target is None or not request_ids or not root_cause.strip():
        return error_page(
            request,
            400,
            "Cannot promote",
            f"pick failures, a root cause and a dataset path inside {base} (got {dataset[:200]!r})",
        )
    try:
        report = promote(monitor_store(request), request_ids, dataset=target, root_cause=root_cause.strip())
    except (PromotionError, ValueError) as exc:
        return error_page(request, 400, "Cannot promote", str(exc)[:500])
    return page(request, "promoted.html", report=report, title="Promoted")
