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


def check_model_option(name: str, option: str = "--model") -> None:
    """Exit 2 naming `option` and the value unless `name` has a form `get_model` accepts; starts no server, reads
    no key (`models.registry.check_model_name`). Why: verbs that only estimate with a model or write its name
    into a spec (`replay --dry-run`, `import openai-eval --judge-model`) accepted any typo with exit 0."""
    from evalwheel.models.base import ModelConfigError
    from evalwheel.models.registry import check_model_name

    try:
        check_model_name(name)
    except ModelConfigError as exc:
        typer.echo(f"error: {option}: {exc}", err=True)
        raise typer.Exit(2) from None
