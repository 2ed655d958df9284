"""Production monitoring: ingest, sampling, a durable queue, grading, windows, drift, alerts, failures.

The offline half's pieces are reused as they are: events are pydantic models, sampled events are graded by
the grader registry with the offline spec's grader entries, results and alerts live in the run store's
database, and failures leave as regression samples through the dataset code (golden lock intact).

Public surface (import from `evalwheel.monitor`; heavy modules load on first use):

    MonitorStore(url_or_path | None)                      the monitoring tables on a store URL (created on open)
    load_monitor_config(path | None) -> MonitorConfig      YAML config (sampler, graders, windows, drift, alerts)
    Event, assemble_sessions(events) -> list[Session]     the event model; turn events -> Study Mode sessions
    Monitor(endpoint, app, token=None, ...)                SDK: .log(dict | **fields), @.trace, .flush(), .stats()
    create_app(store, config, token=None, worker=True) -> FastAPI   the ingest server (uvicorn-ready)
    Ingestor(store, config); ingest_router(ingestor, token=None) -> APIRouter
                                                           mount the ingest routes in another FastAPI app
    Worker(store, config, judges=True).drain() / .run(stop)       grade sampled events
    window_reports(store, config=None, *, app=None, size_s=None, baseline=None, last=None)
        -> list[WindowWithDrift]                           window aggregates (+ .drift against the baseline)
    evaluate_alerts(store, config, *, app=None) -> list[int]   per-window rules + delivery of due alerts
    alert_history(store, app=None, limit=100) -> list[dict]
    sampled_events(store, app=None, limit=100) -> list[dict]
    failure_candidates(store, *, app=None, dataset=None, embed=True) -> list[FailureCandidate]
    promote(store, request_ids, *, dataset, partition="regression", root_cause) -> PromotionReport
    status(store, app=None) -> dict
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evalwheel.monitor.sdk import Monitor  # the SDK stays light: stdlib only, everything else loads on use

if TYPE_CHECKING:
    from evalwheel.monitor.config import ConfigError, MonitorConfig, load_monitor_config
    from evalwheel.monitor.events import Event, assemble_sessions
    from evalwheel.monitor.failures import (
        FailureCandidate,
        PromotionError,
        PromotionReport,
        failure_candidates,
        promote,
    )
    from evalwheel.monitor.queue import MonitorStore
    from evalwheel.monitor.server import Ingestor, create_app, ingest_router
    from evalwheel.monitor.service import (
        WindowWithDrift,
        alert_history,
        evaluate_alerts,
        sampled_events,
        status,
        window_reports,
    )
    from evalwheel.monitor.worker import Worker

_LAZY = {
    "ConfigError": "evalwheel.monitor.config",
    "MonitorConfig": "evalwheel.monitor.config",
    "load_monitor_config": "evalwheel.monitor.config",
    "Event": "evalwheel.monitor.events",
    "assemble_sessions": "evalwheel.monitor.events",
    "MonitorStore": "evalwheel.monitor.queue",
    "Ingestor": "evalwheel.monitor.server",
    "create_app": "evalwheel.monitor.server",
    "ingest_router": "evalwheel.monitor.server",
    "Worker": "evalwheel.monitor.worker",
    "WindowWithDrift": "evalwheel.monitor.service",
    "window_reports": "evalwheel.monitor.service",
    "evaluate_alerts": "evalwheel.monitor.service",
    "alert_history": "evalwheel.monitor.service",
    "sampled_events": "evalwheel.monitor.service",
    "status": "evalwheel.monitor.service",
    "FailureCandidate": "evalwheel.monitor.failures",
    "PromotionError": "evalwheel.monitor.failures",
    "PromotionReport": "evalwheel.monitor.failures",
    "failure_candidates": "evalwheel.monitor.failures",
    "promote": "evalwheel.monitor.failures",
}


def __getattr__(name: str) -> Any:
    """Load names on first use (pydantic, sqlalchemy, fastapi behind them), so importing the SDK stays light."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'evalwheel.monitor' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "ConfigError",
    "Event",
    "FailureCandidate",
    "Ingestor",
    "Monitor",
    "MonitorConfig",
    "MonitorStore",
    "PromotionError",
    "PromotionReport",
    "WindowWithDrift",
    "Worker",
    "alert_history",
    "assemble_sessions",
    "create_app",
    "evaluate_alerts",
    "failure_candidates",
    "ingest_router",
    "load_monitor_config",
    "promote",
    "sampled_events",
    "status",
    "window_reports",
]
