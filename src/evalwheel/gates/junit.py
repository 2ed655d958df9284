"""JUnit XML for CI test viewers: one suite for the gates, one suite per partition, one case per sample.

CI systems (GitHub's test reporters, GitLab, Jenkins) already know how to show JUnit, so a failing golden
sample appears next to the unit tests with its failing graders' reasons. Mapping, documented in
docs/ci.md: a failed gate or sample is a <failure>, an errored sample an <error>, a skipped gate or an
unscored sample <skipped>; a report-only gate that missed its threshold passes with a note in
<system-out>. Built with ElementTree, with characters XML 1.0 cannot carry (ANSI escapes, NULs from a
model's output) removed first, so the file always parses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

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


def _sample_case(suite: ET.Element, partition: str, rec: SampleRecord) -> str:
    attrs = {"classname": f"{SUITE_PREFIX}.{partition}", "name": rec.sample_id}
    if rec.latency_ms is not None:
        attrs["time"] = f"{rec.latency_ms / 1000.0:.3f}"
    case = _el(suite, "testcase", **attrs)
    status = rec.status
    epochs = f" in {rec.failed}/{rec.epochs} epochs" if rec.epochs > 1 else ""
    if status == "failed":
        reasons = "; ".join(f"{n.grader}: {n.reason}" if n.reason else n.grader for n in rec.failures)
        body = "\n".join(
            f"[epoch {n.epoch}] {n.grader}: {n.reason}" if rec.epochs > 1 else f"{n.grader}: {n.reason}"
            for n in rec.failures
        )
        _el(case, "failure", body or "failed", message=_short(f"failed{epochs}: {reasons or 'no grader reason'}"),
            type="sample-failed")
    elif status == "error":
        _el(case, "error", rec.error or "", message=_short(rec.error or "error"), type="sample-error")
    elif status == "unscored":
        _el(case, "skipped", message="unscored: no gating grader reached a verdict")
    return status


def _count(statuses: list[str]) -> dict[str, str]:
    return {
        "tests": str(len(statuses)),
        "failures": str(sum(s == "failed" for s in statuses)),
        "errors": str(sum(s == "error" for s in statuses)),
        "skipped": str(sum(s in ("skipped", "unscored") for s in statuses)),
    }


def junit_xml(report: GateReport, summary: RunSummary, *, include_samples: bool = True) -> str:
    """The run as a JUnit XML document (UTF-8 text with declaration); counts are set on every suite."""
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
            statuses = [_sample_case(suite, partition, r) for r in summary.samples.values() if r.partition == partition]
            suite.attrib.update(_count(statuses))
            all_statuses += statuses

    root.attrib.update(_count(all_statuses))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
