"""`evalwheel calibrate mrbench|mathdial ...` (alias `evalwheel agree ...`): response graders vs human labels.

One family: these commands are registered on the `calibrate` app next to `calibrate GRADER`,
`pairwise`, `faithfulness` and `similarity`, and mounted again as `evalwheel agree` (the documented
alias, kept so existing scripts work). `--out` writes the same validated `CalibrationRecord` every
other `calibrate` command writes: one file per dimension's grader (`pedagogy.<dimension>.json`) in
the given folder. Bad input (unreadable file, wrong format, nothing
usable) exits with code 2 and one line naming the file and the cause. Problems inside an MRBench file
(a broken conversation or reply, an unknown label, a missing or unknown dimension) exit 2 too, one line per
problem naming the item and the field, unless `--skip-invalid`: then they are skipped, counted
(`unknown_labels`, `unlabelled`) and listed on stderr, so that `--json` output on stdout stays
machine-readable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from evalwheel.agreement.runner import AgreementReport, LabelledFileError, Tier, agree_mathdial, agree_mrbench
from evalwheel.calibration.cli import calibrate_app
from evalwheel.datasets.mathdial import MathDialFormatError
from evalwheel.datasets.mrbench import MRBenchFormatError
from evalwheel.graders.pedagogy.response.tiers import TierUnavailableError

agree_app = typer.Typer(
    help="Alias of `calibrate` for the labelled-file runners (mrbench, mathdial, sessions).", no_args_is_help=True
)

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object keyed by task instead of tables.")
]
TierOpt = Annotated[Tier, typer.Option("--tier", help="rules, trained, or the best tier per task by CV.")]
FileArg = Annotated[Path, typer.Argument(help="The labelled file.", show_default=False)]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", help="Folder to write one calibration record per grader into.", show_default=False),
]
MAX_ISSUES = 5


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _save(report: AgreementReport, out: Path | None) -> None:
    if out is None:
        return
    from evalwheel.calibration.record import record_from_agreement, write_record
    from evalwheel.graders.pedagogy.response.tiers import grader_name

    try:
        for task, result in report.results.items():
            record = record_from_agreement(result, grader_name(task), report.kind, Path(report.path), report.n_items)
            path = write_record(record, out / f"{grader_name(task)}.json")
            typer.echo(f"calibration record written to {path}", err=True)
    except OSError as exc:
        raise _fail(f"{out}: cannot write the calibration records: {exc.strerror or exc}") from None


def _emit(report: AgreementReport, as_json: bool) -> None:
    for issue in report.issues[:MAX_ISSUES]:
        typer.echo(f"warning: {report.path}: {issue} (skipped)", err=True)
    if len(report.issues) > MAX_ISSUES:
        typer.echo(f"warning: {report.path}: {len(report.issues) - MAX_ISSUES} more problems skipped", err=True)
    for r in report.results.values():
        if r.note:
            typer.echo(f"note: {r.task}: {r.note}", err=True)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        from evalwheel.agreement.report import print_report

        print_report(report)


SkipOpt = Annotated[
    bool,
    typer.Option(
        "--skip-invalid",
        help="Grade the usable replies: skip broken conversations and unmappable labels (counted and listed).",
    ),
]
MAX_ERRORS = 20


def _refuse(exc: LabelledFileError) -> typer.Exit:
    """Exit 2 listing the problems (each naming item and field), and how to grade the rest anyway."""
    for issue in exc.issues[:MAX_ERRORS]:
        typer.echo(f"error: {exc.path}: {issue}", err=True)
    if len(exc.issues) > MAX_ERRORS:
        typer.echo(f"error: {exc.path}: ... and {len(exc.issues) - MAX_ERRORS} more problem(s)", err=True)
    return _fail(
        f"{exc.path}: {len(exc.issues)} problem(s) in the labelled items, nothing graded; fix them, or pass "
        "--skip-invalid to grade the rest (unmappable labels are then counted in unknown_labels and left out)"
    )


@agree_app.command("mrbench")
def mrbench(
    file: FileArg,
    as_json: JsonOpt = False,
    tier: TierOpt = Tier.BEST,
    out: OutOpt = None,
    skip_invalid: SkipOpt = False,
) -> None:
    """Grade every tutor reply of an MRBench-format file on the dimensions it has human labels for (any of
    the eight: Mistake_Identification, Mistake_Location, Revealing_of_the_Answer, Providing_Guidance,
    Actionability, Coherence, Tutor_Tone, humanlikeness). A broken conversation, an unknown label, a
    missing or unknown dimension exits 2 naming the item and the field, unless --skip-invalid."""
    try:
        report = agree_mrbench(file, tier, skip_invalid=skip_invalid)
    except LabelledFileError as exc:
        raise _refuse(exc) from None
    except (MRBenchFormatError, TierUnavailableError) as exc:
        raise _fail(str(exc)) from None
    _emit(report, as_json)
    _save(report, out)


@agree_app.command("mathdial")
def mathdial(file: FileArg, as_json: JsonOpt = False, tier: TierOpt = Tier.BEST, out: OutOpt = None) -> None:
    """Classify each MathDial teacher turn as telling vs. not (focus/probing/generic)."""
    try:
        report = agree_mathdial(file, tier)
    except (MathDialFormatError, TierUnavailableError) as exc:
        raise _fail(str(exc)) from None
    _emit(report, as_json)
    _save(report, out)


# The same commands under `evalwheel calibrate` (the one verb for measuring agreement).
calibrate_app.command("mrbench")(mrbench)
calibrate_app.command("mathdial")(mathdial)
