"""Alert rules, de-duplication and delivery.

An alert is written to the store before any sink is tried, so history is complete and a sink that is down
loses nothing: webhook deliveries are retried with exponential backoff (`deliver_due`, called by the server
loop and after each evaluation) until they succeed or reach `max_attempts` (then `failed`, still listed).
Alerts with the same de-duplication key (rule, app, metric or grader) are suppressed inside the cooldown.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from evalwheel.monitor.config import AlertRule, AlertsConfig, SinkConfig
from evalwheel.monitor.drift import DriftReport
from evalwheel.monitor.queue import GradeResult, MonitorStore
from evalwheel.monitor.windows import WindowReport, grader_outcomes

log = logging.getLogger("evalwheel.monitor.alerts")

_OPS = {">": float.__gt__, "<": float.__lt__, ">=": float.__ge__, "<=": float.__le__}


def window_metric(window: WindowReport, metric: str) -> float | None:
    """A window's value for a rule metric: error_rate, latency_p95, pass_rate, pass_rate:GRADER, ..."""
    if metric == "pass_rate":
        return window.pass_rate.estimate
    if metric.startswith("pass_rate:"):
        stat = window.graders.get(metric.split(":", 1)[1])
        return None if stat is None else stat.estimate
    value = getattr(window, metric, None)
    return float(value) if isinstance(value, int | float) else None


class AlertManager:
    def __init__(self, store: MonitorStore, config: AlertsConfig) -> None:
        self.store = store
        self.config = config

    # --------------------------------------------------------------------------------- evaluation

    def fire(
        self, rule: AlertRule, app: str, key: str, message: str, payload: dict[str, Any], now: float | None = None
    ) -> int | None:
        """Store an alert unless one with the same key fired within the cooldown; returns its id or None."""
        now = time.time() if now is None else now
        dedupe = f"{rule.name}|{app}|{key}"
        cooldown = rule.cooldown_s if rule.cooldown_s is not None else self.config.cooldown_s
        last = self.store.last_alert_time(dedupe)
        if last is not None and now - last < cooldown:
            return None
        body = {"rule": rule.name, "severity": rule.severity, "app": app, "message": message, **payload}
        alert_id = self.store.add_alert(
            {
                "rule": rule.name,
                "severity": rule.severity,
                "app": app,
                "dedupe_key": dedupe,
                "fired_at": now,
                "message": message,
                "payload": json.dumps(body, ensure_ascii=False, default=str),
                "state": "pending" if any(s.type == "webhook" for s in self.config.sinks) else "delivered",
                "attempts": 0,
                "next_attempt": now,
            }
        )
        level = logging.ERROR if rule.severity == "critical" else logging.WARNING
        log.log(level, "ALERT [%s] %s: %s", rule.severity, rule.name, message)
        return alert_id

    def on_results(self, results: Sequence[GradeResult]) -> list[int]:
        """Per-event rules: a failed grader (optionally one score name) on a graded event."""
        fired: list[int] = []
        rules = [r for r in self.config.rules if r.kind == "event"]
        if not rules:
            return fired
        for res in results:
            if res.status != "failed":
                continue
            outcomes = grader_outcomes(res.scores)
            failed_scores = {str(s.get("name")) for s in res.scores if s.get("passed") is False}
            for rule in rules:
                if rule.grader is not None and outcomes.get(rule.grader) is not False:
                    continue
                if rule.score is not None and rule.score not in failed_scores:
                    continue
                what = rule.grader or ",".join(sorted(g for g, o in outcomes.items() if o is False))
                msg = f"{res.app}: event {res.request_id} failed {what} ({', '.join(sorted(failed_scores))})"
                alert_id = self.fire(
                    rule, res.app, what, msg, {"request_id": res.request_id, "failed_scores": sorted(failed_scores)}
                )
                if alert_id is not None:
                    fired.append(alert_id)
        return fired

    def on_window(self, window: WindowReport, drift: DriftReport | None) -> list[int]:
        """Per-window rules: thresholds on a metric, and drift (a named metric, or any)."""
        fired: list[int] = []
        app = window.app or "*"
        for rule in self.config.rules:
            if rule.kind == "threshold" and rule.metric and rule.value is not None:
                value = window_metric(window, rule.metric)
                if value is not None and _OPS[rule.op](float(value), rule.value):
                    msg = f"{app}: {rule.metric} = {value:.4g} {rule.op} {rule.value:g} in window {window.start_iso}"
                    payload = {"metric": rule.metric, "value": value, "window": window.start_iso}
                    if (i := self.fire(rule, app, rule.metric, msg, payload)) is not None:
                        fired.append(i)
            elif rule.kind == "drift" and drift is not None:
                for m in drift.drifted:
                    if rule.metric is not None and m.metric != rule.metric:
                        continue
                    msg = (
                        f"{app}: {m.metric} drifted {m.baseline:.4g} -> {m.current:.4g} "
                        f"({m.test}, adjusted p={m.p_adjusted:.2g}) in window {window.start_iso}"
                    )
                    payload = {"metric": m.metric, "drift": m.model_dump(), "window": window.start_iso}
                    if (i := self.fire(rule, app, m.metric, msg, payload)) is not None:
                        fired.append(i)
                if drift.input is not None and drift.input.drifted and rule.metric in (None, "input"):
                    msg = f"{app}: input distribution shifted (new-topic share {drift.input.new_topic_share:.0%})"
                    payload = {"metric": "input", "input": drift.input.model_dump(), "window": window.start_iso}
                    if (i := self.fire(rule, app, "input", msg, payload)) is not None:
                        fired.append(i)
        return fired

    # ----------------------------------------------------------------------------------- delivery

    def deliver_due(self, now: float | None = None) -> int:
        """Try every pending alert whose retry time has come; returns how many were delivered."""
        now = time.time() if now is None else now
        webhooks = [s for s in self.config.sinks if s.type == "webhook"]
        delivered = 0
        for row in self.store.due_alerts(now):
            payload = json.loads(row["payload"])
            errors = []
            for sink in webhooks:
                try:
                    post_webhook(sink, payload)
                except Exception as exc:
                    errors.append(f"{sink.url}: {exc.__class__.__name__}: {exc}")
            attempts = int(row["attempts"]) + 1
            if not errors:
                self.store.update_alert(row["id"], state="delivered", attempts=attempts, last_error=None)
                delivered += 1
                continue
            max_attempts = min(s.max_attempts for s in webhooks)
            state = "failed" if attempts >= max_attempts else "pending"
            backoff = min(300.0, 0.5 * 2 ** (attempts - 1))
            self.store.update_alert(
                row["id"], state=state, attempts=attempts, next_attempt=now + backoff, last_error="; ".join(errors)
            )
            log.warning("alert %s not delivered (attempt %d): %s", row["id"], attempts, "; ".join(errors))
        return delivered


def post_webhook(sink: SinkConfig, payload: dict[str, Any]) -> None:
    """JSON POST; `format: slack` sends Slack's incoming-webhook shape ({"text": ...})."""
    if sink.url is None:
        raise ValueError("webhook sink without url")
    body = {"text": f"[{payload.get('severity')}] {payload.get('message')}"} if sink.format == "slack" else payload
    req = urllib.request.Request(
        sink.url,
        data=json.dumps(body, ensure_ascii=False, default=str).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=sink.timeout_s) as resp:
        if resp.status >= 300:
            raise urllib.error.HTTPError(sink.url, resp.status, "webhook refused", resp.headers, None)
