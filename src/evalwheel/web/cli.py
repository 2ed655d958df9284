"""`evalwheel serve`: the review workspace on uvicorn.

Kept free of FastAPI / SQLAlchemy imports at module level (the CLI imports this on every start).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from evalwheel.cli_options import RequestTimeoutOption, check_model_option

TOKEN_ENV = "EVALWHEEL_SERVE_TOKEN"


def serve_command(
    store: Annotated[
        str | None, typer.Option("--store", help="SQLAlchemy URL or SQLite file of the run store.")
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Bind address; anything but loopback needs --token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8765,
    token: Annotated[
        str | None, typer.Option("--token", help=f"Server token required on every request (or ${TOKEN_ENV}).")
    ] = None,
    ingest_only: Annotated[
        bool, typer.Option("--ingest-only", help="Serve only the monitoring ingest endpoints (production).")
    ] = False,
    monitor_config: Annotated[
        Path | None, typer.Option("--monitor-config", help="Monitoring YAML for the mounted ingest routes.")
    ] = None,
    golden_dir: Annotated[
        Path | None, typer.Option("--golden-dir", help="Folder golden promotions may write into (default: cwd).")
    ] = None,
    create_store: Annotated[
        bool,
        typer.Option("--create-store", help="Start a new store if there is none at --store (--ingest-only does)."),
    ] = False,
    study_model: Annotated[
        str | None,
        typer.Option(
            "--study-model",
            help="Tutor model of the /study chat [default: $EVALWHEEL_STUDY_MODEL, else local, or openai:... "
            "with a key].",
        ),
    ] = None,
    timeout: RequestTimeoutOption = None,
) -> None:
    """Serve the review workspace: runs, run, sample, compare, trends, monitor and the review queue."""
    from evalwheel.serving import check_bind, listen, serve
    from evalwheel.termio import fail

    if study_model is not None:
        check_model_option(study_model, "--study-model")  # a typo: exit 2 now, not an error in the learner's chat
    token = token or os.environ.get(TOKEN_ENV) or None
    check_bind(host, token, token_source=f"--token or ${TOKEN_ENV}")  # refused: exit 2 (cli_lazy)
    if golden_dir is not None and not golden_dir.is_dir():  # else the server starts and every promotion fails
        cause = "a file, not a folder" if golden_dir.exists() else "no such folder"
        typer.echo(f"error: --golden-dir {golden_dir}: {cause}", err=True)
        raise typer.Exit(2)

    from evalwheel.monitor import ConfigError
    from evalwheel.store import StoreError
    from evalwheel.web.app import create_app

    if not (create_store or ingest_only):  # as the read-only verbs: a typo is not a new, empty store to serve
        from evalwheel.store.store import require_existing_store

        try:
            require_existing_store(store)
        except StoreError as exc:
            raise fail(f"{exc}; --create-store starts a new one") from None
    try:
        app = create_app(
            store,
            token=token,
            ingest_only=ingest_only,
            golden_dir=golden_dir,
            monitor_config=monitor_config,
            study_model=study_model,
            study_timeout=timeout,
        )
    except (StoreError, ConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    sock = listen(host, port)
    port = sock.getsockname()[1]
    typer.echo(f"evalwheel workspace on http://{host}:{port} (store {app.state.review.runs.safe_url})", err=True)
    serve(app, sock)
