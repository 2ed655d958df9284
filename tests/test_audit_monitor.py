"""Audit of production monitoring (ingest, SDK, alert rules, promote): each test is a defect found by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from evalwheel.monitor import Monitor
from evalwheel.monitor.config import ConfigError, load_monitor_config
from evalwheel.monitor.events import Event
from evalwheel.monitor.failures import promote
from evalwheel.monitor.queue import Decision, MonitorStore
from test_monitor_helpers import monitor_server
from test_monitor_server import post


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evalwheel.monitor.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_out_of_range_timestamps_latency_and_cost_are_refused_with_422(tmp_path: Path) -> None:
    """`timestamp: 1e20` (or milliseconds, or -1e300) was stored with 202 and then every `monitor windows` and the
    server's own alert loop died with OverflowError; NaN / Infinity timestamps got 503 "store unavailable" (the SDK
    retried them for five minutes); Infinity latency and cost were stored."""
    store = str(tmp_path / "m.sqlite")
    ev = {"request_id": "r", "app": "shop", "input": "q"}
    with monitor_server(store, "--no-worker") as (url, _):
        for field, raw in [
            ("timestamp", b"1e20"),
            ("timestamp", b"1733300000000"),  # milliseconds
            ("timestamp", b"-1e300"),
            ("timestamp", b"NaN"),
            ("timestamp", b"Infinity"),
            ("latency_ms", b"Infinity"),
            ("cost_usd", b"Infinity"),
        ]:
            body = json.dumps(ev)[:-1].encode() + b', "' + field.encode() + b'": ' + raw + b"}"
            code, reply = post(url + "/v1/events", body)
            assert code == 422, (field, raw, code, reply)
            assert [d["field"] for d in json.loads(reply)["detail"]] == [field]
        assert post(url + "/v1/events", {**ev, "request_id": "ok", "timestamp": 1733300000.5})[0] == 202
    with closing(MonitorStore(store)) as st:
        assert list(st.get_events(["r", "ok"])) == ["ok"]
    res = _cli("windows", "--store", store, "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr


def test_the_sdk_drops_only_the_invalid_event_of_a_batch(tmp_path: Path) -> None:
    """One bad event (feedback score 5) made the server refuse its whole batch with 422, and the SDK then dropped
    every valid event sent with it (here 200 of 201)."""
    store = str(tmp_path / "m.sqlite")
    with monitor_server(store, "--no-worker") as (url, _):
        m = Monitor(url, "shop", flush_interval_s=0.05)
        for i in range(100):
            m.log(request_id=f"ok-{i}", input=f"q{i}")
        m.log(request_id="bad", input="q", feedback={"score": 5})
        for i in range(100, 200):
            m.log(request_id=f"ok-{i}", input=f"q{i}")
        m.close(timeout=60)
        stats = m.stats()
    assert stats["sent"] == 200 and stats["dropped_refused"] == 1
    with closing(MonitorStore(store)) as st:
        assert len(st.get_events([f"ok-{i}" for i in range(200)])) == 200


@pytest.mark.parametrize(
    ("rule_or_sink", "needle"),
    [
        ({"rules": [{"name": "t", "kind": "threshold", "metric": "eror_rate", "value": 0.05}]}, "eror_rate"),
        ({"rules": [{"name": "t", "kind": "threshold", "metric": "error_rate"}]}, "value"),
        ({"rules": [{"name": "t", "kind": "threshold", "value": 0.5}]}, "metric"),
        ({"rules": [{"name": "d", "kind": "drift", "metric": "pass_rate:constrains"}]}, "constrains"),
        ({"rules": [{"name": "d", "kind": "drift", "metric": "latency_p95"}]}, "latency_p95"),
        ({"rules": [{"name": "e", "kind": "event", "grader": "constrains"}]}, "constrains"),
        ({"sinks": [{"type": "webhook"}]}, "url"),
        ({"sinks": [{"type": "webhook", "url": "not a url"}]}, "url"),
    ],
)
def test_alert_rules_that_can_never_fire_are_refused(tmp_path: Path, rule_or_sink: dict, needle: str) -> None:
    """A threshold on a misspelt metric, without a value, a drift rule on a grader that is not configured, or a
    webhook without a URL were accepted, and the rule then never fired (or the alert never left): silently."""
    cfg = tmp_path / "m.yaml"
    cfg.write_text(json.dumps({"graders": [{"name": "constraints"}], "alerts": rule_or_sink}), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_monitor_config(cfg)
    assert needle in str(info.value) and str(cfg) in str(info.value)
    res = _cli("alerts", "--config", str(cfg), "--store", str(tmp_path / "s.sqlite"), cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr and needle in res.stderr


def test_valid_alert_rules_still_load(tmp_path: Path) -> None:
    cfg = tmp_path / "m.yaml"
    rules = [
        {"name": "a", "kind": "threshold", "metric": "error_rate", "value": 0.05},
        {"name": "b", "kind": "threshold", "metric": "pass_rate:constraints", "op": "<", "value": 0.9},
        {"name": "c", "kind": "threshold", "metric": "latency_p95", "value": 2000},
        {"name": "d", "kind": "drift", "metric": "pass_rate:constraints"},
        {"name": "e", "kind": "drift"},
        {"name": "f", "kind": "drift", "metric": "input"},
        {"name": "g", "kind": "event", "grader": "constraints", "score": "constraints.min_words"},
    ]
    sinks = [{"type": "log"}, {"type": "webhook", "url": "https://hooks.example/x", "format": "slack"}]
    cfg.write_text(json.dumps({"graders": [{"name": "constraints"}], "alerts": {"rules": rules, "sinks": sinks}}))
    assert len(load_monitor_config(cfg).alerts.rules) == 7


def test_promote_does_not_mistake_a_different_event_for_one_already_promoted(tmp_path: Path) -> None:
    """Request ids `order/1`, `order 1` and `order-1` all became sample id `mon-order-1`: after promoting one, the
    others were skipped as "already in d.jsonl" (never promoted, exit 0), or promoting two together failed with
    a duplicate sample id."""
    with closing(MonitorStore(str(tmp_path / "m.sqlite"))) as st:
        rids = ["order/1", "order 1", "order-1"]
        st.enqueue(
            [(Event(request_id=r, app="shop", input=f"question {r}"), Decision("shop", True, 1.0, "t")) for r in rids]
        )
        ds = tmp_path / "d.jsonl"
        first = promote(st, ["order/1"], dataset=ds, root_cause="r")
        report = promote(st, ["order 1", "order-1"], dataset=ds, root_cause="r")
        assert report.skipped == {} and report.promoted == ["order 1", "order-1"]
        again = promote(st, rids, dataset=ds, root_cause="r")
        assert again.promoted == [] and set(again.skipped) == set(rids)
    rows = [json.loads(line) for line in ds.read_text(encoding="utf-8").splitlines()]
    assert [r["metadata"]["monitor"]["event_id"] for r in rows] == rids
    assert len({r["id"] for r in rows}) == 3 and first.sample_ids[0] != "mon-order-1"
    assert "mon-order-1" in {r["id"] for r in rows}  # a clean id keeps its sample id


def test_windows_leave_out_events_stored_with_an_impossible_time(tmp_path: Path) -> None:
    """A store written before ingest refused them can hold a milliseconds or garbage timestamp: `monitor windows`
    was an OverflowError traceback on it; such events are now left out of the windows."""
    import sqlite3

    store = str(tmp_path / "m.sqlite")
    with monitor_server(store, "--no-worker") as (url, _):
        for i, ts in enumerate([1733300000.0, 1733300010.0, 1733300020.0]):
            assert post(url + "/v1/events", {"request_id": f"r{i}", "app": "shop", "input": "q", "timestamp": ts})[0] == 202
    with closing(sqlite3.connect(store)) as db, db:
        db.execute("UPDATE mon_events SET ts = 1e19 WHERE request_id = 'r1'")  # accepted before ingest checked them
        db.execute("UPDATE mon_events SET ts = 1.7333e12 WHERE request_id = 'r2'")  # milliseconds
    res = _cli("windows", "--store", store, "--json", "--size", "60", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    windows = json.loads(res.stdout)
    assert sum(w["window"]["volume"] for w in windows) == 1
