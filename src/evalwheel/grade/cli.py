"""`evalwheel grade LOGS --graders CONFIG`: batch-grade logged events or sessions (no solver).

Exit codes: 0 graded, 2 bad input (unreadable file, bad config, invalid rows without --skip-invalid),
3 the store or the Ray cluster failed part-way, 130 interrupted (Ctrl-C: no --out replaced). Heavy imports
(graders, SQLAlchemy, Ray) happen inside.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from evalwheel import eventloop
from evalwheel.cli_options import RequestTimeoutOption

err = Console(stderr=True)
out = Console()


def grade_command(
    logs: Annotated[Path, typer.Argument(help="JSONL or Parquet: monitoring events, or sessions (with `trajectory`).")],
    graders: Annotated[
        Path, typer.Option("--graders", help="YAML with `graders:` (events) and/or `session_graders:` (sessions).")
    ],
    executor: Annotated[str, typer.Option("--executor", metavar="local|ray", help="Grade here or on Ray.")] = "local",
    address: Annotated[
        str | None, typer.Option("--address", metavar="auto|ray://HOST:PORT", help="Ray cluster (default: local).")
    ] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write graded rows to FILE.parquet or FILE.jsonl.")
    ] = None,
    store: Annotated[
        str | None, typer.Option("--store", help="Store graded rows as a run (SQLAlchemy URL or file).")
    ] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Report bad rows and grade the rest.")] = False,
    chunk: Annotated[int, typer.Option("--chunk", min=1, help="Rows per batch (one Ray task each).")] = 256,
    shard_mb: Annotated[
        float,
        typer.Option("--shard-mb", min=0.001, max=2**20, help="--executor ray: MB of the file per task (default 8)."),
    ] = 8.0,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Rows graded at once per worker.")] = 16,
    judges: Annotated[bool, typer.Option("--judges/--no-judges", help="--no-judges skips LLM-judge graders.")] = True,
    timeout: RequestTimeoutOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
    otel_endpoint: Annotated[
        str | None,
        typer.Option(
            "--otel-endpoint",
            metavar="URL",
            help="--executor ray: export a span per file, shard and batch (driver and workers) over OTLP/HTTP.",
        ),
    ] = None,
) -> None:
    """Grade a logged file with no solver: streamed in chunks, results to Parquet/JSONL and/or the store."""
    from evalwheel.fileio import FileReadError
    from evalwheel.grade.api import grade_logs
    from evalwheel.grade.batch import LocalGrader, RayGrader
    from evalwheel.grade.logs import LogsError
    from evalwheel.grade.sinks import ABORTED, REFUSED, open_sink
    from evalwheel.monitor.config import ConfigError, load_monitor_config
    from evalwheel.runs.executors import ExecutorError
    from evalwheel.runs.writer import RunStoppedError
    from evalwheel.store import StoreError

    def fail(message: str, code: int = 2) -> typer.Exit:
        err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        return typer.Exit(code)

    if out_path is None and store is None:
        raise fail("say where results go: --out FILE.parquet|FILE.jsonl and/or --store URL")
    if executor not in ("local", "ray"):
        raise fail(f"--executor {executor!r}: choose one of local, ray")
    if address is not None and executor != "ray":
        raise fail("--address is only meaningful with --executor ray")
    if otel_endpoint is not None and executor != "ray":
        raise fail("--otel-endpoint is only meaningful with --executor ray (spans per shard and batch)")
    if otel_endpoint is not None and not otel_endpoint.startswith(("http://", "https://")):
        raise fail(f"--otel-endpoint {otel_endpoint!r}: expected an http(s):// URL (OTLP/HTTP)")
    if out_path is not None:
        from evalwheel.fileio import refuse_overwriting_input

        refuse_overwriting_input(out_path, [logs], option="--out")
    runner: LocalGrader | RayGrader = LocalGrader(concurrency=concurrency)
    if executor == "ray":
        runner = RayGrader(address, concurrency=concurrency, shard_bytes=int(shard_mb * 2**20))
    sinks = []
    status = ABORTED  # Ctrl-C or an unexpected error: no partial file replaces --out (sinks.ABORTED)
    try:
        config = load_monitor_config(graders)
        if timeout is not None:  # the command line wins over the config's judge_timeout_s
            config = config.model_copy(update={"judge_timeout_s": timeout})
        if executor == "ray":  # connect first: an unreachable cluster must not leave an empty output behind
            from evalwheel.runs.executors.ray import connect

            connect(address)
        sinks = open_sink(out_path, store, logs)
        outcome = eventloop.run(
            grade_logs(
                logs,
                config,
                sinks,
                executor=runner,
                skip_invalid=skip_invalid,
                chunk_size=chunk,
                judges=judges,
                parts_dir=out_path.with_name(out_path.name + ".parts") if out_path and executor == "ray" else None,
                otel_endpoint=otel_endpoint,
                on_invalid=lambda m: err.print(f"[yellow]skipped[/] {escape(str(logs))}: {escape(m)}", highlight=False),
            )
        )
        if outcome.graded == 0 and not outcome.invalid:  # refused: no empty output replaces an earlier one
            raise LogsError(f"{logs}: no rows to grade (the file is empty)")
        status = "finished"
    except (LogsError, ConfigError, ExecutorError, StoreError, FileReadError) as exc:
        if any(sink.written for sink in sinks):  # a stop after rows were written keeps them
            status = "interrupted"
            raise fail(f"{exc}; rows written so far are kept") from None
        status = REFUSED  # before any row: no output file replaced, no empty run left in the store
        raise fail(str(exc)) from None
    except RunStoppedError as exc:
        if any(sink.written for sink in sinks):
            status = "interrupted"
            raise fail(f"grading stopped: {exc}; rows written so far are kept", 3) from None
        status = REFUSED  # e.g. a Ray shard failed before the merge: nothing was written, nothing replaced
        raise fail(f"grading stopped: {exc}; nothing was written", 3) from None
    except KeyboardInterrupt:
        earlier = " (the earlier file of that name is kept)" if out_path and out_path.exists() else ""
        where = f"; {out_path} was not written{earlier}" if out_path else ""
        kept = "".join(
            f"; the {s.written} rows already stored are kept as interrupted run {s.run_id}"
            for s in sinks
            if hasattr(s, "run_id") and s.written
        )
        raise fail(f"interrupted{where}{kept}", 130) from None
    finally:
        if otel_endpoint is not None:
            from evalwheel.tracing import shutdown

            shutdown()  # flush the driver's span
        close_failed: list[str] = []
        for sink in sinks:
            try:
                sink.close(status)
            except Exception as exc:  # closing must not hide the error that stopped grading
                if status == "finished":  # ...but it is the error when grading succeeded (a full disk at the end)
                    close_failed.append(str(exc))
                else:
                    err.print(f"[yellow]warning:[/] closing the output failed: {escape(str(exc))}")
    if close_failed:
        raise fail(f"graded, but finishing the output failed: {'; '.join(close_failed)}", 3)
    run_id = next((s.run_id for s in sinks if hasattr(s, "run_id")), None)
    payload = {
        "graded": outcome.graded,
        "counts": dict(outcome.counts),
        "invalid": len(outcome.invalid),
        "wall_s": outcome.wall_s,
        "rows_per_s": round(outcome.graded / outcome.wall_s, 1) if outcome.wall_s else None,
        "run_id": run_id,
        "out": str(out_path) if out_path else None,
    }
    if as_json:
        out.print_json(json.dumps(payload))
        return
    counts = ", ".join(f"{k} {v}" for k, v in sorted(outcome.counts.items())) or "nothing"
    out.print(f"graded {outcome.graded} rows in {outcome.wall_s} s ({counts}); {len(outcome.invalid)} invalid skipped")
    if out_path:
        out.print(f"rows: {escape(str(out_path))}")
    if run_id:
        from evalwheel.store.errors import redact_url

        out.print(f"run: {run_id} (evalwheel runs show {run_id} --store {escape(redact_url(str(store)))})")
