"""Decide the gates of a run: per-partition pass rates, regression against a baseline, run health, judges.

Every gate yields a `GateResult` whose `passed` is True, False, or None for *skipped* (a configured gate
that had nothing to measure, e.g. no baseline was given). Skipped gates never change the exit code but are
always listed with their reason, so "not checked" is never mistaken for "passed". Report-only results
(`enforced=False`, e.g. a judge without `gate: true`) are shown and never change the exit code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import ConfigDict, Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.gates.codes import ExitCode, worst
from evalwheel.gates.config import GateConfig, PartitionGate
from evalwheel.gates.judges import CalibrationError, JudgeAgreementRequirement
from evalwheel.gates.summary import RunSummary, SampleOutcome, summarize
from evalwheel.stats.intervals import proportion_ci
from evalwheel.types import SampleResult, content_changed

MAX_LISTED_SAMPLES = 20
EPS = 1e-9  # 9/10 must meet a 0.9 threshold despite floating point


class GateResult(EvalwheelModel):
    """One gate's verdict. `failing_samples` is capped at MAX_LISTED_SAMPLES; `failing_total` is exact."""

    model_config = ConfigDict(extra="forbid")

    name: str
    partition: str | None = None
    passed: bool | None
    enforced: bool = True
    measured: float | None = None
    threshold: float | None = None
    comparison: Literal[">=", "<="] = ">="
    message: str
    failing_samples: list[str] = Field(default_factory=list)
    failing_total: int = 0
    exit_code: ExitCode = ExitCode.GATE_FAILED  # what this gate contributes when enforced and failed
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def status(self) -> Literal["passed", "failed", "skipped", "report-only"]:
        if self.passed is None:
            return "skipped"
        if not self.enforced and not self.passed:
            return "report-only"
        return "passed" if self.passed else "failed"


class GateReport(EvalwheelModel):
    """All gate results of a run and the exit code they add up to (precedence 2 > 3 > 1 > 0)."""

    model_config = ConfigDict(extra="forbid")

    run_id: str | None = None
    baseline_run_id: str | None = None
    gates: list[GateResult] = Field(default_factory=list)
    exit_code: ExitCode = ExitCode.OK

    @property
    def passed(self) -> bool:
        return self.exit_code == ExitCode.OK

    @property
    def failed_gates(self) -> list[GateResult]:
        return [g for g in self.gates if g.status == "failed"]


def _ids(samples: Iterable[SampleOutcome]) -> tuple[list[str], int]:
    """The first MAX_LISTED_SAMPLES ids and the exact total, without holding every id of a large run."""
    ids: list[str] = []
    total = 0
    for s in samples:
        total += 1
        if len(ids) < MAX_LISTED_SAMPLES:
            ids.append(s.sample_id)
    return ids, total


def fmt_number(x: float | None) -> str:
    """Short, stable figures for messages and tables: 1.0, 0.9, 0.95, 0.333, — for None."""
    if x is None:
        return "—"
    text = f"{x:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


_fmt = fmt_number


def _run_health(summary: RunSummary, config: GateConfig) -> list[GateResult]:
    overall = summary.overall
    if overall.n == 0:
        return [
            GateResult(
                name="results",
                passed=False,
                message="the run produced no results: nothing can be gated (empty dataset or filter?)",
                exit_code=ExitCode.BAD_INPUT,
            )
        ]
    ids, total = _ids(o for o in summary.samples.outcomes(notable=True) if o.errors)
    rate = overall.errors / overall.n
    out = [
        GateResult(
            name="error_rate",
            passed=rate <= config.max_error_rate + EPS,
            measured=rate,
            threshold=config.max_error_rate,
            comparison="<=",
            message=f"{overall.errors}/{overall.n} results errored (rate {_fmt(rate)}, allowed <= "
            f"{_fmt(config.max_error_rate)})",
            failing_samples=ids,
            failing_total=total,
            exit_code=ExitCode.TOO_MANY_ERRORS,
        )
    ]
    if config.max_unscored_rate is not None:
        ids, total = _ids(o for o in summary.samples.outcomes(notable=True) if o.unscored)
        urate = overall.unscored / overall.n
        out.append(
            GateResult(
                name="unscored_rate",
                passed=urate <= config.max_unscored_rate + EPS,
                measured=urate,
                threshold=config.max_unscored_rate,
                comparison="<=",
                message=f"{overall.unscored}/{overall.n} results unscored (rate {_fmt(urate)}, allowed <= "
                f"{_fmt(config.max_unscored_rate)})",
                failing_samples=ids,
                failing_total=total,
            )
        )
    return out


