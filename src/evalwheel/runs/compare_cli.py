"""`evalwheel compare RUN_A RUN_B`: is B a real regression or improvement over A, or noise?

A is the baseline, B the candidate. Exit codes: 0 no regression, 1 regression (do not deploy), 2 bad input
(unknown run, two runs that share no sample, or whose shared samples all changed content, and so cannot be
compared).

Several epochs of one sample fold into one outcome (pass when most
epochs passed, the mean value) so that repeated samples are not counted as independent evidence. A sample whose
content changed between the runs' dataset versions (its `sample_hash` differs) is left out, as by the baseline gate.
"""

from __future__ import annotations

import json
from collections import defaultdict
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evalwheel.datasets.samples import InvalidDatasetError
from evalwheel.fileio import FileWriteError, check_writable, refuse_overwriting_input, write_text_atomic
from evalwheel.markdown_text import code_span
from evalwheel.project import sqlite_file
from evalwheel.runs.costing import RunCost, run_cost
from evalwheel.runs.dataset_source import PreparedDataset, prepare_dataset
from evalwheel.runs.spec import CostModelSpec
from evalwheel.stats.compare import Comparison, Outcome, changed_ids, compare_runs, nothing_comparable
from evalwheel.store import Store, StoreError
from evalwheel.termio import fail
from evalwheel.types import RunInfo

out = Console()
err = Console(stderr=True)


def run_outcomes(store: Store, run_id: str) -> list[Outcome]:
    passes: dict[str, list[bool | None]] = defaultdict(list)
    values: dict[str, list[float]] = defaultdict(list)
    hashes: dict[str, str] = {}
    for r in store.iter_results(run_id, with_output=False):
        passes[r.sample_id].append(True if r.status == "passed" else False if r.status == "failed" else None)
        if r.value is not None:
            values[r.sample_id].append(r.value)
        if r.sample_hash and not hashes.get(r.sample_id):
            hashes[r.sample_id] = r.sample_hash
    outcomes = []
    for sid, ps in passes.items():
        scored = [p for p in ps if p is not None]
        passed = None if not scored else sum(scored) * 2 > len(scored) if len(scored) > 1 else scored[0]
        vs = values.get(sid)
        value = sum(vs) / len(vs) if vs else None
        outcomes.append(Outcome(sample_id=sid, passed=passed, value=value, sample_hash=hashes.get(sid, "")))
    return outcomes


def resolve_run(store: Store, ref: str) -> RunInfo:
    """A run id, or `SPEC_NAME@latest` / `SPEC_NAME[ARM]@latest`: the newest finished run of that spec (and arm;
    without an arm, the run with no arm, else the spec's newest finished run of any arm)."""
    if not ref.endswith("@latest"):
        return store.get_run(ref)
    name, arm = ref[: -len("@latest")], None
    if name.endswith("]") and "[" in name:
        name, arm = name[: name.index("[")], name[name.index("[") + 1 : -1]
    info = store.latest_run(name, arm)
    if info is None and arm is None:  # a spec whose runs all have an arm (replay): its newest finished run
        info = next((r for r in store.list_runs(name) if r.status == "finished"), None)
    if info is None:
        which = f"spec {name!r}" + (f" arm {arm!r}" if arm else "")
        raise StoreError(f"no finished run of {which} in {store.safe_url} (partial runs, cut by --limit, are skipped)")
    return info


bad_input = fail  # `runs show` uses it too


def _dataset_of(info: RunInfo) -> PreparedDataset | None:
    path = info.metadata.get("dataset")
    if not isinstance(path, str) or not Path(path).is_file():
        return None
    try:
        return prepare_dataset(Path(path))
    except (InvalidDatasetError, ValueError):
        return None


COLUMNS = ("metric", "A", "B", "B − A", "test", "p", "effect size", "MDE (80% power)")


