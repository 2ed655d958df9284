"""JUnit XML for CI test viewers: one suite for the gates, one suite per partition, one case per sample.

CI systems (GitHub's test reporters, GitLab, Jenkins) already know how to show JUnit, so a failing golden
sample appears next to the unit tests with its failing graders' reasons. Mapping, documented in
docs/ci.md: a failed gate is a <failure>; a failed sample a <failure> and an errored one an <error> when
a failed gate covers it (otherwise it was tolerated by a passing gate, e.g. 3 misses under a 0.8 threshold,
and passes with its reasons in <system-out>, so the test view is red exactly when the build is); a
skipped gate or an unscored sample is <skipped>; a report-only gate that missed its threshold passes with
a note in <system-out>. Built with ElementTree, with characters XML 1.0 cannot carry (ANSI escapes, NULs from a
model's output) removed first, so the file always parses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Literal
from xml.sax.saxutils import quoteattr

from evalwheel.gates.evaluate import GateReport, GateResult
from evalwheel.gates.summary import RunSummary, SampleOutcome, SampleRecord

SUITE_PREFIX = "evalwheel"
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MESSAGE_MAX = 500


def xml_safe(text: str) -> str:
    """Drop characters that XML 1.0 forbids (ElementTree would write them and the file would not parse)."""
    return _INVALID_XML.sub("", text)


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, {k: xml_safe(v) for k, v in attrs.items()})
    if text:
        node.text = xml_safe(text)
    return node


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MESSAGE_MAX else flat[: MESSAGE_MAX - 1] + "…"


def _gate_case(suite: ET.Element, gate: GateResult) -> str:
    case = _el(suite, "testcase", classname=f"{SUITE_PREFIX}.gates", name=gate.name + (
        f"[{gate.partition}]" if gate.partition and gate.partition != gate.name else ""
    ))
    body = gate.message
    if gate.failing_samples:
        more = gate.failing_total - len(gate.failing_samples)
        body += "\nsamples: " + ", ".join(gate.failing_samples) + (f" (+{more} more)" if more > 0 else "")
    if gate.status == "failed":
        _el(case, "failure", body, message=_short(gate.message), type=f"gate-exit-{int(gate.exit_code)}")
    elif gate.status == "skipped":
        _el(case, "skipped", message=_short(gate.message))
    elif gate.status == "report-only":
        _el(case, "system-out", "report only (not enforced): " + body)
    else:
        _el(case, "system-out", body)
    return gate.status


SampleFailures = Literal["gated", "all"]


class _Blame:
    """Which failing samples a failed enforced gate holds responsible (those are the red test cases)."""

    def __init__(self, report: GateReport) -> None:
        failed = report.failed_gates
        self.partitions = {g.name for g in failed if g.partition is not None and g.partition == g.name}
        self.strict_partitions = {
            g.name for g in failed if g.name in self.partitions and g.details.get("basis") == "all"
        }
        self.errors = any(g.name == "error_rate" for g in failed)
        self.listed = {sid for g in failed for sid in g.failing_samples}
        self.gates = {g.name: g for g in report.gates}

    def red(self, rec: SampleOutcome | SampleRecord) -> bool:
        if rec.sample_id in self.listed:
            return True
        if rec.status == "failed":
            return rec.partition in self.partitions
        if rec.status == "error":
            return self.errors or rec.partition in self.strict_partitions
        return False

    def why_tolerated(self, rec: SampleRecord) -> str:
        gate = self.gates.get("error_rate" if rec.status == "error" else rec.partition)
        if gate is None:
            return f"no gate on the {rec.partition} partition"
        return f"within the passing {gate.name} gate ({gate.message})"


DROPPED = "reasons not kept (past the summary's per-partition detail limit; the run store has every score)"


def _reasons(rec: SampleRecord) -> tuple[str, str]:
    """(one-line message, multi-line body) for a failed sample."""
    reasons = "; ".join(f"{n.grader}: {n.reason}" if n.reason else n.grader for n in rec.failures)
    if not reasons and rec.details_dropped:
        reasons = DROPPED
    body = "\n".join(
        f"[epoch {n.epoch}] {n.grader}: {n.reason}" if rec.epochs > 1 else f"{n.grader}: {n.reason}"
        for n in rec.failures
    )
    epochs = f" in {rec.failed}/{rec.epochs} epochs" if rec.epochs > 1 else ""
    fallback = "failed: " + DROPPED if rec.details_dropped else "failed"
    return f"failed{epochs}: {reasons or 'no grader reason'}", body or fallback


def _error_text(rec: SampleRecord) -> str:
    if rec.error:
        return rec.error
    return "error: message not kept (past the summary's per-partition detail limit)" if rec.details_dropped else "error"


def _pass_line(partition: str, outcome: SampleOutcome) -> str:
    """A clean pass as one line of XML, straight from its packed outcome (no record, no Element)."""
    attrs = {"classname": f"{SUITE_PREFIX}.{partition}", "name": outcome.sample_id}
    if outcome.latency_ms is not None:
        attrs["time"] = f"{outcome.latency_ms / 1000.0:.3f}"
    return f"    <testcase{_attrs(attrs)} />\n"


def _case_status(o: SampleOutcome | SampleRecord, blame: _Blame | None) -> str:
    """The status a sample's test case reports: a tolerated failure passes (see the module docstring)."""
    status = o.status
    if status in ("failed", "error") and blame is not None and not blame.red(o):
        return "passed"
    return status


