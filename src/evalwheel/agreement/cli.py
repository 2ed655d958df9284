"""`evalwheel agree ...`: how closely the graders agree with human labels on a labelled file.

Mounted by the main CLI as `evalwheel agree`. Bad input (unreadable file, wrong format, nothing
usable) exits with code 2 and one line naming the file and the cause; skipped items are reported
on stderr so that `--json` output on stdout stays machine-readable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from evalwheel.agreement.runner import (
    AgreementReport,
    Tier,
    TierUnavailableError,
    agree_mathdial,
    agree_mrbench,
)
from evalwheel.datasets.mathdial import MathDialFormatError
from evalwheel.datasets.mrbench import MRBenchFormatError

agree_app = typer.Typer(help="Measure graders against human labels.", no_args_is_help=True)

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object keyed by task instead of tables.")
]
TierOpt = Annotated[Tier, typer.Option("--tier", help="rules, trained, or the best tier per task by CV.")]
FileArg = Annotated[Path, typer.Argument(help="The labelled file.", show_default=False)]
MAX_ISSUES = 5


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _emit(report: AgreementReport, as_json: bool) -> None:
    for issue in report.issues[:MAX_ISSUES]:
        typer.echo(f"warning: {report.path}: {issue} (skipped)", err=True)
    if len(report.issues) > MAX_ISSUES:
        typer.echo(f"warning: {report.path}: {len(report.issues) - MAX_ISSUES} more items skipped", err=True)
    for r in report.results.values():
        if r.note:
            typer.echo(f"note: {r.task}: {r.note}", err=True)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        from evalwheel.agreement.report import print_report

        print_report(report)


@agree_app.command("mrbench")
def mrbench(file: FileArg, as_json: JsonOpt = False, tier: TierOpt = Tier.BEST) -> None:
    """Grade every tutor reply of an MRBench-format file on the dimensions it has human labels for
    (Revealing_of_the_Answer, Providing_Guidance, Actionability, Tutor_Tone, Mistake_Identification)."""
    try:
        report = agree_mrbench(file, tier)
    except (MRBenchFormatError, TierUnavailableError) as exc:
        raise _fail(str(exc)) from None
    _emit(report, as_json)


@agree_app.command("mathdial")
def mathdial(file: FileArg, as_json: JsonOpt = False, tier: TierOpt = Tier.BEST) -> None:
    """Classify each MathDial teacher turn as telling vs. not (focus/probing/generic)."""
    try:
        report = agree_mathdial(file, tier)
    except (MathDialFormatError, TierUnavailableError) as exc:
        raise _fail(str(exc)) from None
    _emit(report, as_json)
