"""`evalwheel monitor serve|worker|status|windows|alerts|failures|promote`, each with `--json`.

Mounted by the main CLI as `app.add_typer(monitor_app, name="monitor")`. Heavy modules (sqlalchemy, fastapi,
uvicorn, numpy) are imported inside the commands so `evalwheel --help` stays fast. Exit codes: 0 ok, 2 bad
input (config, store, ids, partition, a --host/--port that cannot be bound; the message names the field), 3 the
server stopped with an error.

Every verb closes the store it opens (`with closing(...)`) before it returns or fails. Why: the CLI skips the
final garbage collection (evalwheel.closing), so a store merely dropped kept its engine to the end, never
disposed: its SQLite connection stayed open and left the -wal / -shm files beside the store. `serve` closes it
when the server stops on Ctrl-C or fails, and on SIGTERM through `serving.serve`.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evalwheel.termio import fail

if TYPE_CHECKING:
    from evalwheel.monitor.worker import Worker

EXIT_BAD_INPUT, EXIT_RUN_ERRORS = 2, 3

monitor_app = typer.Typer(
    help="Production monitoring: ingest traffic, grade a sample, watch windows and drift, promote failures.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

StoreOpt = Annotated[
    str | None, typer.Option("--store", help="SQLAlchemy URL or SQLite file (default .evalwheel/runs.sqlite).")
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Monitor YAML (sampler, graders, alerts).")]
AppOpt = Annotated[str | None, typer.Option("--app", help="Only this app.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


_fail = fail

QueueOpt = Annotated[
    str | None,
    typer.Option(
        "--queue",
        envvar="EVALWHEEL_MONITOR_QUEUE",
        help="redis://HOST:PORT/DB: hand sampled events to workers on a Redis stream (default: the store's table).",
    ),
]


def _open(store: str | None, queue: str | None = None, *, must_exist: bool = True) -> Any:
    """The monitoring store; read-only verbs (the default) refuse a --store path that does not exist yet, as
    `runs list` does: `monitor status --store typo.sqlite` used to create an empty store and report nothing."""
    from evalwheel.monitor.redis_queue import open_monitor_store
    from evalwheel.store import StoreError

    try:
        return open_monitor_store(store, queue, must_exist=must_exist)
    except StoreError as exc:
        raise _fail(str(exc)) from None


def _config(path: Path | None) -> Any:
    from evalwheel.monitor.config import ConfigError, load_monitor_config

    try:
        return load_monitor_config(path)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@monitor_app.command("serve")
def serve_command(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    host: Annotated[str, typer.Option("--host", help="Bind address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8765,
    token: Annotated[
        str | None, typer.Option("--token", envvar="EVALWHEEL_MONITOR_TOKEN", help="Required beyond loopback.")
    ] = None,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="Grade, window and alert in-process.")] = True,
    judges: Annotated[bool, typer.Option("--judges/--no-judges", help="--no-judges skips LLM-judge graders.")] = True,
    max_body: Annotated[int, typer.Option("--max-body-bytes", min=1024)] = 8 * 1024 * 1024,
    max_pending: Annotated[
        int, typer.Option("--max-pending", min=1, help="Events waiting to be stored before 429.")
    ] = 50_000,
    as_json: JsonOpt = False,
    queue: QueueOpt = None,
) -> None:
    """Run the ingest server: POST /v1/events, POST /v1/traces (OTLP), GET /healthz, GET /metrics."""
    from evalwheel.monitor.server import create_app
    from evalwheel.serving import check_bind, listen, serve

    check_bind(host, token, token_source="--token or EVALWHEEL_MONITOR_TOKEN")  # refused: exit 2 (cli_lazy)
    cfg = _config(config)
    with closing(_open(store, queue, must_exist=False)) as mstore:  # ingest and workers start a new store
        if worker:
            from evalwheel.monitor.config import ConfigError
            from evalwheel.monitor.worker import bind_graders

            try:
                bind_graders(cfg, judges=False)
            except ConfigError as exc:
                raise _fail(str(exc)) from None
        app = create_app(
            mstore, cfg, token=token, max_body_bytes=max_body, max_pending=max_pending, worker=worker, judges=judges
        )
        sock = listen(host, port)
        port = sock.getsockname()[1]
        info = {"url": f"http://{host}:{port}", "store": mstore.safe_url, "worker": worker}
        if as_json:
            _echo_json(info)
        else:
            state = "on" if worker else "off"
            err.print(escape(f"evalwheel monitor on {info['url']} (store {mstore.safe_url}, worker {state})"))
        try:
            serve(app, sock, access_log=False)
        except (OSError, SystemExit) as exc:
            raise _fail(f"cannot serve on {host}:{port}: {exc}", EXIT_RUN_ERRORS) from None


async def _work(w: Worker, once: bool) -> None:
    """Grade until the queue is empty (`once`), or until SIGINT / SIGTERM; the judges' HTTP clients are closed
    either way."""
    import asyncio
    import signal

    try:
        if once:
            await w.drain()
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await w.run(stop)
    finally:
        await w.aclose()


@monitor_app.command("worker")
def worker_command(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    once: Annotated[bool, typer.Option("--once", help="Grade until the queue is empty, then exit.")] = False,
    judges: Annotated[bool, typer.Option("--judges/--no-judges")] = True,
    batch: Annotated[int, typer.Option("--batch", min=1)] = 64,
    as_json: JsonOpt = False,
    lease_s: Annotated[
        float, typer.Option("--lease-s", min=0.1, help="A dead worker's batch is claimed again after this.")
    ] = 60.0,
    worker_id: Annotated[str | None, typer.Option("--worker-id", help="Name in leases and results.")] = None,
    queue: QueueOpt = None,
) -> None:
    """Grade sampled events (run several against one PostgreSQL store to scale out)."""
    from evalwheel import eventloop
    from evalwheel.monitor.alerts import AlertManager
    from evalwheel.monitor.config import ConfigError
    from evalwheel.monitor.worker import Worker

    cfg = _config(config)
    # Closed on every way out (done, bad grader config, an error, Ctrl-C), as in every verb here (module docstring).
    with closing(_open(store, queue, must_exist=False)) as mstore:  # ingest and workers start a new store
        mgr = AlertManager(mstore, cfg.alerts)
        try:
            w = Worker(
                mstore, cfg, judges=judges, batch=batch, on_results=mgr.on_results, lease_s=lease_s, worker_id=worker_id
            )
        except ConfigError as exc:
            raise _fail(str(exc)) from None
        eventloop.run(_work(w, once))
        mgr.deliver_due()
    stats = {"worker": w.id, "graded": w.stats.graded, "stored": w.stats.inserted, "by_status": w.stats.by_status}
    if as_json:
        _echo_json(stats)
    else:
        out.print(f"graded {w.stats.graded} event(s) ({w.stats.inserted} new results): {w.stats.by_status}")


@monitor_app.command("status")
def status_command(store: StoreOpt = None, app: AppOpt = None, as_json: JsonOpt = False) -> None:
    """Events, queue depth, results and alerts in the store."""
    from evalwheel.monitor.service import status

    with closing(_open(store)) as mstore:
        data = status(mstore, app)
    if as_json:
        _echo_json(data)
        return
    out.print(f"store {data['store']} · apps: {', '.join(data['apps']) or 'none'} · events {data['events']}")
    out.print("queue: " + ", ".join(f"{k} {v}" for k, v in data["queue"].items()), highlight=False)
    out.print("results: " + (", ".join(f"{k} {v}" for k, v in data["results"].items()) or "none"), highlight=False)
    out.print(f"alerts: {data['alerts']['total']} ({data['alerts']['undelivered']} not delivered)", highlight=False)


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:.1%}" if pct else f"{x:.4g}"


@monitor_app.command("windows")
def windows_command(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    app: AppOpt = None,
    size: Annotated[float | None, typer.Option("--size", help="Window length in seconds (config default 300).")] = None,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="first | previous | run:RUN_ID (config default first).")
    ] = None,
    last: Annotated[int | None, typer.Option("--last", min=1, help="Only the newest N windows.")] = None,
    input_drift: Annotated[bool, typer.Option("--input-drift", help="MiniLM input-distribution test.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Per-window volume, re-weighted pass rates with CIs, latency, errors, cost, and drift vs the baseline."""
    from pydantic import ValidationError

    from evalwheel.monitor.config import WindowConfig
    from evalwheel.monitor.service import window_reports
    from evalwheel.store import StoreError

    cfg = _config(config)
    try:  # the options are checked by the config's own rules: --size 0, nan or -5 and --baseline typo were accepted
        win = WindowConfig.model_validate(
            {"size_s": cfg.windows.size_s if size is None else size, "baseline": baseline or cfg.windows.baseline}
        )
    except ValidationError as exc:
        e = exc.errors()[0]
        option = "--size" if e["loc"][0] == "size_s" else "--baseline"
        raise _fail(f"{option} {e['input']!r}: {e['msg'].removeprefix('Value error, ')}") from None
    with closing(_open(store)) as mstore:
        try:
            reports = window_reports(
                mstore,
                cfg,
                app=app,
                size_s=win.size_s,
                baseline=win.baseline,
                last=last,
                with_input_drift=input_drift or None,
            )
        except StoreError as exc:
            raise _fail(str(exc)) from None
    if as_json:
        _echo_json([r.model_dump(mode="json") for r in reports])
        return
    table = Table(title="monitor windows (pass rate re-weighted by 1/inclusion probability)")
    for col in ("window (UTC)", "volume", "graded", "pass rate [95% CI]", "errors", "p95 ms", "drifted"):
        table.add_column(
            col, justify="left" if col in ("window (UTC)", "drifted") else "right", no_wrap=col != "drifted"
        )
    for r in reports:
        w = r.window
        pr = w.pass_rate
        rate = f"{_fmt(pr.estimate, True)} [{_fmt(pr.low, True)}, {_fmt(pr.high, True)}]"
        drifted = ", ".join(f"{m.metric} (p={m.p_adjusted:.1g})" for m in r.drift.drifted) if r.drift else ""
        table.add_row(
            w.start_iso[:16].replace("T", " "),
            str(w.volume),
            str(w.graded),
            rate,
            _fmt(w.error_rate, True),
            _fmt(w.latency_p95),
            drifted,
        )
    out.print(table)