def _partition_gate(summary: RunSummary, partition: str, gate: PartitionGate, explicit: bool) -> GateResult | None:
    part = summary.partitions.get(partition)
    if part is None or part.n == 0:
        if not explicit:
            return None
        return GateResult(
            name=partition,
            partition=partition,
            passed=None,
            threshold=gate.min_pass_rate,
            message=f"skipped: no {partition} samples in this run",
        )
    bad_status = ("failed",) if gate.denominator == "scored" else ("failed", "error", "unscored")
    ids, total = _ids(o for o in summary.samples.outcomes(partition, notable=True) if o.status in bad_status)
    rate = part.rate(gate.denominator)
    aside = ""
    if gate.denominator == "scored" and (part.unscored or part.errors):
        aside = f" ({part.unscored} unscored, {part.errors} errors not in the rate)"
    if rate is None:
        return GateResult(
            name=partition,
            partition=partition,
            passed=False,
            threshold=gate.min_pass_rate,
            message=f"{partition}: no scored samples ({part.unscored} unscored, {part.errors} errors); "
            "a gate on nothing cannot pass",
            failing_samples=ids,
            failing_total=total,
        )
    denom = part.scored if gate.denominator == "scored" else part.n
    ok = rate >= gate.min_pass_rate - EPS
    interval = proportion_ci(part.passed, denom)
    return GateResult(
        name=partition,
        partition=partition,
        passed=ok,
        measured=rate,
        threshold=gate.min_pass_rate,
        message=f"{partition}: {part.passed}/{denom} passed ({interval.format()}), required >= "
        f"{_fmt(gate.min_pass_rate)}{aside}",
        failing_samples=ids,
        failing_total=total,
        details={"passed": part.passed, "denominator": denom, "basis": gate.denominator},
    )


# Both ways a run ends up without a baseline: `--baseline latest` (the default) found no earlier finished run of
# this spec and arm (a first run), or `--baseline none` was passed. The gate cannot tell which, so it names both.
_NO_BASELINE = "no earlier finished run of this spec and arm for --baseline latest, or --baseline none"


def _regression_gate(summary: RunSummary, config: GateConfig, baseline: RunSummary | None) -> GateResult | None:
    gate = config.baseline
    if gate is None:
        return None
    if baseline is None:
        if gate.require_baseline:
            return GateResult(
                name="baseline",
                passed=False,
                threshold=gate.max_drop,
                comparison="<=",  # the threshold shown is the allowed drop
                message=f"baseline gate has require_baseline: true but there is no baseline run ({_NO_BASELINE})",
                exit_code=ExitCode.BAD_INPUT,
            )
        return GateResult(
            name="baseline",
            passed=None,
            threshold=gate.max_drop,
            comparison="<=",  # the threshold shown is the allowed drop
            message=f"skipped: no baseline run ({_NO_BASELINE})",
        )
    scope = set(gate.partitions) if gate.partitions is not None else None
    scope_text = "all partitions" if scope is None else ", ".join(sorted(scope))
    matched = new = changed = unscored = 0
    cur_pass = cur_scored = base_pass = base_scored = 0
    regressed_ids: list[str] = []  # the first MAX_LISTED_SAMPLES; `total` counts them all
    total = 0
    fixed = 0
    in_scope = 0
    # Outcomes, not records: a 100k-sample run is compared without building 100k pydantic objects.
    for cur in summary.samples.outcomes():
        if scope is not None and cur.partition not in scope:
            continue
        in_scope += 1
        base = baseline.samples.outcome(cur.sample_id)
        if base is None:
            new += 1
            continue
        if content_changed(cur.sample_hash, base.sample_hash):
            changed += 1  # the sample's content changed: comparing verdicts would compare different tests
            continue
        if cur.scored == 0 or base.scored == 0:
            unscored += 1
            continue
        matched += 1
        cur_pass, cur_scored = cur_pass + cur.passed, cur_scored + cur.scored
        base_pass, base_scored = base_pass + base.passed, base_scored + base.scored
        base_ok, cur_ok = base.failed == 0, cur.failed == 0
        if base_ok and not cur_ok:
            total += 1
            if len(regressed_ids) < MAX_LISTED_SAMPLES:
                regressed_ids.append(cur.sample_id)
        elif cur_ok and not base_ok:
            fixed += 1
    details: dict[str, Any] = {
        "baseline_run_id": baseline.run_id,
        "matched": matched,
        "new": new,
        "changed": changed,
        "unscored_either": unscored,
        "fixed": fixed,
        "regressed": total,
        "scope": scope_text,
    }
    ids = regressed_ids
    if in_scope == 0:
        return GateResult(
            name="baseline",
            passed=None,
            threshold=gate.max_drop,
            comparison="<=",  # the threshold shown is the allowed drop
            message=f"skipped: no samples in scope ({scope_text})",
            details=details,
        )
    if matched == 0:
        return GateResult(
            name="baseline",
            passed=False,
            threshold=gate.max_drop,
            comparison="<=",  # the threshold shown is the allowed drop
            message=f"baseline run {baseline.run_id!r} shares no scored samples with this run ({new} new, "
            f"{changed} changed content, {unscored} unscored in either): wrong baseline?",
            exit_code=ExitCode.BAD_INPUT,
            details=details,
        )
    base_rate, cur_rate = base_pass / base_scored, cur_pass / cur_scored
    drop = base_rate - cur_rate
    details.update(baseline_pass_rate=base_rate, pass_rate=cur_rate, drop=drop)
    ok = drop <= gate.max_drop + EPS
    return GateResult(
        name="baseline",
        passed=ok,
        measured=cur_rate,
        threshold=max(0.0, base_rate - gate.max_drop),
        message=f"pass rate {_fmt(cur_rate)} vs baseline {_fmt(base_rate)} on {matched} shared samples "
        f"(drop {_fmt(drop)}, allowed <= {_fmt(gate.max_drop)}); {total} went from pass to fail, {fixed} fixed",
        failing_samples=ids,
        failing_total=total,
        details=details,
    )