def comparison_rows(cmp: Comparison) -> list[list[str]]:
    """One row per compared quantity (pass rate, and score when there are values): shared by both outputs."""
    pf = cmp.pass_fail
    rows = [
        [
            "pass rate",
            pf.rate_a.format(3),
            pf.rate_b.format(3),
            pf.diff.format(3),
            pf.test.name,
            _p(pf.test.p_value),
            f"{pf.effect_size.name} {_f(pf.effect_size.value)}",
            _f(pf.mde.difference),
        ],
    ]
    if cmp.scores is not None:
        sc = cmp.scores
        rows.append(
            [
                "score",
                sc.mean_a.format(3),
                sc.mean_b.format(3),
                sc.diff.format(3),
                sc.test.name,
                _p(sc.test.p_value),
                f"{sc.effect_size.name} {_f(sc.effect_size.value)}",
                _f(sc.mde.difference),
            ]
        )
    return rows


def comparison_markdown(cmp: Comparison, a: str, b: str, costs: tuple[RunCost, RunCost] | None) -> str:
    header = ["", f"A {code_span(a)}", f"B {code_span(b)}", *COLUMNS[3:]]
    lines = [
        f"**{cmp.verdict}** — {cmp.recommendation}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in comparison_rows(cmp)),
        "",
        cmp.pairing_note,
    ]
    if costs is not None:
        lines += ["", f"A: {costs[0].markdown()}", "", f"B: {costs[1].markdown()}"]
    return "\n".join(lines)


