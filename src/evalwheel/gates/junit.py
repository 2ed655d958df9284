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
from typing import Literal

from evalwheel.gates.evaluate import GateReport, GateResult
from evalwheel.gates.summary import RunSummary, SampleRecord

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

    def red(self, rec: SampleRecord) -> bool:
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


def _reasons(rec: SampleRecord) -> tuple[str, str]:
    """(one-line message, multi-line body) for a failed sample."""
    reasons = "; ".join(f"{n.grader}: {n.reason}" if n.reason else n.grader for n in rec.failures)
    body = "\n".join(
        f"[epoch {n.epoch}] {n.grader}: {n.reason}" if rec.epochs > 1 else f"{n.grader}: {n.reason}"
        for n in rec.failures
    )
    epochs = f" in {rec.failed}/{rec.epochs} epochs" if rec.epochs > 1 else ""
    return f"failed{epochs}: {reasons or 'no grader reason'}", body or "failed"


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
    message, body = _reasons(rec) if status == "failed" else (rec.error or "error", rec.error or "")
    if blame is not None and not blame.red(rec):
        detail = f"\n{body}" if status == "failed" and rec.epochs > 1 else ""
        _el(case, "system-out", f"tolerated ({blame.why_tolerated(rec)}): {message}{detail}")
        return "passed"
    if status == "failed":
        _el(case, "failure", body, message=_short(message), type="sample-failed")
    else:
        _el(case, "error", body, message=_short(message), type="sample-error")
    return status


def _count(statuses: list[str]) -> dict[str, str]:
    return {
        "tests": str(len(statuses)),
        "failures": str(sum(s == "failed" for s in statuses)),
        "errors": str(sum(s == "error" for s in statuses)),
        "skipped": str(sum(s in ("skipped", "unscored") for s in statuses)),
    }


def junit_xml(
    report: GateReport, summary: RunSummary, *, include_samples: bool = True, sample_failures: SampleFailures = "gated"
) -> str:
    """The run as a JUnit XML document (UTF-8 text with declaration); counts are set on every suite.

    `sample_failures="gated"` (default) makes a failing sample a red <failure>/<error> only when a failed
    enforced gate covers it (its partition's gate, the error-rate gate, or a gate that lists it), so the
    test view is red exactly when the build is; tolerated failures pass with the reasons in <system-out>.
    `"all"` makes every failing sample red.
    """
    blame = _Blame(report) if sample_failures == "gated" else None
    root = ET.Element("testsuites", {"name": SUITE_PREFIX})
    all_statuses: list[str] = []

    gates = _el(root, "testsuite", name=f"{SUITE_PREFIX}.gates")
    props = _el(gates, "properties")
    for key, value in (
        ("run_id", report.run_id),
        ("baseline_run_id", report.baseline_run_id),
        ("exit_code", str(int(report.exit_code))),
    ):
        if value is not None:
            _el(props, "property", name=key, value=value)
    statuses = [_gate_case(gates, g) for g in report.gates]
    gates.attrib.update(_count(statuses))
    all_statuses += statuses

    if include_samples:
        for partition in summary.partitions:
            suite = _el(root, "testsuite", name=f"{SUITE_PREFIX}.{partition}")
            records = [r for r in summary.samples.values() if r.partition == partition]
            statuses = [_sample_case(suite, partition, r, blame) for r in records]
            suite.attrib.update(_count(statuses))
            all_statuses += statuses

    root.attrib.update(_count(all_statuses))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