def _sample_case(suite: ET.Element, partition: str, rec: SampleRecord, blame: _Blame | None) -> str:
    attrs = {"classname": f"{SUITE_PREFIX}.{partition}", "name": rec.sample_id}
    if rec.latency_ms is not None:
        attrs["time"] = f"{rec.latency_ms / 1000.0:.3f}"
    case = _el(suite, "testcase", **attrs)
    status = rec.status
    if status == "unscored":
        _el(case, "skipped", message="unscored: no gating grader reached a verdict")
        return status
    if status == "passed":
        return status
    message, body = _reasons(rec) if status == "failed" else (_error_text(rec), rec.error or "")
    if blame is not None and not blame.red(rec):
        detail = f"\n{body}" if status == "failed" and rec.epochs > 1 else ""
        _el(case, "system-out", f"tolerated ({blame.why_tolerated(rec)}): {message}{detail}")
        return "passed"
    if status == "failed":
        _el(case, "failure", body, message=_short(message), type="sample-failed")
    else:
        _el(case, "error", body, message=_short(message), type="sample-error")
    return status


def _count(statuses: Iterable[str]) -> Counter[str]:
    tally: Counter[str] = Counter()
    for s in statuses:
        tally["tests"] += 1
        if s in ("failed", "error"):
            tally["failures" if s == "failed" else "errors"] += 1
        elif s in ("skipped", "unscored"):
            tally["skipped"] += 1
    return tally


def _count_attrs(tally: Counter[str]) -> dict[str, str]:
    return {k: str(tally[k]) for k in ("tests", "failures", "errors", "skipped")}


def _attrs(attrs: dict[str, str]) -> str:
    return "".join(f" {k}={quoteattr(xml_safe(v))}" for k, v in attrs.items())


def _element_text(node: ET.Element, level: int) -> str:
    """One indented Element as text (with its trailing newline), for splicing into the streamed document."""
    ET.indent(node, level=level)
    return "  " * level + ET.tostring(node, encoding="unicode").rstrip() + "\n"


def _sample_suite_tally(summary: RunSummary, partition: str, blame: _Blame | None) -> Counter[str]:
    """A partition suite's counts, known before its cases are written (clean passes are simply passes)."""
    tally = _count(_case_status(o, blame) for o in summary.samples.outcomes(partition, notable=True))
    tally["tests"] = summary.samples.count(partition)
    return tally


def iter_junit_xml(
    report: GateReport, summary: RunSummary, *, include_samples: bool = True, sample_failures: SampleFailures = "gated"
) -> Iterator[str]:
    """The JUnit document of `junit_xml` as text chunks, so a large run can be written to a file without
    building the whole tree or string (`fh.writelines(iter_junit_xml(report, summary))`).

    Suite counts are computed in a first pass over the samples that are not clean passes; then the cases
    are written one at a time, clean passes as plain lines and the rest through ElementTree.
    """
    blame = _Blame(report) if sample_failures == "gated" else None
    gates = ET.Element("testsuite", {"name": f"{SUITE_PREFIX}.gates"})
    props = _el(gates, "properties")
    for key, value in (
        ("run_id", report.run_id),
        ("baseline_run_id", report.baseline_run_id),
        ("exit_code", str(int(report.exit_code))),
    ):
        if value is not None:
            _el(props, "property", name=key, value=value)
    gate_tally = _count([_gate_case(gates, g) for g in report.gates])
    gates.attrib.update(_count_attrs(gate_tally))

    partitions = list(summary.partitions) if include_samples else []
    tallies = {p: _sample_suite_tally(summary, p, blame) for p in partitions}
    total = sum(tallies.values(), gate_tally)
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    yield f"<testsuites{_attrs({'name': SUITE_PREFIX, **_count_attrs(total)})}>\n"
    yield _element_text(gates, 1)
    for partition in partitions:
        yield f"  <testsuite{_attrs({'name': f'{SUITE_PREFIX}.{partition}', **_count_attrs(tallies[partition])})}>\n"
        for o in summary.samples.outcomes(partition):
            if o.status == "passed":
                yield _pass_line(partition, o)
            else:
                holder = ET.Element("suite")
                _sample_case(holder, partition, summary.samples[o.sample_id], blame)
                yield _element_text(holder[0], 2)
        yield "  </testsuite>\n"
    yield "</testsuites>\n"


def junit_xml(
    report: GateReport, summary: RunSummary, *, include_samples: bool = True, sample_failures: SampleFailures = "gated"
) -> str:
    """The run as a JUnit XML document (UTF-8 text with declaration); counts are set on every suite.

    `sample_failures="gated"` (default) makes a failing sample a red <failure>/<error> only when a failed
    enforced gate covers it (its partition's gate, the error-rate gate, or a gate that lists it), so the
    test view is red exactly when the build is; tolerated failures pass with the reasons in <system-out>.
    `"all"` makes every failing sample red. For very large runs prefer `iter_junit_xml` into a file.
    """
    return "".join(
        iter_junit_xml(report, summary, include_samples=include_samples, sample_failures=sample_failures)
    )