def _judge_gate(req: JudgeAgreementRequirement) -> GateResult:
    name = f"judge:{req.grader}"

    def result(
        passed: bool, message: str, code: ExitCode = ExitCode.GATE_FAILED, measured: float | None = None
    ) -> GateResult:
        return GateResult(
            name=name,
            passed=passed,
            enforced=req.gate,
            measured=measured,
            threshold=req.min_agreement,
            message=message,
            exit_code=code,
            details={"metric": req.metric, "calibration": req.calibration_path},
        )

    rec = req.calibration
    if rec is None:
        where = f"file {req.calibration_path} not found" if req.calibration_path else "no calibration file configured"
        return result(
            False,
            f"judge {req.grader!r} has no calibration ({where}); required {req.metric} >= {_fmt(req.min_agreement)}; "
            f"run `evalwheel calibrate ... --out FILE`",
        )
    path = rec.path or req.calibration_path or "<calibration>"
    if rec.grader is not None and rec.grader != req.grader:
        return result(
            False, f"{path}: calibration is for grader {rec.grader!r}, not {req.grader!r}", ExitCode.BAD_INPUT
        )
    try:
        found, value = rec.lookup(req.metric)
    except CalibrationError as exc:
        return result(False, str(exc), ExitCode.BAD_INPUT)
    if not found:
        looked = req.metric if "." in req.metric else f"{req.metric} and agreement.{req.metric}"
        return result(False, f"{path}: no {req.metric!r} figure (looked at {looked})", ExitCode.BAD_INPUT)
    n_text = f", n={rec.n}" if rec.n is not None else ""
    from evalwheel.calibration.record import single_class_reason  # lazy, as gates.judges.load_calibration

    one_class = single_class_reason(rec.raw)
    if one_class is not None:  # 1.0 on labels that cannot disagree is no evidence, whatever the metric
        shown = "undefined" if value is None else _fmt(value)
        return result(
            False,
            f"judge {req.grader!r}: {req.metric} {shown} in {path}{n_text} does not count: {one_class}; required >= "
            f"{_fmt(req.min_agreement)}",
            measured=value,
        )
    if value is None:
        note = rec.raw.get(f"{req.metric}_note")  # e.g. calibration records' `kappa_note`: why it is undefined
        why = f" ({note})" if isinstance(note, str) and note else ""
        return result(
            False,
            f"judge {req.grader!r}: {req.metric} is undefined in {path}{n_text}{why}; required >= "
            f"{_fmt(req.min_agreement)}",
        )
    ok = value >= req.min_agreement - EPS
    verb = "meets" if ok else "is below"
    return result(
        ok,
        f"judge {req.grader!r}: {req.metric} {_fmt(value)} {verb} the required {_fmt(req.min_agreement)} "
        f"({path}{n_text})",
        measured=value,
    )


def evaluate_gates(
    summary: RunSummary,
    config: GateConfig,
    baseline: RunSummary | Iterable[SampleResult] | None = None,
    judge_requirements: Sequence[JudgeAgreementRequirement] = (),
) -> GateReport:
    """Evaluate every configured gate; the report's exit code follows the precedence 2 > 3 > 1 > 0.

    `baseline` is the baseline run's summary or its results (summarised here); None skips the regression
    gate (or fails it with exit 2 when the config says `require_baseline: true`).
    """
    base = baseline if isinstance(baseline, RunSummary) or baseline is None else summarize(baseline)
    gates: list[GateResult] = list(_run_health(summary, config))
    for partition in ("golden", "adversarial", "distribution"):
        gate = config.partition_gate(partition)
        if gate is not None:
            res = _partition_gate(summary, partition, gate, explicit=partition in config.model_fields_set)
            if res is not None:
                gates.append(res)
    reg = _regression_gate(summary, config, base)
    if reg is not None:
        gates.append(reg)
    gates.extend(_judge_gate(req) for req in judge_requirements)
    code = worst(g.exit_code for g in gates if g.enforced and g.passed is False)
    return GateReport(
        run_id=summary.run_id,
        baseline_run_id=base.run_id if base is not None else None,
        gates=gates,
        exit_code=code,
    )
