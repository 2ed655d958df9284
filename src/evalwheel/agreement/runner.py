"""Grade a labelled dataset with the response graders and compute agreement per task.

Robustness over cleverness: these runners are what measures us on a hidden split, on a machine we
have not seen. So a reply with an unknown human label is skipped *and counted* (with the raw values),
a reply without a label for a task is counted as unlabelled, an empty reply is graded like any other,
and a task is reported only if the file has human labels for it. `--tier best` falls back to the
rules (with a note) when the trained tier cannot run, e.g. without the embedding packages installed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from evalwheel.agreement.data import (
    LabelledReply,
    labelled_dimensions,
    mathdial_turns,
    mrbench_replies,
    unknown_dimensions,
)
from evalwheel.basemodel import EvalwheelModel
from evalwheel.datasets.mathdial import load_mathdial
from evalwheel.datasets.mrbench import MRBenchFile, load_mrbench
from evalwheel.graders.pedagogy.response.dimensions import TASKS, TELLING
from evalwheel.graders.pedagogy.response.tiers import grade_many
from evalwheel.graders.pedagogy.response.vectorize import Embedder
from evalwheel.stats.agreement import Agreement, agreement


class Tier(StrEnum):
    RULES = "rules"
    LINEAR = "linear"
    TRAINED = "trained"  # the old name of the linear tier, kept so existing commands keep working
    ENCODER = "encoder"
    ENSEMBLE = "ensemble"
    BEST = "best"


class TaskResult(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    task: str
    tier: str
    agreement: Agreement
    skipped_unknown: int = 0
    unknown_labels: dict[str, int] = Field(default_factory=dict)
    unlabelled: int = 0
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        a = self.agreement
        out: dict[str, Any] = {
            "macro_f1": a.macro_f1,
            "kappa": a.kappa,
            "n": a.n,
            "accuracy": a.accuracy,
            "labels": a.labels,
            "confusion": a.confusion,
            "per_label": {k: v.model_dump() for k, v in a.per_label.items()},
            "tier": self.tier,
            "skipped_unknown": self.skipped_unknown,
            "unknown_labels": self.unknown_labels,
            "unlabelled": self.unlabelled,
        }
        if self.note:
            out["note"] = self.note
        return out


class LabelledFileError(ValueError):
    """A labelled file whose items have problems (broken conversations, unknown labels, missing or unknown
    dimensions); `issues` has one line per problem, each naming the item and the field. Raised before any
    grading unless the caller asked to skip such items."""

    def __init__(self, path: Path | str, issues: Sequence[str]) -> None:
        self.path = str(path)
        self.issues = list(issues)
        super().__init__(f"{self.path}: {len(self.issues)} problem(s) in labelled items; first: {self.issues[0]}")


class AgreementReport(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    path: str
    n_items: int
    issues: list[str] = Field(default_factory=list)
    results: dict[str, TaskResult]

    def to_json(self) -> dict[str, Any]:
        """One object keyed by task name (MRBench's own dimension names, or "telling")."""
        return {task: r.to_json() for task, r in self.results.items()}


def grade_items(
    items: Sequence[LabelledReply], tasks: Sequence[str], tier: Tier, embedder: Embedder | None = None
) -> tuple[dict[str, list[str]], dict[str, str], dict[str, str]]:
    """Predicted labels per task for every item (items without a usable gold label get "" and are
    ignored by the caller), plus the tier used and notes per task. Only labelled items are graded."""
    rows = [i for i, it in enumerate(items) if set(tasks) & it.labels.keys()]
    if embedder is None:  # one run: the same student turn under eight replies is embedded once
        from evalwheel.embed import MiniLMEmbedder

        embedder = MiniLMEmbedder(cache=True)
    pairs = [(items[i].ctx, items[i].reply) for i in rows]
    scores, tiers, notes = grade_many(tasks, pairs, str(tier), embedder)
    preds: dict[str, list[str]] = {}
    for task in tasks:
        labels = [""] * len(items)
        for i, s in zip(rows, scores[task], strict=True):
            if task in items[i].labels:
                labels[i] = str(s.metadata["label"])
        preds[task] = labels
    return preds, tiers, notes


def measure(
    items: Sequence[LabelledReply], tasks: Sequence[str], tier: Tier, embedder: Embedder | None = None
) -> dict[str, TaskResult]:
    preds, tiers, notes = grade_items(items, tasks, tier, embedder)
    out = {}
    for task in tasks:
        rows = [i for i, it in enumerate(items) if task in it.labels]
        gold = [items[i].labels[task] for i in rows]
        unknown = Counter(it.unknown[task] for it in items if task in it.unknown)
        out[task] = TaskResult(
            task=task,
            tier=tiers[task],
            agreement=agreement(gold, [preds[task][i] for i in rows], TASKS[task].labels),
            skipped_unknown=sum(unknown.values()),
            unknown_labels=dict(unknown),
            unlabelled=sum(1 for it in items if task not in it.labels and task not in it.unknown),
            note=notes.get(task),
        )
    return out


def agree_mrbench(
    path: Path | str, tier: Tier = Tier.BEST, embedder: Embedder | None = None, *, skip_invalid: bool = True
) -> AgreementReport:
    """Agreement on every MRBench dimension the file has labels for.

    With `skip_invalid=False` any item problem (see `label_issues`) raises `LabelledFileError` before
    anything is graded; otherwise the problem items / labels are skipped, counted and listed in `issues`.
    """
    f = load_mrbench(path)
    items = mrbench_replies(f)
    tasks = labelled_dimensions(f)
    issues = [*f.issues, *label_issues(f, items, tasks)]
    if issues and not skip_invalid:
        raise LabelledFileError(path, issues)
    return AgreementReport(
        kind="mrbench",
        path=str(path),
        n_items=len(items),
        issues=issues,
        results=measure(items, tasks, tier, embedder),
    )


def label_issues(f: MRBenchFile, items: Sequence[LabelledReply], tasks: Sequence[str] = ()) -> list[str]:
    """One line per problem with a reply's labels, each naming item, conversation, tutor and field:

    - a label that cannot be mapped to the dimension's classes (skipped for that dimension, counted in
      `unknown_labels`, never folded into a class);
    - a dimension of `tasks` (those the file labels) that this reply has no label for (counted as unlabelled);
    - an annotation field that is not one of the eight dimensions (ignored: a misspelt dimension would
      otherwise just look unlabelled), named at the first reply that has it, with how many replies do.
    """
    out = []
    index = {c.conversation_id: c.index for c in f.conversations}
    for it in items:
        conv, tutor = it.key.split("\x1f")[:2]
        where = f"item {index.get(conv, '?')} (conversation {conv}), tutor {tutor!r}"
        for dim, raw in it.unknown.items():
            out.append(
                f"{where}: {dim}: unknown label {raw!r} "
                f"(expected one of {', '.join(TASKS[dim].labels)}; not counted for {dim})"
            )
        missing = [d for d in tasks if d not in it.labels and d not in it.unknown]
        if missing:
            out.append(f"{where}: no label for {', '.join(missing)} (the file labels them on other replies; "
                       "left out of those dimensions)")  # fmt: skip
    counts = unknown_dimensions(f)
    for name, n in counts.items():
        first = next(
            (c, r) for c in f.conversations for r in c.responses if name in r.annotation
        )
        out.append(
            f"item {first[0].index} (conversation {first[0].conversation_id}), tutor {first[1].tutor!r}: annotation "
            f"field {name!r} is not an MRBench dimension (ignored; on {n} replies)"
        )
    return out


def agree_mathdial(
    path: Path | str, tier: Tier = Tier.BEST, embedder: Embedder | None = None
) -> AgreementReport:
    """Agreement on MathDial's telling-vs-rest for every teacher turn with a move label."""
    f = load_mathdial(path)
    items = mathdial_turns(f)
    return AgreementReport(
        kind="mathdial",
        path=str(path),
        n_items=len(items),
        issues=f.issues,
        results=measure(items, [TELLING.name], tier, embedder),
    )
