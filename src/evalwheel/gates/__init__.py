"""Partition-aware CI gates: summarise a run, decide its gates and exit code, report as JUnit and markdown.

    summary = summarize(results)                       # one pass over SampleResults
    config, judges = gates_from_spec(spec, spec_path)  # GateConfigError -> exit 2
    report = evaluate_gates(summary, config, baseline=baseline_results, judge_requirements=judges)
    junit_xml(report, summary); markdown_summary(report, summary); sys.exit(report.exit_code)
"""

from typing import TYPE_CHECKING, Any

from evalwheel.gates.codes import ExitCode, worst
from evalwheel.gates.config import GateConfig, GateConfigError, PartitionGate, RegressionGate, parse_gate_config
from evalwheel.gates.evaluate import GateReport, GateResult, evaluate_gates
from evalwheel.gates.judges import (
    CalibrationError,
    CalibrationRecord,
    JudgeAgreementRequirement,
    judge_requirements,
    load_calibration,
)
from evalwheel.gates.markdown import SupportsMarkdown, markdown_summary, render_section
from evalwheel.gates.spec import gates_from_spec
from evalwheel.gates.summary import (
    FailureNote,
    GraderCounts,
    PartitionSummary,
    RunSummary,
    SampleRecord,
    SummaryError,
    summarize,
)

__all__ = [
    "CalibrationError",
    "CalibrationRecord",
    "ExitCode",
    "FailureNote",
    "GateConfig",
    "GateConfigError",
    "GateReport",
    "GateResult",
    "GraderCounts",
    "JudgeAgreementRequirement",
    "PartitionGate",
    "PartitionSummary",
    "RegressionGate",
    "RunSummary",
    "SampleRecord",
    "SummaryError",
    "SupportsMarkdown",
    "evaluate_gates",
    "gates_from_spec",
    "iter_junit_xml",
    "judge_requirements",
    "junit_xml",
    "load_calibration",
    "markdown_summary",
    "parse_gate_config",
    "render_section",
    "summarize",
    "worst",
]


if TYPE_CHECKING:
    from evalwheel.gates.junit import iter_junit_xml, junit_xml


def __getattr__(name: str) -> Any:
    """The JUnit writer (and with it xml.sax and urllib.request) loads only when a run asks for a report."""
    if name in ("iter_junit_xml", "junit_xml"):
        from evalwheel.gates import junit

        return getattr(junit, name)
    raise AttributeError(f"module 'evalwheel.gates' has no attribute {name!r}")
