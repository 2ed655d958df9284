"""`evalwheel calibrate ...`: a judge's figures against human labels, as one JSON object (or a short summary).

Mounted by the main CLI with `app.add_typer(calibrate_app, name="calibrate")`. Contract:

    evalwheel calibrate pairwise --llmbar FILE --model M --json
    evalwheel calibrate faithfulness --faithbench FILE --model M --json

Bad input (unreadable or malformed file, unknown model, bad option) exits with code 2 and one line on stderr
naming the file or model and the cause. The progress bar goes to stderr, so `--json` stdout stays clean.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evalwheel.calibration.llmbar import LLMBarFormatError, load_llmbar
from evalwheel.calibration.runner import calibrate_faithfulness, calibrate_pairwise
from evalwheel.datasets.faithbench import FaithBenchFormatError, load_faithbench
from evalwheel.models.base import Model, ModelConfigError
from evalwheel.models.registry import get_model

calibrate_app = typer.Typer(help="Calibrate LLM judges against human labels.", no_args_is_help=True)

T = TypeVar("T", bound=BaseModel)

ModelOpt = Annotated[str, typer.Option("--model", help="Judge model (local, openai:<m>, http(s)://host/v1#<m>).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object with the figures.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N items.")]
ConcOpt = Annotated[int, typer.Option("--concurrency", min=1, help="Items judged at once.")]
CacheOpt = Annotated[bool, typer.Option("--cache/--no-cache", help="Use the persistent model-response cache.")]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _model(name: str, cache: bool, concurrency: int) -> Model:
    try:
        return get_model(name, cache=cache, max_concurrency=max(16, 2 * concurrency))
    except ModelConfigError as exc:
        raise _fail(str(exc)) from None


def _run(
    label: str,
    total: int,
    model: Model,
    show: bool,
    job: Callable[[Callable[[int], None]], Awaitable[T]],
) -> T:
    async def main() -> T:
        try:
            if not show:
                return await job(lambda _k: None)
            columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task(label, total=total)
                return await job(lambda k: bar.advance(task, k))
        finally:
            await model.aclose()

    try:
        return asyncio.run(main())
    except ModelConfigError as exc:
        raise _fail(f"model {getattr(model, 'name', '?')}: {exc}") from None


def _emit(result: BaseModel, extra: dict[str, Any], as_json: bool) -> None:
    data = {**result.model_dump(mode="json"), **extra}
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        if isinstance(value, dict | list):
            value = json.dumps(value)
        typer.echo(f"{key}: {value}")


@calibrate_app.command("pairwise")
def pairwise(
    llmbar: Annotated[Path, typer.Option("--llmbar", help="LLMBar JSON file (list of pairs).", show_default=False)],
    model: ModelOpt = "local",
    as_json: JsonOpt = False,
    limit: LimitOpt = None,
    concurrency: ConcOpt = 4,
    cache: CacheOpt = True,
    progress: ProgressOpt = True,
) -> None:
    """Order-swapped pairwise judge vs LLMBar labels: accuracy (ties apart and as half), position consistency,
    length bias."""
    try:
        pairs = load_llmbar(llmbar)
    except LLMBarFormatError as exc:
        raise _fail(str(exc)) from None
    judge = _model(model, cache, concurrency)
    total = min(len(pairs), limit) if limit else len(pairs)
    result = _run(
        "pairwise",
        total,
        judge,
        progress,
        lambda tick: calibrate_pairwise(pairs, judge, limit=limit, concurrency=concurrency, on_progress=tick),
    )
    _emit(result, {"file": str(llmbar), "model": model}, as_json)


@calibrate_app.command("faithfulness")
def faithfulness(
    faithbench: Annotated[Path, typer.Option("--faithbench", help="FaithBench CSV file.", show_default=False)],
    model: ModelOpt = "local",
    as_json: JsonOpt = False,
    limit: LimitOpt = None,
    concurrency: ConcOpt = 4,
    dev_fraction: Annotated[float, typer.Option("--dev-fraction", min=0.01, max=0.99)] = 0.5,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the dev / held-out split.")] = 0,
    cache: CacheOpt = True,
    progress: ProgressOpt = True,
) -> None:
    """Faithfulness grader's has_hallucinations vs FaithBench labels (worst-label == Unwanted): confusion,
    precision / recall / macro-F1, kappa, unscored count, and a threshold tuned on a dev part."""
    try:
        items = load_faithbench(faithbench)
    except FaithBenchFormatError as exc:
        raise _fail(str(exc)) from None
    judge = _model(model, cache, concurrency)
    total = min(len(items), limit) if limit else len(items)
    result = _run(
        "faithfulness",
        total,
        judge,
        progress,
        lambda tick: calibrate_faithfulness(
            items,
            judge,
            limit=limit,
            concurrency=concurrency,
            dev_fraction=dev_fraction,
            seed=seed,
            on_progress=tick,
        ),
    )
    _emit(result, {"file": str(faithbench), "model": model}, as_json)
