"""Human-readable agreement output: a summary table and one confusion matrix per task (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from evalwheel.agreement.runner import AgreementReport, TaskResult


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def summary_table(report: AgreementReport) -> Table:
    table = Table(title=f"Agreement with human labels — {report.kind}: {report.path}")
    for col, justify in (
        ("task", "left"),
        ("tier", "left"),
        ("n", "right"),
        ("macro-F1", "right"),
        ("kappa", "right"),
        ("accuracy", "right"),
        ("skipped", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in report.results.values():
        a = r.agreement
        table.add_row(
            r.task, r.tier, str(a.n), _f(a.macro_f1), _f(a.kappa), _f(a.accuracy), str(r.skipped_unknown)
        )
    return table


def confusion_table(result: TaskResult) -> Table:
    a = result.agreement
    table = Table(title=f"{result.task} ({result.tier}): rows = human, columns = grader")
    table.add_column("human \\ grader")
    for label in a.labels:
        table.add_column(label, justify="right")
    table.add_column("F1", justify="right")
    for label, row in zip(a.labels, a.confusion, strict=True):
        table.add_row(label, *(str(v) for v in row), _f(a.per_label[label].f1))
    return table


def print_report(report: AgreementReport, console: Console | None = None) -> None:
    console = console or Console()
    console.print(summary_table(report))
    for r in report.results.values():
        console.print(confusion_table(r))
        details = []
        if r.unknown_labels:
            details.append(
                "unknown labels skipped: " + ", ".join(f"{k!r}×{v}" for k, v in r.unknown_labels.items())
            )
        if r.unlabelled:
            details.append(f"{r.unlabelled} replies without a label")
        if r.note:
            details.append(r.note)
        if details:
            console.print("  " + "; ".join(details))
