"""`evalwheel review ...`: reviewers, the queue, assignment, agreement, export and golden promotion.

Database imports happen inside the commands so `evalwheel --help` stays fast. Every verb closes the store it
opens (`with closing(...)`) before it returns or fails: the CLI skips the final garbage collection
(evalwheel.closing), so a store merely dropped was never disposed and left SQLite's -wal / -shm files behind.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from evalwheel.review.store import ReviewStore

review_app = typer.Typer(
    help="The human QA queue: reviewers, queue, labels, agreement, export, golden.", no_args_is_help=True
)

StoreOpt = Annotated[str | None, typer.Option("--store", help="SQLAlchemy URL or SQLite file of the run store.")]


def _open(store: str | None, *, must_exist: bool = True) -> ReviewStore:
    """The review tables on the run store; every verb but add-reviewer reads runs or reviews that must already be
    there, so a mistyped --store is refused instead of creating an empty store (as `runs list` does)."""
    from evalwheel.review.store import ReviewStore
    from evalwheel.store import StoreError

    try:
        return ReviewStore(store, must_exist=must_exist)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@review_app.command("add-reviewer")
def add_reviewer(
    name: Annotated[str, typer.Argument(help="Reviewer name (letters, digits, . _ -).")], store: StoreOpt = None
) -> None:
    """Create a reviewer account and print its token (shown once; the store keeps only its hash)."""
    from evalwheel.review.store import ReviewError

    with closing(_open(store, must_exist=False)) as rs:
        try:
            typer.echo(rs.add_reviewer(name))
        except ReviewError as exc:
            raise _fail(str(exc)) from None


@review_app.command("sync")
def sync(
    store: StoreOpt = None,
    run: Annotated[list[str] | None, typer.Option("--run", help="Run id(s); default: latest of each spec/arm.")] = None,
    spot_checks: Annotated[int, typer.Option("--spot-checks", min=0, help="Random confident results per run.")] = 5,
) -> None:
    """Queue escalations, the disagreement frontier and this week's spot checks from runs, and (without
    --run) the monitoring tier's failures."""
    from evalwheel.review.queue import build_candidates, latest_runs, monitor_candidates
    from evalwheel.store import StoreError

    with closing(_open(store)) as rs:
        try:
            ids = list(run) if run else latest_runs(rs.runs)
            candidates = build_candidates(rs.runs, ids, spot_checks=spot_checks)
            if not run:
                candidates += monitor_candidates(rs.runs.url)
            added = rs.enqueue(candidates)
        except StoreError as exc:
            raise _fail(str(exc)) from None
        counts = rs.counts()
    typer.echo(f"queued {added} new item(s) from {len(ids)} run(s); open {counts['open']}, labelled {counts['done']}")


@review_app.command("assign")
def assign(
    reviewers: Annotated[list[str], typer.Argument(help="Two or more reviewer names.")],
    store: StoreOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many of the top unassigned items.")] = 50,
) -> None:
    """Give the highest-value unassigned open items to two reviewers each."""
    from evalwheel.review.store import ReviewError

    with closing(_open(store)) as rs:
        try:
            n = rs.assign_pairs(reviewers, limit=limit)
        except ReviewError as exc:
            raise _fail(str(exc)) from None
    typer.echo(f"assigned {n} item(s) to two reviewers each")


@review_app.command("export")
def export(
    check: Annotated[str, typer.Option("--check", help="Check / score name whose human verdict is the label.")],
    out: Annotated[Path, typer.Option("--out", help="Labels JSONL for `evalwheel calibrate --labels`.")],
    store: StoreOpt = None,
    run: Annotated[str | None, typer.Option("--run", help="Only items of this run.")] = None,
) -> None:
    """Write the reviewed labels of one check as calibration JSONL (disputed and n/a items left out)."""
    from evalwheel.fileio import check_writable
    from evalwheel.review.export import export_labels
    from evalwheel.review.store import ReviewError

    check_writable(out, what="--out")  # an unwritable --out is named before the store is opened
    with closing(_open(store)) as rs:
        if run is not None and not rs.knows_run(run):  # a typo used to replace --out with an empty file, exit 0
            raise _fail(f"--run: no run {run!r} in {rs.runs.safe_url} (see `evalwheel runs list`)")
        try:
            written, skipped = export_labels(rs, check, out, run)
        except ReviewError as exc:  # an unknown --check: refused before --out is written
            raise _fail(f"--check: {exc}") from None
    typer.echo(f"wrote {written} label(s) to {out}; {skipped} disputed or not-applicable left out")


@review_app.command("agreement")
def agreement_command(
    store: StoreOpt = None, as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False
) -> None:
    """Inter-annotator agreement (Cohen's kappa, Krippendorff's alpha) and graders vs humans."""
    from evalwheel.review.agreement import grader_vs_human, inter_annotator

    with closing(_open(store)) as rs:
        labelled = rs.labelled_items()
    raters, humans = inter_annotator(labelled), grader_vs_human(labelled)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "inter_annotator": [r.model_dump() for r in raters],
                    "grader_vs_human": [h.model_dump() for h in humans],
                },
                indent=2,
            )
        )
        return
    for r in raters:
        typer.echo(
            f"{r.kind:9} {r.name:28} items={r.items:4} kappa={_f(r.cohen_kappa)} alpha={_f(r.krippendorff_alpha)}"
        )
    for h in humans:
        typer.echo(f"grader    {h.name:28} n={h.n:4} accuracy={_f(h.accuracy)} kappa={_f(h.kappa)}")


def _f(x: float | None) -> str:
    return "   —  " if x is None else f"{x:6.3f}"


@review_app.command("promote")
def promote(
    item: Annotated[int, typer.Argument(help="Review item id.")],
    dataset: Annotated[Path, typer.Option("--dataset", help="Golden JSONL dataset to append to.")],
    approver: Annotated[str, typer.Option("--approver", help="Who approves the promotion.")],
    store: StoreOpt = None,
) -> None:
    """Promote an item two reviewers agree on to a golden dataset (re-locks it, records the approval)."""
    from evalwheel.review.golden import promote_to_golden
    from evalwheel.review.store import ReviewError

    with closing(_open(store)) as rs:
        try:
            record = promote_to_golden(rs, item, dataset, approver)
        except (ReviewError, ValueError) as exc:
            raise _fail(str(exc)) from None
    typer.echo(f"promoted {record['sample_id']} to {record['dataset']} (lock {record['lock']})")
