"""Turn imported MRBench / MathDial records into (context, reply, human labels) items.

Shared by the agreement runners and the trainer so both see exactly the same contexts and label
mapping. Human labels are mapped to each task's label set with `canonical_label`; a label that is
present but not recognised is kept in `unknown` so runners can skip *and count* it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from evalwheel.datasets.mathdial import MOVES, MathDialFile
from evalwheel.datasets.mrbench import MRBenchFile
from evalwheel.graders.pedagogy.response.context import ResponseContext, from_mrbench, from_turns
from evalwheel.graders.pedagogy.response.dimensions import (
    DIMENSION_ORDER,
    TELLING,
    canonical_label,
    dimension_named,
)


@dataclass
class LabelledReply:
    """One reply to grade. `group` is the conversation id, used to keep conversations within one CV fold."""

    group: str
    ctx: ResponseContext
    reply: str
    labels: dict[str, str] = field(default_factory=dict)  # task -> canonical label
    unknown: dict[str, str] = field(default_factory=dict)  # task -> raw label that was not recognised
    key: str = ""


def mrbench_replies(f: MRBenchFile) -> list[LabelledReply]:
    """Every tutor reply of every conversation, with canonical labels for the eight dimensions."""
    out = []
    for conv in f.conversations:
        ctx = from_mrbench(conv.history, conv.ground_truth)
        for r in conv.responses:
            item = LabelledReply(
                group=conv.conversation_id,
                ctx=ctx,
                reply=r.response,
                key=f"{conv.conversation_id}\x1f{r.tutor}\x1f{r.response}",
            )
            for name, raw in r.annotation.items():
                found = dimension_named(name)
                if found is None:
                    continue  # a dimension we do not grade (counted by `unknown_dimensions`)
                dim = found.name
                label = canonical_label(dim, raw)
                if label is None:
                    item.unknown[dim] = raw
                else:
                    item.labels[dim] = label
            out.append(item)
    return out


def labelled_dimensions(f: MRBenchFile) -> list[str]:
    """The dimensions (in report order) for which the file has at least one human label."""
    present = {d.name for c in f.conversations for r in c.responses for n in r.annotation if (d := dimension_named(n))}
    return [d for d in DIMENSION_ORDER if d in present]


def unknown_dimensions(f: MRBenchFile) -> dict[str, int]:
    """Annotation keys that are not one of the eight dimensions, with how many replies carry each."""
    from collections import Counter

    return dict(
        Counter(n for c in f.conversations for r in c.responses for n in r.annotation if dimension_named(n) is None)
    )


def merge_duplicates(items: Iterable[LabelledReply]) -> list[LabelledReply]:
    """Merge replies that occur in several files (MRBench v3 re-releases most of v2): one item per
    (conversation, tutor, text), labels united, so training never counts a reply twice."""
    merged: dict[str, LabelledReply] = {}
    for it in items:
        if it.key in merged:
            merged[it.key].labels = {**it.labels, **merged[it.key].labels}
        else:
            merged[it.key] = LabelledReply(
                it.group, it.ctx, it.reply, dict(it.labels), dict(it.unknown), it.key
            )
    return list(merged.values())


def mathdial_turns(f: MathDialFile) -> list[LabelledReply]:
    """Each teacher turn (move prefix already stripped) in the context of the turns before it."""
    out = []
    for d in f.dialogues:
        history: list[tuple[str, str]] = []
        for i, t in enumerate(d.turns):
            if t.is_teacher:
                ctx = from_turns(
                    history,
                    problem=d.question,
                    ground_truth=d.ground_truth,
                    extra_text=d.student_incorrect_solution,
                )
                item = LabelledReply(group=d.qid, ctx=ctx, reply=t.text, key=f"{d.qid}\x1f{d.line}\x1f{i}")
                if t.move in MOVES:
                    item.labels[TELLING.name] = "telling" if t.move == "telling" else "not_telling"
                else:
                    item.unknown[TELLING.name] = t.move or "(no move)"
                out.append(item)
            history.append(("tutor" if t.is_teacher else "student", t.text))
    return out
