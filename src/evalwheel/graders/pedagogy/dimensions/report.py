"""Terminal and JSON views of the reviewer dimensions, shared by `evaluate`, `agree sessions` and replay."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.table import Table

from evalwheel.types import DimensionName, Score, SessionEvaluation

_COLOUR = {0: "red", 1: "yellow", 2: "green"}


def _level(s: Score) -> str:
    return "—" if s.value is None else str(int(s.value))


CELL_HEADER = "FACEPSL"  # fidelity, accuracy, clarity, engagement, personalization, safety, learning


def dimension_cell(result: SessionEvaluation) -> str:
    """Seven coloured digits in CELL_HEADER order (0 red, 1 yellow, 2 green, '-' not applicable)."""
    by_name = {s.name: s for s in result.dimensions}
    parts = []
    for d in DimensionName:
        s = by_name.get(d.value)
        if s is None or s.value is None:
            parts.append("[dim]-[/]")
        else:
            parts.append(f"[{_COLOUR.get(int(s.value), 'white')}]{int(s.value)}[/]")
    return "".join(parts)


def dimension_means(results: Iterable[SessionEvaluation]) -> dict[str, float | None]:
    """Mean level per dimension over the sessions where it was scored."""
    values: dict[str, list[float]] = {d.value: [] for d in DimensionName}
    for r in results:
        for s in r.dimensions:
            if s.value is not None:
                values.setdefault(s.name, []).append(s.value)
    return {k: round(sum(v) / len(v), 3) if v else None for k, v in values.items()}


def dimensions_table(result: SessionEvaluation) -> Table:
    """`--explain`: every dimension with level, confidence, tier, measured agreement, reason and evidence."""
    from evalwheel.calibration.shipped import agreement_text, score_note

    table = Table(title="reviewer dimensions (0-2, docs/rubric.md)", show_lines=True)
    for col in ("dimension", "level", "conf", "tier", "agreement", "reason", "evidence"):
        table.add_column(col, no_wrap=col in ("dimension", "level", "conf", "tier"))
    for s in result.dimensions:
        evidence = "\n".join(
            f"turn {e.turn_index}: “{e.snippet}”" if e.turn_index is not None else f"“{e.snippet}”" for e in s.evidence
        )
        level = _level(s) if s.value is None else f"[{_COLOUR.get(int(s.value), 'white')}]{_level(s)}[/]"
        conf = "" if s.confidence is None else f"{s.confidence:.2f}"
        agreement = agreement_text(score_note(s.metadata))
        table.add_row(s.name, level, conf, str(s.metadata.get("tier", "")), agreement, s.reason, evidence)
    return table


def agreement_table(dimensions: dict[str, object], sessions: int) -> Table:
    """`agree sessions`: weighted kappa, exact and within-one agreement, confusion per dimension."""
    table = Table(title=f"reviewer dimensions vs labels ({sessions} labelled sessions; 0-2 scale)")
    for col in ("dimension", "n", "weighted κ (quadratic)", "exact", "within 1", "confusion (rows gold 0/1/2)"):
        table.add_column(col, justify="left" if col == "dimension" else "right", no_wrap=col == "dimension")
    for name, a in dimensions.items():
        n = getattr(a, "n", 0)
        wk = getattr(a, "weighted_kappa", None)
        exact = getattr(a, "exact", None)
        within = getattr(a, "within_one", None)
        table.add_row(
            name,
            str(n),
            "—" if wk is None else f"{wk:.3f}",
            "—" if exact is None else f"{exact:.3f}",
            "—" if within is None else f"{within:.3f}",
            str(getattr(a, "confusion", "")),
        )
    return table


def arm_dimension_rows(arms: Sequence[str], per_arm: Sequence[dict[str, float | None]]) -> Table:
    """Replay's A/B view: mean level per dimension, one column per arm."""
    table = Table(title="mean level per reviewer dimension (0-2)")
    table.add_column("dimension", no_wrap=True)
    for arm in arms:
        table.add_column(arm, justify="right", no_wrap=True)
    for d in DimensionName:
        row = [d.value]
        for means in per_arm:
            v = means.get(d.value)
            row.append("—" if v is None else f"{v:.2f}")
        table.add_row(*row)
    return table
