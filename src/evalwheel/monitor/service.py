"""Read-side queries and the background loop that ties worker, windows and alerts together.

These are the functions the CLI and the web workspace call; they take a `MonitorStore` and return pydantic
models or plain dicts, never raw rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from typing import Any

from sqlalchemy import select

from evalwheel.basemodel import EvalwheelModel
from evalwheel.monitor.alerts import AlertManager
from evalwheel.monitor.config import MonitorConfig
from evalwheel.monitor.drift import DriftReport, compare_windows, input_drift, pick_baseline
from evalwheel.monitor.queue import MonitorStore
from evalwheel.monitor.schema import events, results
from evalwheel.monitor.windows import WindowReport, aggregate, compute_windows, run_baseline

log = logging.getLogger("evalwheel.monitor")


class WindowWithDrift(EvalwheelModel):
    window: WindowReport
    drift: DriftReport | None = None


def window_reports(
    store: MonitorStore,
    config: MonitorConfig | None = None,
    *,
    app: str | None = None,
    size_s: float | None = None,
    baseline: str | None = None,
    last: int | None = None,
    with_input_drift: bool | None = None,
) -> list[WindowWithDrift]:
    """Windows of `size_s` seconds (config default 300) with drift against the configured baseline.

    `baseline`: `first` (first window with enough graded events), `previous`, or `run:RUN_ID` (an offline run in
    the same store). `last` keeps only the newest N windows (drift is still computed against the baseline).
    """
    cfg = config or MonitorConfig()
    size = size_s or cfg.windows.size_s
    mode = baseline or cfg.windows.baseline
    d = cfg.drift
    offline = run_baseline(store.url, mode[4:]) if mode.startswith("run:") else None
    span = store.time_range(app)
    if span is None:
        return []
    origin = math.floor(span[0] / size) * size
    early: list[WindowReport] = []
    if last:
        # Only the newest windows are read, plus (streaming, stopping early) the history the baseline needs:
        # the maintenance loop calls this every few seconds and must not re-read the whole store.
        recent = max(origin, math.floor(span[1] / size) * size - (last - 1) * size)
        wins = compute_windows(store, app, size, start=recent)
        if offline is None and mode == "previous" and recent > origin:
            early = compute_windows(store, app, size, start=recent - size, end=recent)[-1:]
        elif offline is None and recent > origin:
            for w in aggregate(store.iter_window_rows(app, origin, recent), app, origin, size):
                if w.pass_rate.n_eff >= d.min_graded or w.graded >= d.min_graded:
                    early = [w]
                    break
    else:
        wins = compute_windows(store, app, size, start=origin)
    history = early + wins
    out: list[WindowWithDrift] = []
    for i in range(len(early), len(history)):
        w = history[i]
        base = offline if offline is not None else pick_baseline(history, i, mode, d.min_graded)
        drift = None
        if base is not None and base is not w:
            drift = compare_windows(
                base,
                w,
                alpha=d.alpha,
                correction=d.correction,
                min_graded=d.min_graded,
                baseline_name=mode if offline is not None else base.start_iso,
            )
            if (with_input_drift if with_input_drift is not None else d.input_drift) and offline is None:
                a = store.questions(app, base.start, base.end, 300)
                b = store.questions(app, w.start, w.end, 300)
                if len(a) >= d.min_graded and len(b) >= d.min_graded:
                    drift.input = input_drift(a, b, alpha=d.alpha, new_topic_similarity=d.new_topic_similarity)
        out.append(WindowWithDrift(window=w, drift=drift))
    return out


def evaluate_alerts(
    store: MonitorStore, config: MonitorConfig, *, app: str | None = None, last: int = 2, deliver: bool = True
) -> list[int]:
    """Run the per-window rules on the newest `last` windows of each app, then deliver due alerts."""
    mgr = AlertManager(store, config.alerts)
    fired: list[int] = []
    if any(r.kind in ("threshold", "drift") for r in config.alerts.rules):
        for a in [app] if app else store.apps():
            for wd in window_reports(store, config, app=a, last=last):
                fired += mgr.on_window(wd.window, wd.drift)
    if deliver:
        mgr.deliver_due()
    return fired


def close_idle_sessions(store: MonitorStore, idle_s: float, now: float | None = None) -> int:
    """Enqueue a close event for every chat session silent for `idle_s`; the worker then grades it whole."""
    import time

    from evalwheel.monitor.events import Event
    from evalwheel.monitor.queue import Decision

    cutoff = (time.time() if now is None else now) - idle_s
    batch = [
        (
            Event(
                request_id=f"{sid}#close",
                app=app,
                timestamp=last,
                session_id=sid,
                input="(session closed after the idle timeout)",
                metadata={"session_end": True, "closed_by": "idle"},
            ),
            Decision("session", True, 1.0, "always:session_end"),
        )
        for app, sid, last in store.idle_sessions(cutoff)
    ]
    return store.enqueue(batch)


def status(store: MonitorStore, app: str | None = None) -> dict[str, Any]:
    """Queue depth by state, results by status, apps, and the stored time range."""
    counts = store.counts(app)
    q = select(results.c.status).where(results.c.app == app) if app else select(results.c.status)
    by_status: dict[str, int] = {}
    with store.engine.connect() as conn:
        for (s,) in conn.execute(q):
            by_status[str(s)] = by_status.get(str(s), 0) + 1
    span = store.time_range(app)
    alerts = store.list_alerts(app, limit=1000)
    return {
        "store": store.safe_url,
        "apps": store.apps() if app is None else [app],
        "events": counts["events"],
        "queue": {k: counts[k] for k in ("pending", "leased", "done", "skipped")},
        "results": by_status,
        "first_event": span[0] if span else None,
        "last_event": span[1] if span else None,
        "alerts": {
            "total": len(alerts),
            "undelivered": sum(1 for a in alerts if a["state"] != "delivered"),
        },
    }


def sampled_events(store: MonitorStore, app: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The newest sampled events with their decision (reason, inclusion probability) and grade, if any."""
    q = (
        select(
            events.c.request_id,
            events.c.app,
            events.c.ts,
            events.c.stratum,
            events.c.inclusion_prob,
            events.c.reason,
            events.c.state,
            events.c.payload,
            results.c.status,
            results.c.scores_json,
        )
        .select_from(events.outerjoin(results, results.c.request_id == events.c.request_id))
        .where(events.c.sampled.is_(True))
        .order_by(events.c.ts.desc())
        .limit(limit)
    )
    if app is not None:
        q = q.where(events.c.app == app)
    with store.engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [
        {
            "request_id": r["request_id"],
            "app": r["app"],
            "timestamp": r["ts"],
            "stratum": r["stratum"],
            "inclusion_prob": r["inclusion_prob"],
            "reason": r["reason"],
            "state": r["state"],
            "event": json.loads(r["payload"]),
            "status": r["status"],
            "scores": json.loads(r["scores_json"]) if r["scores_json"] else [],
        }
        for r in rows
    ]


def alert_history(store: MonitorStore, app: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    return store.list_alerts(app, limit)


async def maintenance_loop(
    store: MonitorStore, config: MonitorConfig, stop: asyncio.Event, *, judges: bool = True, every_s: float = 5.0
) -> None:
    """Grade (in-process worker), then every `every_s` evaluate window alerts and retry alert deliveries."""
    from evalwheel.monitor.worker import Worker

    mgr = AlertManager(store, config.alerts)
    worker = Worker(store, config, judges=judges, on_results=mgr.on_results)
    stop_worker = asyncio.Event()
    task = asyncio.create_task(worker.run(stop_worker))
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
            try:
                await asyncio.to_thread(close_idle_sessions, store, config.session_idle_s)
                await asyncio.to_thread(evaluate_alerts, store, config)
            except Exception:
                log.exception("window evaluation failed")
    finally:
        stop_worker.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
        await worker.aclose()