def _f(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def _p(p: float | None) -> str:
    return "—" if p is None else (f"{p:.2g}" if p < 0.001 else f"{p:.3f}")


def compare_command(
    run_a: Annotated[str, typer.Argument(metavar="RUN_A", help="Baseline: a run id or SPEC_NAME[ARM]@latest.")],
    run_b: Annotated[str, typer.Argument(metavar="RUN_B", help="Candidate: a run id or SPEC_NAME[ARM]@latest.")],
    store_target: Annotated[str | None, typer.Option("--store", help="SQLAlchemy URL or SQLite file.")] = None,
    min_n: Annotated[int, typer.Option("--min-n", min=2, help="Below this many samples: insufficient_data.")] = 20,
    trivial: Annotated[
        float, typer.Option("--trivial", min=0.0, help="Pass-rate change (fraction) too small to matter.")
    ] = 0.02,
    alpha: Annotated[float, typer.Option("--alpha", min=0.0001, max=0.5)] = 0.05,
    cost_model: Annotated[
        str | None, typer.Option("--cost-model", help="tutoring | support_desk: dollars per N sessions.")
    ] = None,
    sessions: Annotated[int, typer.Option("--sessions", min=1, help="N for the cost model.")] = 1000,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Write a markdown section here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Paired (McNemar / Wilcoxon) or unpaired (two-proportion / Welch) comparison with a deploy verdict."""
    spec: CostModelSpec | None = None
    try:  # bad input is refused before the store is opened: an unknown preset, a --markdown that cannot be written
        if cost_model is not None:
            spec = CostModelSpec(preset=cost_model, sessions=sessions)
        if markdown is not None:
            store_file = sqlite_file(store_target)  # `--markdown runs.sqlite` used to replace the store
            refuse_overwriting_input(markdown, [store_file] if store_file else [], option="--markdown")
            check_writable(markdown, what="--markdown")
    except ValidationError as exc:
        cause = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise bad_input(f"--cost-model {cost_model!r}: {cause}") from None
    except ValueError as exc:  # FileWriteError, or an unreadable evalwheel.yaml
        raise bad_input(str(exc)) from None
    try:
        store = Store(store_target, must_exist=True)
    except StoreError as exc:
        raise bad_input(str(exc)) from None
    with closing(store):  # closed before exit: the CLI skips the final collection (evalwheel.closing)
        try:
            info_a, info_b = resolve_run(store, run_a), resolve_run(store, run_b)
        except StoreError as exc:
            raise bad_input(str(exc)) from None
        run_a, run_b = info_a.run_id, info_b.run_id
        outcomes_a, outcomes_b = run_outcomes(store, run_a), run_outcomes(store, run_b)
        unrelated = unrelated_reason(info_a, info_b, outcomes_a, outcomes_b)
        if unrelated is not None:
            raise bad_input(unrelated)
        cmp = compare_runs(outcomes_a, outcomes_b, min_n=min_n, trivial_diff=trivial, alpha=alpha)
        costs: tuple[RunCost, RunCost] | None = None
        if spec is not None:
            ds_a, ds_b = _dataset_of(info_a), _dataset_of(info_b)
            if ds_a is not None and ds_b is not None:
                costs = (
                    run_cost(store, run_a, ds_a, info_a.arm, spec),
                    run_cost(store, run_b, ds_b, info_b.arm, spec),
                )
            else:  # asked for, so never dropped without a word
                missing = run_a if ds_a is None else run_b
                err.print(
                    f"[yellow]warning:[/] --cost-model not applied: the dataset of run {escape(missing)} "
                    "(its human labels) cannot be read",
                    highlight=False,
                    soft_wrap=True,
                )
    if markdown is not None:
        try:
            write_text_atomic(markdown, comparison_markdown(cmp, run_a, run_b, costs) + "\n")
        except FileWriteError as exc:
            raise bad_input(str(exc)) from None
    if as_json:
        data = cmp.model_dump(mode="json")
        if costs is not None:
            data["cost"] = {"a": costs[0].model_dump(mode="json"), "b": costs[1].model_dump(mode="json")}
        out.print_json(json.dumps(data))
        raise typer.Exit(verdict_exit_code(cmp))
    colour = {"regression": "red", "improvement": "green"}.get(cmp.verdict, "yellow")
    out.print(f"[bold {colour}]{cmp.verdict}[/]: {escape(cmp.recommendation)}", highlight=False)
    table = Table(
        title=escape(f"A = {run_a} ({info_a.arm or info_a.spec_name})   B = {run_b} ({info_b.arm or info_b.spec_name})")
    )
    for col in COLUMNS:
        table.add_column(col)
    for row in comparison_rows(cmp):
        table.add_row(*row)
    out.print(table)
    out.print(escape(cmp.pairing_note), highlight=False)
    for note in cmp.notes:
        out.print(f"[dim]- {escape(note)}[/]", highlight=False)
    if costs is not None:
        out.print(escape(f"A: {costs[0].markdown()}\nB: {costs[1].markdown()}"), highlight=False)
    raise typer.Exit(verdict_exit_code(cmp))


def verdict_exit_code(cmp: Comparison) -> int:
    """1 when B is a regression (CI must stop), else 0: the same contract as a failed gate in `evalwheel run`."""
    return 1 if cmp.verdict == "regression" else 0


def unrelated_reason(info_a: RunInfo, info_b: RunInfo, a: list[Outcome], b: list[Outcome]) -> str | None:
    """Why two runs cannot be compared at all, or None: runs with no sample in common measure different things,
    and any verdict on them (even "deploy") would be an artefact of two unrelated datasets. So do runs whose
    shared samples all changed content between their dataset versions."""
    if not a or not b:
        empty = info_a.run_id if not a else info_b.run_id
        return f"run {empty} has no results to compare"
    shared = {o.sample_id for o in a} & {o.sample_id for o in b}
    if shared:
        changed = changed_ids(a, b)
        if shared - changed:
            return None
        return f"runs {info_a.run_id} and {info_b.run_id}: " + nothing_comparable(len(changed))
    return (
        f"runs {info_a.run_id} ({info_a.spec_name}) and {info_b.run_id} ({info_b.spec_name}) share no sample ids: "
        "they ran on unrelated datasets, so a comparison would say nothing. Compare runs of the same dataset "
        "(e.g. SPEC@latest against a run id of the same spec)."
    )
