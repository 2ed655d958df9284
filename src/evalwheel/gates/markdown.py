"""A compact markdown summary of a gated run, meant to be posted as a (sticky) pull-request comment.

Read top to bottom by a reviewer with a minute to spare: verdict and exit code first, then the
per-partition numbers with their intervals, the gates, each grader's verdicts next to the agreement with
humans it was measured at ("not calibrated" when it has no record), what newly broke against the baseline, and the top
failing samples with their graders' reasons. Sections from other modules (an A/B comparison, a cost
estimate) are accepted as plain markdown, an object with a `markdown()` method, or a flat mapping
rendered as a two-column table, so this module does not depend on them. The first line is an HTML marker
that sticky-comment actions can use to find and replace the previous comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from evalwheel.gates.codes import ExitCode
from evalwheel.gates.evaluate import GateReport, GateResult, fmt_number
from evalwheel.gates.summary import PARTITIONS, PartitionSummary, RunSummary
from evalwheel.markdown_text import cell, code_span

MARKER = "<!-- evalwheel-summary -->"
GITHUB_COMMENT_LIMIT = 65_536

_HEADLINE = {
    ExitCode.OK: "✅ {title}: all gates passed",
    ExitCode.GATE_FAILED: "❌ {title}: {n} gate(s) failed",
    ExitCode.BAD_INPUT: "🚫 {title}: bad input or configuration",
    ExitCode.TOO_MANY_ERRORS: "💥 {title}: too many run errors",
}
_ICON = {"passed": "✅ pass", "failed": "❌ fail", "skipped": "⏭️ skipped", "report-only": "⚠️ report only"}


@runtime_checkable
class SupportsMarkdown(Protocol):
    def markdown(self) -> str: ...


Section = str | Mapping[str, Any] | SupportsMarkdown


def _value(v: object) -> str:
    if isinstance(v, float):
        return fmt_number(v)
    return cell(v)


def render_section(section: Section) -> str:
    """A section as markdown: verbatim text, `obj.markdown()`, or a mapping as a key/value table."""
    if isinstance(section, str):
        return section.strip()
    if isinstance(section, SupportsMarkdown):
        return section.markdown().strip()
    rows = [f"| {cell(k)} | {_value(v)} |" for k, v in section.items()]
    return "\n".join(["| | |", "|---|---|", *rows])


def _rate(part: PartitionSummary) -> str:
    return part.interval.format() if part.scored else "—"


def _partition_table(summary: RunSummary) -> list[str]:
    lines = [
        "| partition | samples | results | passed | failed | unscored | errors | pass rate [95% CI] |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    rows = [*summary.partitions.values(), summary.overall] if len(summary.partitions) > 1 else [summary.overall]
    for p in rows:
        name = "**all**" if p is summary.overall else p.partition
        lines.append(
            f"| {name} | {p.samples} | {p.n} | {p.passed} | {p.failed} | {p.unscored} | {p.errors} | {_rate(p)} |"
        )
    return lines


def _gate_table(gates: list[GateResult]) -> list[str]:
    lines = ["| gate | result | measured | required | detail |", "|---|---|---:|---:|---|"]
    for g in gates:
        required = f"{g.comparison} {fmt_number(g.threshold)}" if g.threshold is not None else "—"
        lines.append(
            f"| {cell(g.name)} | {_ICON[g.status]} | {fmt_number(g.measured)} | {required} | {cell(g.message, 240)} |"
        )
    return lines


def _grader_table(summary: RunSummary) -> list[str]:
    """Each grader's verdict counts with the agreement figure it was measured at, or "not calibrated"."""
    from evalwheel.calibration.shipped import agreement_text

    lines = ["| grader | passed | failed | unscored | agreement with humans |", "|---|---:|---:|---:|---|"]
    for name, g in summary.overall.graders.items():
        lines.append(
            f"| {cell(name)} | {g.passed} | {g.failed} | {g.unscored} | {cell(agreement_text(g.agreement), 240)} |"
        )
    return lines


def _failing_rows(summary: RunSummary, limit: int) -> tuple[list[str], int]:
    """The first `limit` failing samples (golden first, then first-seen order) and the exact total.

    Only the listed samples' records are built; the total is counted from the compact outcomes.
    """
    total = sum(1 for o in summary.samples.outcomes(notable=True) if o.status in ("failed", "error"))
    known = [p for p in PARTITIONS if p in summary.partitions]
    order = [*known, *(p for p in summary.partitions if p not in known)]
    lines = ["| sample | partition | status | graders | reason |", "|---|---|---|---|---|"]
    shown = 0
    for partition in order:
        if shown >= limit:
            break
        for r in summary.iter_failing_samples(partition):
            if shown >= limit:
                break
            shown += 1
            if r.status == "error":
                graders, reason = "—", r.error or ("(message not kept)" if r.details_dropped else "error")
            else:
                graders = ", ".join(dict.fromkeys(n.grader for n in r.failures)) or "—"
                missing = "(reasons not kept)" if r.details_dropped else ""
                reason = next((n.reason for n in r.failures if n.reason), missing)
            epochs = f" ({r.failed}/{r.epochs} epochs)" if r.epochs > 1 and r.status == "failed" else ""
            lines.append(f"| {code_span(r.sample_id, 80)} | {r.partition} | {r.status}{epochs} | {cell(graders)} | "
                         f"{cell(reason)} |")
    return lines, total


def markdown_summary(
    report: GateReport,
    summary: RunSummary,
    comparison: Section | None = None,
    cost: Section | None = None,
    *,
    title: str = "evalwheel",
    max_failures: int = 10,
    max_chars: int = GITHUB_COMMENT_LIMIT - 1_536,
) -> str:
    """The PR comment: verdict, partitions, gates, graders with their agreement, newly failing samples, top
    failures, optional extras."""
    failed = len(report.failed_gates)
    head = _HEADLINE[report.exit_code].format(title=title, n=failed)
    meta = [f"exit code **{int(report.exit_code)}**"]
    if report.run_id:
        meta.append(f"run {code_span(report.run_id, table=False)}")
    if report.baseline_run_id:
        meta.append(f"baseline {code_span(report.baseline_run_id, table=False)}")
    meta.append(f"{summary.overall.n} results over {summary.overall.samples} samples")
    out = [MARKER, f"### {head}", "", " · ".join(meta), "", *_partition_table(summary), ""]
    if report.gates:
        out += ["#### Gates", "", *_gate_table(report.gates), ""]
    if summary.overall.graders:
        out += ["#### Graders", "", *_grader_table(summary), ""]
    regression = next((g for g in report.gates if g.name == "baseline" and g.failing_samples), None)
    if regression is not None:
        more = regression.failing_total - len(regression.failing_samples)
        ids = ", ".join(code_span(s, 80, table=False) for s in regression.failing_samples)
        out += ["#### Pass → fail since the baseline", "", ids + (f" and {more} more" if more > 0 else ""), ""]
    rows, total = _failing_rows(summary, max_failures)
    if total:
        shown = min(total, max_failures)
        heading = f"#### Failing samples ({shown} of {total})" if total > shown else "#### Failing samples"
        out += [heading, "", *rows, ""]
    if comparison is not None:
        out += ["#### Comparison", "", render_section(comparison), ""]
    if cost is not None:
        out += ["#### Cost", "", render_section(cost), ""]
    text = "\n".join(out).rstrip() + "\n"
    if len(text) > max_chars:
        cut = text.rfind("\n", 0, max_chars - 120)
        text = text[: max(cut, 0)] + "\n\n_(truncated to fit a PR comment: the JUnit report has every sample)_\n"
    return text
