"""Command-line options shared by several verbs, defined once so their names, limits and help agree."""

from __future__ import annotations

from typing import Annotated

import typer

RequestTimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0.001,
        metavar="S",
        help="Total time limit per model request (a hung server is cut and retried, not waited on for minutes).",
    ),
]
