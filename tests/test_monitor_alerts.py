"""Alert rules, cooldown de-duplication, and a webhook sink that is down: retried, never lost."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

from evalwheel.monitor.alerts import AlertManager
from evalwheel.monitor.config import AlertsConfig
from evalwheel.monitor.queue import GradeResult, MonitorStore
from evalwheel.monitor.windows import RateStat, WindowReport
from test_monitor_helpers import free_port


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _config(port: int, fmt: str = "json") -> AlertsConfig:
    return AlertsConfig.model_validate(
        {
            "cooldown_s": 600,
            "rules": [
                {"name": "halluc", "kind": "event", "grader": "faithfulness", "severity": "critical"},
                {"name": "errors", "kind": "threshold", "metric": "error_rate", "op": ">", "value": 0.05},
            ],
            "sinks": [{"type": "log"}, {"type": "webhook", "url": f"http://127.0.0.1:{port}/hook", "format": fmt}],
        }
    )


def _failed(rid: str, grader: str) -> GradeResult:
    scores = [{"name": f"{grader}.x", "passed": False, "metadata": {"grader": grader}}]
    return GradeResult(rid, "support", 1.0, "failed", 0.0, 1.0, scores)


def test_webhook_down_then_up_alert_is_retried_not_lost(tmp_path: Path, store_url: str) -> None:
    port = free_port()
    st = MonitorStore(store_url)
    mgr = AlertManager(st, _config(port))
    fired = mgr.on_results([_failed("r1", "faithfulness"), _failed("r2", "constraints")])
    assert len(fired) == 1  # only the faithfulness failure matches the rule
    assert mgr.deliver_due() == 0  # nothing listens yet
    [row] = st.list_alerts()
    assert row["state"] == "pending" and row["attempts"] == 1 and "Connection refused" in row["last_error"]
    server = HTTPServer(("127.0.0.1", port), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert mgr.deliver_due(now=time.time()) == 0  # not due yet: backoff
        assert mgr.deliver_due(now=time.time() + 60) == 1
    finally:
        server.shutdown()
    [row] = st.list_alerts()
    assert row["state"] == "delivered" and row["attempts"] == 2
    assert _Hook.received[-1]["rule"] == "halluc" and _Hook.received[-1]["request_id"] == "r1"


def test_cooldown_dedupes_and_window_threshold_fires(store_url: str) -> None:
    st = MonitorStore(store_url)
    mgr = AlertManager(st, _config(free_port()))
    assert len(mgr.on_results([_failed("a", "faithfulness")])) == 1
    assert mgr.on_results([_failed("b", "faithfulness")]) == []  # same rule, app and grader inside the cooldown
    window = WindowReport(app="support", start=0, end=300, start_iso="t0", volume=100, errors=9, error_rate=0.09)
    window.pass_rate = RateStat()
    assert len(mgr.on_window(window, None)) == 1
    assert mgr.on_window(window, None) == []
    rules = {a["rule"] for a in st.list_alerts()}
    assert rules == {"halluc", "errors"}


def test_failed_deliveries_stop_after_max_attempts_and_stay_in_history(store_url: str) -> None:
    st = MonitorStore(store_url)
    cfg = _config(free_port())
    cfg.sinks[1].max_attempts = 2
    mgr = AlertManager(st, cfg)
    mgr.on_results([_failed("r", "faithfulness")])
    mgr.deliver_due()
    mgr.deliver_due(now=time.time() + 600)
    [row] = st.list_alerts()
    assert row["state"] == "failed" and row["attempts"] == 2


def test_slack_format_payload(tmp_path: Path) -> None:
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        st = MonitorStore(str(tmp_path / "m.sqlite"))
        mgr = AlertManager(st, _config(port, "slack"))
        mgr.on_results([_failed("r9", "faithfulness")])
        assert mgr.deliver_due() == 1
    finally:
        server.shutdown()
    assert set(_Hook.received[-1]) == {"text"} and "[critical]" in _Hook.received[-1]["text"]
