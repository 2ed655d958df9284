"""Templates and the few formatting helpers they use.

Autoescaping is on for every template: transcripts, reasons and notes are arbitrary text and are only
ever inserted as text (never as markdown or HTML). The one place that builds markup itself,
`highlight`, escapes every piece of the text before wrapping evidence spans in `<mark>`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from evalwheel.stats.intervals import proportion_ci

TEMPLATES = Path(__file__).with_name("templates")

env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True))


def pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{100 * x:.{digits}f}%"


def num(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def usd(x: float | None) -> str:
    if x is None:
        return "—"
    return f"${x:.4f}" if x < 1 else f"${x:,.2f}"


def ts(seconds: float | None) -> str:
    """Unix seconds as a UTC date and time."""
    if seconds is None:
        return "—"
    return datetime.fromtimestamp(float(seconds), UTC).strftime("%Y-%m-%d %H:%M:%S")


def verdict(passed: bool | None) -> Markup:
    cls, text = {True: ("pass", "pass"), False: ("fail", "fail"), None: ("unscored", "unscored")}[passed]
    return Markup('<span class="v {}">{}</span>').format(cls, text)


def data_json(value: Any) -> Markup:
    """JSON for a `<script type="application/json">` block: `<`, `>` and `&` escaped so no text can end it."""
    text = json.dumps(value, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def _spans(text: str, snippets: list[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for snip in snippets:
        needle = snip.rstrip("…").strip()
        if len(needle) < 3:
            continue
        start = text.find(needle)
        if start < 0:  # snippets are single-spaced; try the text single-spaced at the same offsets' prefix
            start = text.find(needle[: max(12, len(needle) // 2)])
            if start < 0:
                continue
            needle = needle[: max(12, len(needle) // 2)]
        spans.append((start, start + len(needle)))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def highlight(text: str, snippets: list[str]) -> Markup:
    """The text, escaped, with each evidence snippet found in it wrapped in <mark>."""
    out: list[str] = []
    pos = 0
    for s, e in _spans(text, snippets):
        out.append(str(escape(text[pos:s])))
        out.append('<mark class="evidence">' + str(escape(text[s:e])) + "</mark>")
        pos = e
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


env.filters.update(pct=pct, num=num, usd=usd, verdict=verdict, data_json=data_json, ts=ts)
env.globals.update(highlight=highlight, interval=proportion_ci)


# Defence in depth behind autoescaping: only our own scripts run (no inline script, no eval), nothing is framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    identity = getattr(request.state, "identity", None)
    html = env.get_template(template).render(
        request=request,
        identity=identity,
        csrf=getattr(request.state, "csrf", ""),
        nav=getattr(request.app.state, "nav", []),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def error_page(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
    return page(request, "error.html", status_code=status_code, title=title, message=message)


def unauthorized(request: Request) -> HTMLResponse:
    html = env.get_template("login.html").render(
        request=request, identity=None, csrf=getattr(request.state, "csrf", ""), nav=[], message=None, standalone=True
    )
    return HTMLResponse(
        html, status_code=401, headers={**SECURITY_HEADERS, "WWW-Authenticate": 'Bearer realm="evalwheel"'}
    )
