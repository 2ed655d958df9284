"""`evalwheel runs show RUN [--json]`: look inside a stored run without opening the database by hand.

The run's header (spec, arm, status, times, metadata), its counts per partition and status, and one row per
result with the scores that decided it: failing and unscored scores first, with their reasons, because those
are what a reader opens a run to see. Each grader's counts and each shown verdict carry the agreement with
humans the grader was measured at, or "not calibrated". `--json` prints the same data, every score included,
for scripts.
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import closing
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evalwheel.calibration.shipped import NOT_CALIBRATED, agreement_view, format_note, score_note
from evalwheel.gates.summary import GraderTally
from evalwheel.store import Store, StoreError
from evalwheel.types import SampleResult

out = Console()
err = Console(stderr=True)

STATUSES = ("passed", "failed", "unscored", "error")


def _verdict(passed: bool | None) -> str:
    return {True: "pass", False: "fail", None: "unscored"}[passed]


def result_row(r: SampleResult) -> dict[str, Any]:
    """One result as plain data (the JSON output, and what the table shows a part of)."""
    return {
        "sample_id": r.sample_id,
        "partition": r.partition,
        "epoch": r.epoch,
        "status": r.status,
        "value": r.value,
        "error": r.error,
        "output": None if r.output is None else (r.output.text if r.output.text is not None else "(trajectory)"),
        "scores": [
            {
                "name": s.name,
                "value": s.value,
                "verdict": _verdict(s.passed),
                "agreement": agreement_view(score_note(s.metadata)),
                "reason": s.reason,
            }
            for s in r.scores
        ],
    }


def _why(r: SampleResult) -> str:
    if r.error:
        return r.error
    worst = [s for s in r.scores if s.passed is False] or [s for s in r.scores if s.passed is None]
    return "; ".join(f"{s.name}: {s.reason}{_measured(s)}" for s in worst[:3])


def _measured(s: Any) -> str:
    """' [measured at macro-F1 0.63 (n=1118; ...)]' next to a verdict, or ' [not calibrated]'."""
    note = score_note(s.metadata)
    return f" [measured at {format_note(note)}]" if note else f" [{NOT_CALIBRATED}]"


def show_command(
    run: Annotated[str, typer.Argument(metavar="RUN", help="A run id, or SPEC_NAME[ARM]@latest.")],
    store_target: Annotated[str | None, typer.Option("--store", help="SQLAlchemy URL or SQLite file.")] = None,
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Only results with this status (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most N result rows in the table (0: none).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run and every result as JSON.")] = False,
) -> None:
    """A stored run: header, counts per partition, and its results with the reasons they failed."""
    from evalwheel.runs.compare_cli import bad_input, resolve_run

    bad = [s for s in status or [] if s not in STATUSES]
    if bad:
        err.print(f"[bold red]error:[/] --status {escape(bad[0])!r}: expected one of {', '.join(STATUSES)}")
        raise typer.Exit(2)
    try:
        store = Store(store_target, must_exist=True)
    except StoreError as exc:
        raise bad_input(str(exc)) from None
    counts: dict[str, Counter[str]] = {}
    rows: list[dict[str, Any]] = []
    shown: list[SampleResult] = []
    tally = GraderTally()
    with closing(store):  # closed before exit: the CLI skips the final collection (evalwheel.closing)
        try:
            info = resolve_run(store, run)
        except StoreError as exc:
            raise bad_input(str(exc)) from None
        for r in store.iter_results(info.run_id, with_output=as_json):
            counts.setdefault(r.partition, Counter())[r.status] += 1
            tally.add(r)
            if status and r.status not in status:
                continue
            if as_json:
                rows.append(result_row(r))
            elif len(shown) < limit:
                shown.append(r)
    summary = {p: {s: c[s] for s in STATUSES} for p, c in counts.items()}
    if as_json:
        per_grader = {
            name: g.model_dump(exclude={"agreement"}) | {"agreement": agreement_view(g.agreement)}
            for name, g in tally.graders().items()
        }
        payload = {"run": info.model_dump(mode="json"), "counts": summary, "graders": per_grader, "results": rows}
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    arm = f" [{info.arm}]" if info.arm else ""
    out.print(
        f"[bold]{escape(info.run_id)}[/] {escape(info.spec_name + arm)} — {info.status}, started {info.started_at}"
        + (f", finished {info.finished_at}" if info.finished_at else ""),
        highlight=False,
        soft_wrap=True,
    )
    if info.status == "partial":
        from evalwheel.runs.cli import PARTIAL_NOTE

        out.print(f"  [yellow]{escape(PARTIAL_NOTE)}[/]", highlight=False, soft_wrap=True)
    for key, value in sorted(info.metadata.items()):
        out.print(f"  {escape(key)}: {escape(json.dumps(value, ensure_ascii=False))}", highlight=False, soft_wrap=True)
    table = Table(title="results per partition")
    for col in ("partition", *STATUSES, "total"):
        table.add_column(col, justify="left" if col == "partition" else "right")
    for partition, c in summary.items():
        table.add_row(partition, *(str(c[s]) for s in STATUSES), str(sum(c.values())))
    out.print(table)
    graders = tally.graders()
    if graders:
        from evalwheel.runs.cli import grader_table

        out.print(grader_table(graders))
    if not shown:
        return
    detail = Table(title=f"results (first {len(shown)})" if len(shown) == limit else "results")
    for col in ("sample", "partition", "epoch", "status", "value", "why"):
        detail.add_column(col, overflow="fold")
    colours = {"passed": "green", "failed": "red", "unscored": "yellow", "error": "magenta"}
    for r in shown:
        value = "" if r.value is None else f"{r.value:.3f}"
        detail.add_row(
            escape(r.sample_id), r.partition, str(r.epoch), f"[{colours[r.status]}]{r.status}[/]", value,
            escape(_why(r)),
        )  # fmt: skip
    out.print(detail)