@monitor_app.command("alerts")
def alerts_command(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    app: AppOpt = None,
    evaluate: Annotated[
        bool, typer.Option("--evaluate", help="Run the window rules now and retry due deliveries first.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Alert history (newest first); --evaluate fires window rules on the latest windows first."""
    from evalwheel.monitor.service import alert_history, evaluate_alerts

    cfg = _config(config) if config is not None else None  # a bad --config fails (exit 2) even without --evaluate
    with closing(_open(store)) as mstore:
        if evaluate:
            if cfg is None:
                raise _fail("--evaluate needs --config (the alert rules)")
            evaluate_alerts(mstore, cfg, app=app)
        rows = alert_history(mstore, app, limit)
    if as_json:
        _echo_json(rows)
        return
    table = Table(title="alerts")
    for col in ("id", "fired", "severity", "rule", "state", "message"):
        table.add_column(col, overflow="fold")
    from evalwheel.monitor.windows import iso

    for a in rows:
        table.add_row(str(a["id"]), iso(a["fired_at"]), a["severity"], a["rule"], a["state"], a["message"])
    out.print(table)


@monitor_app.command("failures")
def failures_command(
    store: StoreOpt = None,
    app: AppOpt = None,
    dataset: Annotated[Path | None, typer.Option("--dataset", help="Mark candidates already in this dataset.")] = None,
    embed: Annotated[bool, typer.Option("--embed/--no-embed", help="Cluster with MiniLM (else exact text).")] = True,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 500,
    as_json: JsonOpt = False,
) -> None:
    """Failing graded events as regression candidates, clustered and de-duplicated."""
    from evalwheel.monitor.failures import PromotionError, failure_candidates

    with closing(_open(store)) as mstore:
        try:
            cands = failure_candidates(mstore, app=app, dataset=dataset, embed=embed, limit=limit)
        except PromotionError as exc:
            raise _fail(str(exc)) from None
    if as_json:
        _echo_json([c.model_dump(mode="json") for c in cands])
        return
    table = Table(title=f"failure candidates ({len(cands)}; * = cluster representative)")
    for col in ("event id", "cluster", "failed", "input", "duplicate of", "promoted"):
        table.add_column(col, overflow="fold")
    for c in cands:
        table.add_row(
            c.request_id + (" *" if c.representative else ""),
            f"{c.cluster} ({c.cluster_size})",
            ", ".join(c.failed_scores),
            c.input[:80],
            c.duplicate_of or "",
            "yes" if c.promoted_to else "",
        )
    out.print(table)


@monitor_app.command("promote")
def promote_command(
    ids: Annotated[list[str] | None, typer.Argument(help="Event ids (see `evalwheel monitor failures`).")] = None,
    dataset: Annotated[Path, typer.Option("--dataset", help="Dataset JSONL to append to.")] = Path("dataset.jsonl"),
    partition: Annotated[str, typer.Option("--partition", help="regression (default), adversarial, distribution.")] = (
        "regression"
    ),
    root_cause: Annotated[str, typer.Option("--root-cause", help="Why they failed (stored with each sample).")] = "",
    representatives: Annotated[
        bool, typer.Option("--representatives", help="Promote every cluster representative not yet promoted.")
    ] = False,
    store: StoreOpt = None,
    app: AppOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Append failing events to a dataset's regression partition, with provenance (never golden)."""
    from evalwheel.monitor.failures import PromotionError, failure_candidates, promote

    chosen = list(ids or [])
    with closing(_open(store)) as mstore:
        try:
            if representatives:
                cands = failure_candidates(mstore, app=app, dataset=dataset if dataset.exists() else None)
                chosen += [
                    c.request_id for c in cands if c.representative and not c.promoted_to and c.duplicate_of is None
                ]
            if not chosen:
                raise _fail("no event ids given (pass IDS or --representatives)")
            report = promote(mstore, chosen, dataset=dataset, partition=partition, root_cause=root_cause)
        except PromotionError as exc:
            raise _fail(str(exc)) from None
    if as_json:
        _echo_json(report.model_dump(mode="json"))
        return
    out.print(f"promoted {len(report.promoted)} event(s) to {report.partition} in {report.dataset}", highlight=False)
    for rid, why in report.skipped.items():
        out.print(f"  skipped {rid}: {why}", highlight=False)


if __name__ == "__main__":  # `python -m evalwheel.monitor.cli serve ...` (tests and benchmarks start servers this way)
    monitor_app()
