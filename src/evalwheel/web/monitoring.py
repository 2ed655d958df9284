"""The monitoring tier's side of the workspace: the /monitor page and the windows shown on /trends.

Monitoring (issue #9, `evalwheel.monitor`) is optional at import time: when its read-side functions are
not importable, the pages say so instead of failing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from evalwheel.web.render import page

router = APIRouter()


def monitor_api() -> Any | None:
    try:
        import evalwheel.monitor as monitor
    except ImportError:
        return None
    return monitor if hasattr(monitor, "monitor_overview") else None


def monitor_trends(request: Request) -> list[dict[str, Any]]:
    api = monitor_api()
    if api is None:
        return []
    try:
        return list(api.monitor_overview(request.app.state.review.runs.url).get("windows", []))
    except Exception:  # a monitoring read problem must not take the trends page down
        return []


@router.get("/monitor", response_class=HTMLResponse)
def monitor_page(request: Request) -> Response:
    api = monitor_api()
    overview = None if api is None else api.monitor_overview(request.app.state.review.runs.url)
    return page(request, "monitor.html", overview=overview, title="Monitor")
