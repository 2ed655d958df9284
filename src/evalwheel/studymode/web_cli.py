"""`evalwheel study-web`: the learner-facing Study Mode chat on its own small server.

Kept free of FastAPI / uvicorn / SQLAlchemy imports at module level (the CLI imports it on every start).
"""

from __future__ import annotations

import os
from contextlib import closing
from typing import Annotated

import typer

from evalwheel.cli_options import RequestTimeoutOption

TOKEN_ENV = "EVALWHEEL_SERVE_TOKEN"


def study_web_command(
    store: Annotated[
        str | None, typer.Option("--store", help="SQLAlchemy URL or SQLite file where sessions are logged.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Tutor model [default: local, or openai:... with a key].")
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Bind address; anything but loopback needs --token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8766,
    token: Annotated[
        str | None, typer.Option("--token", help=f"Token required on every request (or ${TOKEN_ENV}).")
    ] = None,
    monitor: Annotated[
        str | None, typer.Option("--monitor", metavar="URL", help="Also send ended sessions to a monitor.")
    ] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, help="Cap on each tutor reply.")] = 300,
    timeout: RequestTimeoutOption = None,
) -> None:
    """Serve the Study Mode web chat (/study): profile, Study Mode toggle, streamed replies, memory, logging."""
    from evalwheel.serving import check_bind, listen, serve

    token = token or os.environ.get(TOKEN_ENV) or None
    check_bind(host, token, token_source=f"--token or ${TOKEN_ENV}")  # refused: exit 2 (cli_lazy)

    from evalwheel.models.base import GenerateConfig
    from evalwheel.store import Store, StoreError
    from evalwheel.studymode.web.app import create_study_app
    from evalwheel.studymode.web.service import StudyService

    try:
        runs = Store(store)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    from evalwheel.models.base import ModelConfigError
    from evalwheel.models.registry import default_model_name, get_model
    from evalwheel.models.reliability import Timeouts

    with closing(runs):  # on a refusal or Ctrl-C (not SIGTERM: see monitor.cli); the CLI skips the final collection
        try:
            tutor = get_model(model or default_model_name(), timeouts=Timeouts.total(timeout))
        except ModelConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        service = StudyService(runs, model=tutor, monitor_url=monitor, config=GenerateConfig(max_tokens=max_tokens))
        app = create_study_app(service, token=token)
        sock = listen(host, port)
        port = sock.getsockname()[1]
        typer.echo(f"Study Mode chat on http://{host}:{port}/study (sessions logged to {runs.safe_url})", err=True)
        serve(app, sock)
