"""`evalwheel calibrate ...`: a grader's figures against human labels, as one JSON object (or a short summary).

Mounted by the main CLI with `app.add_typer(calibrate_app, name="calibrate")`. Contract:

    evalwheel calibrate GRADER --labels FILE [--config F] [--set k=v] [--model M] --json --out RECORD
    evalwheel calibrate grader GRADER --labels FILE ...      (the same; the explicit spelling)
    evalwheel calibrate similarity --uptake FILE --json --out RECORD
    evalwheel calibrate pairwise --llmbar FILE --model M --json --out RECORD
    evalwheel calibrate faithfulness --faithbench FILE --model M --json --out RECORD

`calibrate NAME` with a NAME that is not one of the sub-commands is routed to `calibrate grader NAME` (see
`_GraderFallbackGroup`). A grader whose name *is* a sub-command (`faithfulness`) is reached with the explicit
`calibrate grader faithfulness --labels FILE`.

Bad input (unreadable or malformed file, unknown grader or model, bad option or grader config) exits with code 2
and one line on stderr naming the file, field or model and the cause. The progress bar goes to stderr, so
`--json` stdout stays clean. `--out FILE` writes a calibration record (`calibration.record`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

import evalwheel.graders  # noqa: F401  (registers every built-in grader)
from evalwheel import eventloop
from evalwheel.calibration.generic import GraderCalibration, GraderSetupError, calibrate_grader
from evalwheel.calibration.labels import LabelledCase, LabelsFormatError, load_labels
from evalwheel.calibration.llmbar import LLMBarFormatError, load_llmbar
from evalwheel.calibration.record import (
    CalibrationRecord,
    dataset_ref,
    record_from_faithfulness,
    record_from_grader,
    record_from_pairwise,
    write_record,
)
from evalwheel.calibration.runner import calibrate_faithfulness, calibrate_pairwise
from evalwheel.cli_options import RequestTimeoutOption
from evalwheel.datasets.faithbench import FaithBenchFormatError, load_faithbench
from evalwheel.datasets.uptake import UptakeFormatError, load_uptake
from evalwheel.fileio import FileReadError, check_writable, parse_error_text, read_text, refuse_overwriting_input
from evalwheel.graders.deterministic.semantic import DEFAULT_THRESHOLD
from evalwheel.graders.registry import get_grader
from evalwheel.models.base import Model, ModelConfigError
from evalwheel.models.registry import get_model


class _GraderFallbackGroup(TyperGroup):
    """`calibrate NAME ...` for any NAME that is not a sub-command runs `calibrate grader NAME ...`.

    Click resolves the first free word as a sub-command name; rewriting it here (and only when it is not an
    option or a known sub-command) keeps the fixed sub-commands exactly as they were and gives every registered
    grader its own `calibrate NAME` without listing graders in the CLI.
    """

    # Typed loosely: typer vendors its own click, whose Context / Command classes are private.
    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["grader", *args]
        return super().resolve_command(ctx, args)


calibrate_app = typer.Typer(
    cls=_GraderFallbackGroup,
    help="Calibrate graders against human labels. Any registered grader: "
    "`evalwheel calibrate GRADER --labels FILE` (same as `calibrate grader GRADER ...`).",
    no_args_is_help=True,
)

T = TypeVar("T", bound=BaseModel)

ModelOpt = Annotated[str, typer.Option("--model", help="Judge model (local, openai:<m>, http(s)://host/v1#<m>).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object with the figures.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N items.")]
ConcOpt = Annotated[int, typer.Option("--concurrency", min=1, help="Items judged at once.")]
CacheOpt = Annotated[bool, typer.Option("--cache/--no-cache", help="Use the persistent model-response cache.")]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.")]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Write a calibration record (JSON) to this file.", show_default=False)
]
DevOpt = Annotated[
    float, typer.Option("--dev-fraction", min=0.01, max=0.99, help="Share of scored items used to tune the threshold.")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the dev / held-out split.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Grader option KEY=VALUE (VALUE read as YAML: 0.5, true, [a, b]); repeatable."),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _model(name: str, cache: bool, concurrency: int, timeout_s: float | None = None) -> Model:
    from evalwheel.models.reliability import Timeouts

    try:
        return get_model(
            name, cache=cache, max_concurrency=max(16, 2 * concurrency), timeouts=Timeouts.total(timeout_s)
        )
    except ModelConfigError as exc:
        raise _fail(str(exc)) from None


async def _probe(model: Model) -> None:
    """The `run` preflight's probe of the judge endpoint before any item: a URL that serves a web page or another
    API (a 200 that is not a chat completion), a 401/403/404/405 raises ModelConfigError (exit 2); a 5xx or no
    answer is a warning. Why: such a judge used to leave every item unscored with exit 0 and no cause shown."""
    from evalwheel.runs.preflight import probe_endpoint

    warning = await probe_endpoint(model)
    if warning:
        typer.echo(f"warning: {warning}", err=True)


def _run(
    label: str,
    total: int,
    model: Model | None,
    show: bool,
    job: Callable[[Callable[[int], None]], Awaitable[T]],
) -> T:
    async def main() -> T:
        try:
            if model is not None:
                await _probe(model)
            if not show:
                return await job(lambda _k: None)
            columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task(label, total=total)
                return await job(lambda k: bar.advance(task, k))
        finally:
            # A failed call ends the job while sibling calls may still be retrying; cancel them first, or one can
            # open a fresh HTTP session after the close below and leave "Unclosed client session" noise at exit.
            current = asyncio.current_task()
            others = [t for t in asyncio.all_tasks() if t is not current]
            for t in others:
                t.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            if model is not None:
                await model.aclose()

    try:
        return eventloop.run(main())
    except ModelConfigError as exc:  # most messages already start "model NAME: ..."; do not say it twice
        text = str(exc)
        raise _fail(text if text.startswith("model ") else f"model {getattr(model, 'name', '?')}: {text}") from None


def _check_out(out: Path | None, source: Path | str) -> None:
    """Before any judging: the record's --out must be writable and must not be the labelled file itself. Why: an
    unwritable --out failed only after the whole (possibly hours-long) calibration, and `--out` naming the labels
    file replaced the labels with the record."""
    if out is not None:
        check_writable(out, what="--out")
        refuse_overwriting_input(out, [source], option="--out")


def _save(record: CalibrationRecord, out: Path | None) -> None:
    if out is None:
        return
    try:
        write_record(record, out)
    except OSError as exc:
        raise _fail(f"{out}: cannot write the calibration record: {exc.strerror or exc}") from None
    typer.echo(f"calibration record written to {out}", err=True)


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
    out: OutOpt = None,
    timeout: RequestTimeoutOption = None,
) -> None:
    """Order-swapped pairwise judge vs LLMBar labels: accuracy (ties apart and as half), position consistency,
    length bias."""
    _check_out(out, llmbar)
    try:
        pairs = load_llmbar(llmbar)
    except LLMBarFormatError as exc:
        raise _fail(str(exc)) from None
    judge = _model(model, cache, concurrency, timeout)
    total = min(len(pairs), limit) if limit else len(pairs)
    result = _run(
        "pairwise",
        total,
        judge,
        progress,
        lambda tick: calibrate_pairwise(pairs, judge, limit=limit, concurrency=concurrency, on_progress=tick),
    )
    _save(record_from_pairwise(result, dataset_ref(llmbar, len(pairs)), model=model), out)
    _emit(result, {"file": str(llmbar), "model": model}, as_json)


@calibrate_app.command("faithfulness")
def faithfulness(
    faithbench: Annotated[Path, typer.Option("--faithbench", help="FaithBench CSV file.", show_default=False)],
    model: ModelOpt = "local",
    as_json: JsonOpt = False,
    limit: LimitOpt = None,
    concurrency: ConcOpt = 4,
    dev_fraction: DevOpt = 0.5,
    seed: SeedOpt = 0,
    cache: CacheOpt = True,
    progress: ProgressOpt = True,
    out: OutOpt = None,
    timeout: RequestTimeoutOption = None,
) -> None:
    """Faithfulness grader's has_hallucinations vs FaithBench labels (worst-label == Unwanted): confusion,
    precision / recall / macro-F1, kappa, unscored count, and a threshold tuned on a dev part."""
    _check_out(out, faithbench)
    try:
        items = load_faithbench(faithbench)
    except FaithBenchFormatError as exc:
        raise _fail(str(exc)) from None
    judge = _model(model, cache, concurrency, timeout)
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
    _save(record_from_faithfulness(result, dataset_ref(faithbench, len(items)), model=model), out)
    _emit(result, {"file": str(faithbench), "model": model}, as_json)


# ------------------------------------------------------------------------------------------- any grader


def _grader_config(path: Path | None, sets: list[str], grader: str) -> dict[str, Any]:
    """Options from `--config` (a YAML/JSON mapping, or {grader, config} as in a spec) overlaid with `--set`."""
    config: dict[str, Any] = {}
    if path is not None:
        try:
            data = yaml.safe_load(read_text(path, what="grader config", nonempty=True))
        except FileReadError as exc:
            raise _fail(str(exc)) from None
        except yaml.YAMLError as exc:
            raise _fail(f"{path}: invalid YAML/JSON: {parse_error_text(exc)}") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise _fail(f"{path}: expected a mapping of grader options, got {type(data).__name__}")
        if "config" in data and "grader" in data:  # a grader entry of a spec: {grader: NAME, config: {...}}
            if data["grader"] != grader:
                raise _fail(f"{path}: field 'grader': the file configures {data['grader']!r}, not {grader!r}")
            data = data["config"] or {}
            if not isinstance(data, dict):
                raise _fail(f"{path}: field 'config': expected a mapping, got {type(data).__name__}")
        config.update({str(k): v for k, v in data.items()})
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise _fail(f"--set {item!r}: expected KEY=VALUE")
        try:
            config[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            config[key.strip()] = raw
    from evalwheel.runs.preflight import check_grader_config

    try:  # as `run` does before it starts: a misspelt option used to surface as a failure on the first item
        check_grader_config(grader, config)
    except ValueError as exc:
        source = " and ".join(([str(path)] if path is not None else []) + (["--set"] if sets else [])) or "options"
        raise _fail(f"{source}: {exc}") from None
    return config


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _summary(result: GraderCalibration, extra: dict[str, Any]) -> None:
    """A short human-readable report: counts, confusion matrix, per-label figures, threshold."""
    a = result.agreement
    for key, value in extra.items():
        typer.echo(f"{key}: {value}")
    typer.echo(f"grader: {result.grader}" + (f" (score {result.score_name})" if result.score_name else ""))
    typer.echo(f"items: {result.n}  scored: {result.scored}  unscored: {result.unscored}  errors: {result.errors}")
    typer.echo("confusion (rows human, columns grader):")
    typer.echo(f"  {'':>10} {'pass':>6} {'fail':>6}")
    for label, row in zip(a.labels, a.confusion, strict=True):
        typer.echo(f"  {'human ' + label:>10} {row[0]:>6} {row[1]:>6}")
    for label in a.labels:
        st = a.per_label[label]
        typer.echo(f"  {label}: precision {_num(st.precision)}  recall {_num(st.recall)}  F1 {_num(st.f1)}")
    typer.echo(f"accuracy: {_num(a.accuracy)}  macro-F1: {_num(a.macro_f1)}  kappa: {_num(a.kappa)}")
    if a.kappa_note:
        typer.echo(f"  ({a.kappa_note})")
    if result.valued:
        typer.echo(f"ROC-AUC of the score value ({result.valued} items): {_num(result.roc_auc)}")
    t = result.threshold
    if t is not None:
        h = t.heldout
        typer.echo(
            f"threshold tuned on dev (n={t.n_dev}, seed {t.seed}): {t.threshold:.4f}; held-out (n={t.n_heldout}): "
            f"accuracy {_num(h.accuracy)}  macro-F1 {_num(h.macro_f1)}  kappa {_num(h.kappa)}"
        )
    for line in result.unscored_examples:
        typer.echo(f"unscored e.g. {line}")
    for line in result.error_examples:
        typer.echo(f"error e.g. {line}")


def _calibrate_cases(
    grader: str,
    cases: list[LabelledCase],
    config: dict[str, Any],
    *,
    model: str | None,
    cache: bool,
    score: str | None,
    limit: int | None,
    concurrency: int,
    dev_fraction: float,
    seed: int,
    progress: bool,
    timeout_s: float | None = None,
) -> tuple[GraderCalibration, str | None]:
    """Run the generic calibration; resolve a judge model once (not per item) when one is named."""
    try:
        get_grader(grader)
    except KeyError as exc:
        raise _fail(str(exc.args[0])) from None
    judge: Model | None = None
    model_name = model if model is not None else config.get("judge_model")
    if isinstance(model_name, str):
        judge = _model(model_name, cache, concurrency, timeout_s)
        config = {**config, "judge_model": judge}
    total = min(len(cases), limit) if limit else len(cases)
    try:
        result = _run(
            grader,
            total,
            judge,
            progress,
            lambda tick: calibrate_grader(
                cases,
                grader,
                config,
                score_name=score,
                limit=limit,
                concurrency=concurrency,
                dev_fraction=dev_fraction,
                seed=seed,
                on_progress=tick,
            ),
        )
    except GraderSetupError as exc:
        raise _fail(str(exc)) from None
    return result, model_name if isinstance(model_name, str) else None


@calibrate_app.command("grader")
def grader_command(
    name: Annotated[str, typer.Argument(help="A registered grader name (e.g. contains, semantic_similarity).")],
    labels: Annotated[
        str,
        typer.Option(
            "--labels",
            help="JSONL: {id, input, output, reference?, context?, label}; or store:URL for the review queue's "
            "labels in a run store (the check labelled is --score, else the grader name).",
        ),
    ],
    config: Annotated[
        Path | None, typer.Option("--config", help="Grader options: a YAML or JSON mapping.", show_default=False)
    ] = None,
    set_: SetOpt = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Judge model for LLM graders (sets judge_model).")
    ] = None,
    score: Annotated[
        str | None, typer.Option("--score", help="Which score to compare when the grader returns several.")
    ] = None,
    as_json: JsonOpt = False,
    out: OutOpt = None,
    limit: LimitOpt = None,
    concurrency: ConcOpt = 4,
    dev_fraction: DevOpt = 0.5,
    seed: SeedOpt = 0,
    cache: CacheOpt = True,
    progress: ProgressOpt = True,
    timeout: RequestTimeoutOption = None,
) -> None:
    """A grader's pass/fail vs human labels: confusion, precision / recall / macro-F1, kappa, unscored and
    errors apart; with a numeric score also ROC-AUC and a threshold tuned on a dev part (held-out figures)."""
    options = _grader_config(config, set_ or [], name)
    _check_out(out, labels)
    if labels.startswith("store:"):  # reviewed labels straight from the store (evalwheel.review)
        from evalwheel.review.export import load_store_labels, store_dataset_ref
        from evalwheel.store import StoreError

        try:
            items = load_store_labels(labels, score or name)
        except StoreError as exc:
            raise _fail(str(exc)) from None
        if not items:
            raise _fail(f"{labels}: no reviewed labels for check {score or name!r} (see `evalwheel review`)")
        ref = store_dataset_ref(labels, items)
    else:
        try:
            items = load_labels(labels)
        except LabelsFormatError as exc:
            raise _fail(str(exc)) from None
        ref = dataset_ref(labels, len(items))
    result, model_name = _calibrate_cases(
        name,
        list(items),
        options,
        model=model,
        cache=cache,
        score=score,
        limit=limit,
        concurrency=concurrency,
        dev_fraction=dev_fraction,
        seed=seed,
        progress=progress,
        timeout_s=timeout,
    )
    _save(record_from_grader(result, ref, config=options, model=model_name), out)
    extra = {"file": str(labels), "model": model_name}
    if as_json:
        _emit(result, extra, True)
    else:
        _summary(result, {"file": str(labels)})


@calibrate_app.command("similarity")
def similarity_command(
    uptake: Annotated[Path, typer.Option("--uptake", help="Conversational-uptake CSV (uptake_data.csv).")],
    positive_at: Annotated[
        int, typer.Option("--positive-at", min=1, max=2, help="Human label: majority uptake rating >= this.")
    ] = 2,
    set_: SetOpt = None,
    as_json: JsonOpt = False,
    out: OutOpt = None,
    limit: LimitOpt = None,
    concurrency: ConcOpt = 4,
    dev_fraction: DevOpt = 0.5,
    seed: SeedOpt = 0,
    progress: ProgressOpt = True,
) -> None:
    """`semantic_similarity` (MiniLM cosine of teacher response vs student utterance) against human uptake
    labels: agreement at the configured threshold, ROC-AUC, and a threshold tuned on dev with held-out figures."""
    options = _grader_config(None, set_ or [], "semantic_similarity")
    _check_out(out, uptake)
    # Pin the threshold in the record: `{}` would silently mean whatever the default becomes later.
    options.setdefault("threshold", DEFAULT_THRESHOLD)
    try:
        data = load_uptake(uptake, positive_at=positive_at)
    except UptakeFormatError as exc:
        raise _fail(str(exc)) from None
    result, _ = _calibrate_cases(
        "semantic_similarity",
        list(data.pairs),
        options,
        model=None,
        cache=False,
        score=None,
        limit=limit,
        concurrency=concurrency,
        dev_fraction=dev_fraction,
        seed=seed,
        progress=progress,
    )
    extra = {
        "file": str(uptake),
        "rows": data.rows,
        "skipped_no_majority": data.skipped_no_majority,
        "positive_at": positive_at,
        "positives": sum(1 for p in data.pairs[: result.n] if p.label),
        "label_rule": f"uptake_majority >= {positive_at}",
    }
    record = record_from_grader(
        result,
        dataset_ref(uptake, data.rows),
        config=options,
        model="all-MiniLM-L6-v2 (int8 ONNX)",
        task="similarity",
        extra={k: v for k, v in extra.items() if k != "file"},
    )
    _save(record, out)
    if as_json:
        _emit(result, {**extra, "task": "similarity"}, True)
    else:
        _summary(result, extra)
