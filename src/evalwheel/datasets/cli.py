"""`evalwheel dataset ...`: validate a sample dataset and lock its golden partition.

Mounted by the main CLI with `app.add_typer(dataset_app, name="dataset")`. Contract:

    evalwheel dataset validate DATASET [--lock FILE] [--require-lock] [--json]
    evalwheel dataset lock DATASET [--lock FILE] [--json]

Exit codes follow DESIGN.md: 0 fine; 2 bad input: an invalid dataset (every problem is listed on stderr,
each naming file, line or item, field and cause), an unreadable lock file, or a golden partition that does
not match its lock (the message lists each changed / added / removed golden sample). With `--json`,
`validate` prints one JSON object on stdout in every case, including `"errors"` when it exits 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evalwheel.datasets.lock import (
    GoldenLockError,
    LockFileError,
    check_golden_lock,
    default_lock_path,
    verify_golden_lock,
    write_lock,
)
from evalwheel.datasets.samples import PARTITIONS, DatasetSummary, InvalidDatasetError, scan_dataset, short_hash
from evalwheel.fileio import refuse_overwriting_input
from evalwheel.termio import fail

EXIT_BAD_INPUT = 2

dataset_app = typer.Typer(
    help="Validate sample datasets (golden / regression / adversarial / distribution) and lock the golden set.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

DatasetArg = Annotated[Path, typer.Argument(help="Dataset file (.jsonl, .yaml, .yml or .json).", show_default=False)]
LockOpt = Annotated[
    Path | None,
    typer.Option("--lock", help="Lock file (default: <dataset file name>.lock.json next to it).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object for machines.")]


_fail = fail


def _emit_json(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, indent=2))


def _scan_or_exit(dataset: Path, as_json: bool) -> DatasetSummary:
    try:
        return scan_dataset(dataset)
    except InvalidDatasetError as exc:
        if as_json:
            _emit_json({"dataset": str(dataset), "valid": False, "errors": [e.to_dict() for e in exc.errors]})
        for e in exc.errors:
            err.print(f"[red]invalid[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise _fail(f"{len(exc.errors)} problem(s) in {dataset}") from None


@dataset_app.command("validate")
def validate(
    dataset: DatasetArg,
    lock: LockOpt = None,
    require_lock: Annotated[
        bool, typer.Option("--require-lock", help="Fail when the dataset has golden samples but no lock file.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check every sample (ids, partitions, fields, input files), show counts and hashes, verify the golden lock."""
    summary = _scan_or_exit(dataset, as_json)
    lock_path = lock or default_lock_path(dataset)
    report: dict[str, Any] = {
        "dataset": str(dataset),
        "valid": True,
        "version_hash": summary.version_hash,
        "samples": summary.total,
        "counts": summary.counts,
        "lock": {"path": str(lock_path), "status": "absent"},
    }
    problem: str | None = None
    try:
        diff = check_golden_lock(summary, lock_path)
        if diff is not None:
            report["lock"] = {"path": str(lock_path), "status": "ok" if diff.ok else "mismatch", **diff.to_dict()}
        # a lock named with --lock must exist: a mistyped path used to pass as 'no golden lock' (exit 0)
        verify_golden_lock(summary, lock_path, require=require_lock or lock is not None)
    except (GoldenLockError, LockFileError) as exc:
        problem = str(exc)
        report["valid"] = False
        if isinstance(exc, LockFileError):
            report["lock"] = {"path": str(lock_path), "status": "unreadable"}
        report["errors"] = [{"path": str(lock_path), "cause": problem}]
    if as_json:
        _emit_json(report)
    else:
        _print_summary(summary, report["lock"]["status"], lock_path)
    if problem is not None:
        raise _fail(problem)


def _print_summary(summary: DatasetSummary, lock_status: str, lock_path: Path) -> None:
    title = f"{summary.path}" + (f" — {summary.name}" if summary.name else "")
    table = Table(title=title, title_justify="left")
    table.add_column("partition")
    table.add_column("samples", justify="right")
    for p in PARTITIONS:
        table.add_row(p, str(summary.counts[p]))
    table.add_row("[bold]total[/]", f"[bold]{summary.total}[/]")
    out.print(table)
    out.print(f"version {short_hash(summary.version_hash)}", highlight=False)
    shown = {
        "ok": f"golden lock ok ({len(summary.golden)} sample(s), {lock_path})",
        "absent": f"no golden lock ({lock_path} does not exist)",
        "mismatch": f"golden lock MISMATCH ({lock_path})",
        "unreadable": f"golden lock unreadable ({lock_path})",
    }[lock_status]
    out.print(shown, highlight=False, soft_wrap=True)


@dataset_app.command("lock")
def lock_command(dataset: DatasetArg, lock: LockOpt = None, as_json: JsonOpt = False) -> None:
    """Record the golden samples' content hashes in the lock file (commit it; review its diff)."""
    summary = _scan_or_exit(dataset, as_json=False)
    lock_path = lock or default_lock_path(dataset)
    refuse_overwriting_input(lock_path, [dataset], option="--lock")
    try:
        previous = check_golden_lock(summary, lock_path)
    except LockFileError as exc:  # a broken lock is about to be replaced; say so rather than refuse
        err.print(f"replacing unreadable lock: {escape(str(exc))}", highlight=False)
        previous = None
    written = write_lock(summary, lock_path)
    if as_json:
        _emit_json(
            {
                "dataset": str(dataset),
                "lock": str(written),
                "version_hash": summary.version_hash,
                "golden": len(summary.golden),
                "previous": previous.to_dict() if previous is not None else None,
            }
        )
        return
    out.print(
        f"locked {len(summary.golden)} golden sample(s) of {dataset} (version {short_hash(summary.version_hash)})"
        f" -> {written}",
        highlight=False,
        soft_wrap=True,
    )
    if previous is None:
        return
    if previous.ok:
        out.print("golden partition unchanged since the previous lock", highlight=False)
    for line in previous.lines():
        out.print(f"  {line}", highlight=False, soft_wrap=True)
