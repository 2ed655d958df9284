"""CI gates: summaries, every gate passing and failing, exit-code precedence, JUnit XML and the PR comment."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from evalwheel.gates import (
    CalibrationError,
    CalibrationRecord,
    ExitCode,
    GateConfig,
    GateConfigError,
    GateReport,
    GateResult,
    JudgeAgreementRequirement,
    RunSummary,
    SummaryError,
    evaluate_gates,
    gates_from_spec,
    judge_requirements,
    junit_xml,
    load_calibration,
    markdown_summary,
    parse_gate_config,
    summarize,
    worst,
)
from evalwheel.stats.intervals import proportion_ci
from evalwheel.types import Output, SampleResult, Score

ROOT = Path(__file__).resolve().parents[1]


def res(
    sid: str,
    status: str,
    partition: str = "golden",
    *,
    run: str = "run-new",
    epoch: int = 0,
    reason: str = "answer not supported by the context",
    grader: str = "faithfulness",
    sample_hash: str = "",
    error: str | None = None,
) -> SampleResult:
    scores = {
        "passed": [Score(name="exact", passed=True), Score(name=grader, passed=True)],
        "failed": [Score(name="exact", passed=True), Score(name=grader, passed=False, reason=reason)],
        "unscored": [Score(name=grader, passed=None, reason="judge reply unparseable")],
        "error": [],
    }[status]
    return SampleResult(
        run_id=run,
        sample_id=sid,
        partition=partition,
        epoch=epoch,
        status=status,
        scores=scores,
        error=error or ("solver timed out" if status == "error" else None),
        sample_hash=sample_hash,
        output=Output(text="...", latency_ms=250.0),
    )


def batch(prefix: str, partition: str, passed: int, failed: int = 0, **kw: object) -> list[SampleResult]:
    out = [res(f"{prefix}{i}", "passed", partition, **kw) for i in range(passed)]  # type: ignore[arg-type]
    out += [res(f"{prefix}{passed + i}", "failed", partition, **kw) for i in range(failed)]  # type: ignore[arg-type]
    return out


def gate(report: GateReport, name: str) -> GateResult:
    matches = [g for g in report.gates if g.name == name]
    assert len(matches) == 1, [g.name for g in report.gates]
    return matches[0]


def cfg(**kw: object) -> GateConfig:
    return parse_gate_config(kw, "spec.yaml")


# ----------------------------------------------------------------------------------------------- summary


def test_summarize_streams_and_counts_per_partition() -> None:
    rows = [
        *batch("g", "golden", 9, 1),
        res("a0", "passed", "adversarial"),
        res("a1", "unscored", "adversarial"),
        res("a2", "error", "adversarial"),
    ]

    def stream() -> Iterator[SampleResult]:
        yield from rows

    s = summarize(stream())
    assert s.run_id == "run-new"
    assert list(s.partitions) == ["golden", "adversarial"]
    g = s.partitions["golden"]
    assert (g.n, g.samples, g.passed, g.failed, g.unscored, g.errors) == (10, 10, 9, 1, 0, 0)
    assert g.pass_rate == pytest.approx(0.9)
    assert g.interval == proportion_ci(9, 10)
    assert g.graders["faithfulness"].passed == 9 and g.graders["faithfulness"].failed == 1
    assert g.graders["exact"].passed == 10
    a = s.partitions["adversarial"]
    assert (a.passed, a.failed, a.unscored, a.errors, a.scored) == (1, 0, 1, 1, 1)
    assert a.pass_rate == 1.0 and a.error_rate == pytest.approx(1 / 3)
    assert a.graders["faithfulness"].unscored == 1
    assert s.overall.n == 13 and s.overall.passed == 10 and s.overall.errors == 1
    assert s.samples["g9"].failures[0].reason == "answer not supported by the context"
    assert s.samples["a2"].error == "solver timed out"


def test_summary_pass_rate_is_none_without_scored_samples() -> None:
    s = summarize([res("u", "unscored"), res("e", "error")])
    assert s.partitions["golden"].pass_rate is None
    assert s.partitions["golden"].interval.estimate is None


def test_sample_status_across_epochs_is_the_worst() -> None:
    s = summarize([res("x", "passed", epoch=0), res("x", "failed", epoch=1), res("x", "passed", epoch=2)])
    rec = s.samples["x"]
    assert (rec.epochs, rec.passed, rec.failed, rec.status) == (3, 2, 1, "failed")
    assert s.partitions["golden"].samples == 1 and s.partitions["golden"].n == 3


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ([res("a", "passed"), res("b", "passed", run="other")], "two runs"),
        ([res("a", "passed"), res("a", "failed")], "epoch 0 appears twice"),
        ([res("a", "passed"), res("a", "passed", "adversarial", epoch=1)], "partitions 'golden' and 'adversarial'"),
    ],
)
def test_summarize_refuses_inconsistent_input(rows: list[SampleResult], needle: str) -> None:
    with pytest.raises(SummaryError, match=needle):
        summarize(rows)


def test_reasons_lose_colour_codes_and_control_characters() -> None:
    s = summarize([res("a", "failed", reason="\x1b[31mbad\x1b[0m\x00 claim"), res("b", "error", error="boom\x07!")])
    assert s.samples["a"].failures[0].reason == "bad claim"
    assert s.samples["b"].error == "boom!"


# ------------------------------------------------------------------------------------------------ config


def test_config_defaults() -> None:
    c = parse_gate_config(None)
    assert c.golden is not None and c.golden.min_pass_rate == 1.0
    assert c.baseline is None and c.adversarial is None and c.distribution is None
    assert c.max_error_rate == 0.05 and c.max_unscored_rate is None


def test_config_unknown_key_names_file_and_field() -> None:
    with pytest.raises(GateConfigError) as exc:
        parse_gate_config({"adversarial": {"min_pass_rat": 0.9}}, "examples/support/spec.yaml")
    msg = str(exc.value)
    assert "examples/support/spec.yaml: gates.adversarial.min_pass_rat: unknown field" in msg
    assert "gates.adversarial.min_pass_rate" in msg  # the required key is missing too, and said so


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"golden": {"min_pass_rate": 1.5}}, "gates.golden.min_pass_rate"),
        ({"max_error_rate": -0.1}, "gates.max_error_rate"),
        ({"regression": {"max_drop": 0.05, "partitions": ["gold"]}}, "gates.regression.partitions.0"),
        ({"gold": {"min_pass_rate": 1.0}}, "gates.gold: unknown field"),
    ],
)
def test_config_errors(data: dict[str, object], needle: str) -> None:
    with pytest.raises(GateConfigError, match=needle.replace(".", r"\.")):
        parse_gate_config(data, "s.yaml")


def test_config_not_a_mapping() -> None:
    with pytest.raises(GateConfigError, match=r"s\.yaml: gates: expected a mapping"):
        parse_gate_config(["golden"], "s.yaml")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ partition gates


def test_golden_all_pass_exit_0() -> None:
    report = evaluate_gates(summarize(batch("g", "golden", 10)), cfg())
    g = gate(report, "golden")
    assert g.passed is True and g.measured == 1.0 and g.threshold == 1.0
    assert report.exit_code == ExitCode.OK and report.passed


def test_golden_one_failure_fails_exit_1() -> None:
    report = evaluate_gates(summarize(batch("g", "golden", 99, 1)), cfg())
    g = gate(report, "golden")
    assert g.passed is False and g.measured == pytest.approx(0.99)
    assert g.failing_samples == ["g99"] and g.failing_total == 1
    assert "99/100 passed" in g.message
    assert report.exit_code == ExitCode.GATE_FAILED


def test_golden_default_only_when_golden_samples_exist() -> None:
    report = evaluate_gates(summarize(batch("d", "distribution", 5)), cfg())
    assert [g.name for g in report.gates] == ["error_rate"]
    explicit = evaluate_gates(summarize(batch("d", "distribution", 5)), cfg(golden={"min_pass_rate": 1.0}))
    assert gate(explicit, "golden").passed is None and explicit.exit_code == ExitCode.OK


def test_golden_null_turns_the_gate_off() -> None:
    report = evaluate_gates(summarize(batch("g", "golden", 1, 1)), cfg(golden=None))
    assert "golden" not in [g.name for g in report.gates] and report.exit_code == ExitCode.OK


def test_unscored_is_outside_the_rate_unless_denominator_all() -> None:
    rows = [*batch("g", "golden", 4), res("u", "unscored")]
    assert gate(evaluate_gates(summarize(rows), cfg()), "golden").passed is True
    strict = evaluate_gates(summarize(rows), cfg(golden={"min_pass_rate": 1.0, "denominator": "all"}))
    g = gate(strict, "golden")
    assert g.passed is False and g.measured == pytest.approx(0.8) and g.failing_samples == ["u"]


def test_partition_with_nothing_scored_fails() -> None:
    report = evaluate_gates(summarize([res("u", "unscored", "adversarial")]), cfg(adversarial={"min_pass_rate": 0.5}))
    g = gate(report, "adversarial")
    assert g.passed is False and "no scored samples" in g.message


@pytest.mark.parametrize(
    ("partition", "threshold", "passed", "failed", "ok"),
    [
        ("adversarial", 0.9, 9, 1, True),  # exactly at the threshold (floating point must not bite)
        ("adversarial", 0.9, 8, 2, False),
        ("distribution", 0.8, 8, 2, True),
        ("distribution", 0.8, 79, 21, False),
    ],
)
def test_min_pass_rate_gates(partition: str, threshold: float, passed: int, failed: int, ok: bool) -> None:
    rows = [*batch("g", "golden", 3), *batch("x", partition, passed, failed)]
    report = evaluate_gates(summarize(rows), cfg(**{partition: {"min_pass_rate": threshold}}))
    g = gate(report, partition)
    assert g.passed is ok
    assert g.measured == pytest.approx(passed / (passed + failed))
    assert g.failing_total == failed
    assert report.exit_code == (ExitCode.OK if ok else ExitCode.GATE_FAILED)


def test_configured_partition_without_samples_is_skipped_not_passed() -> None:
    report = evaluate_gates(summarize(batch("g", "golden", 3)), cfg(adversarial={"min_pass_rate": 0.9}))
    g = gate(report, "adversarial")
    assert g.passed is None and g.status == "skipped" and "no adversarial samples" in g.message
    assert report.exit_code == ExitCode.OK


def test_failing_sample_list_is_capped_but_total_exact() -> None:
    report = evaluate_gates(summarize(batch("d", "distribution", 0, 50)), cfg(distribution={"min_pass_rate": 0.8}))
    g = gate(report, "distribution")
    assert len(g.failing_samples) == 20 and g.failing_total == 50


# ----------------------------------------------------------------------------------------- regression


def _baseline(passed: int, failed: int = 0) -> list[SampleResult]:
    return batch("s", "distribution", passed, failed, run="run-base")


def test_regression_within_margin_passes_and_lists_pass_to_fail() -> None:
    current = batch("s", "distribution", 19, 1)  # s19 now fails
    report = evaluate_gates(summarize(current), cfg(regression={"max_drop": 0.05}), baseline=_baseline(20))
    g = gate(report, "baseline")
    assert g.passed is True
    assert g.details["baseline_pass_rate"] == 1.0 and g.measured == pytest.approx(0.95)
    assert g.details["drop"] == pytest.approx(0.05) and g.threshold == pytest.approx(0.95)
    assert g.failing_samples == ["s19"] and g.details["matched"] == 20
    assert report.baseline_run_id == "run-base" and report.exit_code == ExitCode.OK


def test_regression_beyond_margin_fails() -> None:
    current = batch("s", "distribution", 18, 2)
    report = evaluate_gates(summarize(current), cfg(regression={"max_drop": 0.05}), baseline=summarize(_baseline(20)))
    g = gate(report, "baseline")
    assert g.passed is False and g.details["drop"] == pytest.approx(0.10)
    assert g.failing_samples == ["s18", "s19"]
    assert report.exit_code == ExitCode.GATE_FAILED


def test_regression_counts_fixed_and_compares_only_shared_samples() -> None:
    base = [
        res("a", "failed", "distribution", run="b"),
        res("b", "passed", "distribution", run="b"),
        res("gone", "passed", "distribution", run="b"),
    ]
    cur = [res("a", "passed", "distribution"), res("b", "passed", "distribution"), res("new", "failed", "distribution")]
    g = gate(evaluate_gates(summarize(cur), cfg(regression={"max_drop": 0.0}), baseline=base), "baseline")
    assert g.passed is True  # 2/2 now vs 1/2 before; the new failing sample is not a regression
    assert g.details["matched"] == 2 and g.details["new"] == 1 and g.details["fixed"] == 1
    assert g.failing_samples == []


def test_regression_ignores_samples_whose_content_changed() -> None:
    base = [res("a", "passed", run="b", sample_hash="h1"), res("b", "passed", run="b", sample_hash="h2")]
    cur = [res("a", "failed", sample_hash="h1-edited"), res("b", "passed", sample_hash="h2")]
    g = gate(evaluate_gates(summarize(cur), cfg(regression={"max_drop": 0.0}), baseline=base), "baseline")
    assert g.passed is True and g.details["changed"] == 1 and g.details["matched"] == 1


def test_regression_scope_limits_partitions() -> None:
    base = [res("r", "passed", "regression", run="b"), res("d", "passed", "distribution", run="b")]
    cur = [res("r", "passed", "regression"), res("d", "failed", "distribution")]
    scoped = cfg(regression={"max_drop": 0.0, "partitions": ["regression"]})
    assert gate(evaluate_gates(summarize(cur), scoped, baseline=base), "baseline").passed is True
    everything = cfg(regression={"max_drop": 0.0})
    assert gate(evaluate_gates(summarize(cur), everything, baseline=base), "baseline").passed is False


def test_regression_without_baseline_is_skipped_or_bad_input_when_required() -> None:
    s = summarize(batch("g", "golden", 3))
    g = gate(evaluate_gates(s, cfg(regression={"max_drop": 0.05})), "baseline")
    assert g.passed is None and "no baseline" in g.message
    # a first run under the default `--baseline latest` has none: the message says so, not "pass --baseline"
    assert "no earlier finished run" in g.message and "pass --baseline" not in g.message
    strict = evaluate_gates(s, cfg(regression={"max_drop": 0.05, "require_baseline": True}))
    assert gate(strict, "baseline").passed is False and strict.exit_code == ExitCode.BAD_INPUT


def test_regression_with_disjoint_baseline_is_bad_input() -> None:
    base = batch("other", "golden", 5, run="b")
    report = evaluate_gates(summarize(batch("g", "golden", 5)), cfg(regression={"max_drop": 0.05}), baseline=base)
    g = gate(report, "baseline")
    assert g.passed is False and "shares no scored samples" in g.message and "5 new" in g.message
    assert report.exit_code == ExitCode.BAD_INPUT


# ------------------------------------------------------------------------------------- run health, codes


def test_error_rate_above_limit_exits_3() -> None:
    rows = [*batch("g", "golden", 9), res("e", "error")]
    report = evaluate_gates(summarize(rows), cfg(max_error_rate=0.05))
    g = gate(report, "error_rate")
    assert g.passed is False and g.measured == pytest.approx(0.1) and g.failing_samples == ["e"]
    assert report.exit_code == ExitCode.TOO_MANY_ERRORS
    assert evaluate_gates(summarize(rows), cfg(max_error_rate=0.1)).exit_code == ExitCode.OK


def test_unscored_rate_gate() -> None:
    rows = [*batch("g", "golden", 3), res("u", "unscored")]
    assert gate(evaluate_gates(summarize(rows), cfg(max_unscored_rate=0.3)), "unscored_rate").passed is True
    report = evaluate_gates(summarize(rows), cfg(max_unscored_rate=0.2))
    assert gate(report, "unscored_rate").measured == pytest.approx(0.25)
    assert report.exit_code == ExitCode.GATE_FAILED


def test_empty_run_is_bad_input() -> None:
    report = evaluate_gates(summarize([]), cfg())
    assert report.exit_code == ExitCode.BAD_INPUT and "no results" in report.gates[0].message


def test_worst_precedence() -> None:
    assert worst([]) == ExitCode.OK
    assert worst([ExitCode.OK, ExitCode.GATE_FAILED]) == ExitCode.GATE_FAILED
    assert worst([ExitCode.GATE_FAILED, ExitCode.TOO_MANY_ERRORS]) == ExitCode.TOO_MANY_ERRORS
    assert worst([ExitCode.TOO_MANY_ERRORS, ExitCode.BAD_INPUT, ExitCode.GATE_FAILED]) == ExitCode.BAD_INPUT


def test_exit_code_precedence_across_gates() -> None:
    rows = [*batch("g", "golden", 8, 1), res("e", "error")]  # golden fails AND errors exceed 5%
    report = evaluate_gates(summarize(rows), cfg())
    assert {g.name for g in report.failed_gates} == {"golden", "error_rate"}
    assert report.exit_code == ExitCode.TOO_MANY_ERRORS
    wrong_file = JudgeAgreementRequirement(
        grader="faithfulness",
        min_agreement=0.4,
        calibration=CalibrationRecord(path="c.json", grader="pairwise", raw={"kappa": 0.9}),
    )
    report2 = evaluate_gates(summarize(rows), cfg(), judge_requirements=[wrong_file])
    assert report2.exit_code == ExitCode.BAD_INPUT


# -------------------------------------------------------------------------------------------- judges


def _judge(kappa: object, **kw: object) -> JudgeAgreementRequirement:
    rec = CalibrationRecord(path="calib/faithfulness.json", n=200, raw={"kappa": kappa})
    return JudgeAgreementRequirement(grader="faithfulness", min_agreement=0.4, calibration=rec, **kw)


def test_judge_above_minimum_passes() -> None:
    report = evaluate_gates(summarize(batch("g", "golden", 2)), cfg(), judge_requirements=[_judge(0.55)])
    g = gate(report, "judge:faithfulness")
    assert g.passed is True and g.measured == 0.55 and report.exit_code == ExitCode.OK


def test_judge_below_minimum_fails_with_a_useful_message() -> None:
    report = evaluate_gates(summarize(batch("g", "golden", 2)), cfg(), judge_requirements=[_judge(0.31)])
    g = gate(report, "judge:faithfulness")
    assert g.passed is False and report.exit_code == ExitCode.GATE_FAILED
    for part in ("faithfulness", "0.31", "0.4", "calib/faithfulness.json", "n=200"):
        assert part in g.message


def test_judge_below_minimum_but_not_gating_is_report_only() -> None:
    report = evaluate_gates(summarize(batch("g", "golden", 2)), cfg(), judge_requirements=[_judge(0.1, gate=False)])
    g = gate(report, "judge:faithfulness")
    assert g.passed is False and g.status == "report-only" and report.exit_code == ExitCode.OK


def test_judge_missing_calibration_fails_naming_the_file() -> None:
    req = JudgeAgreementRequirement(grader="faithfulness", min_agreement=0.4, calibration_path="calib/missing.json")
    report = evaluate_gates(summarize(batch("g", "golden", 2)), cfg(), judge_requirements=[req])
    g = gate(report, "judge:faithfulness")
    assert g.passed is False and "calib/missing.json not found" in g.message and "faithfulness" in g.message
    assert report.exit_code == ExitCode.GATE_FAILED


def test_judge_undefined_kappa_fails_and_missing_metric_is_bad_input() -> None:
    s = summarize(batch("g", "golden", 2))
    undefined = evaluate_gates(s, cfg(), judge_requirements=[_judge(None)])
    assert gate(undefined, "judge:faithfulness").passed is False and undefined.exit_code == ExitCode.GATE_FAILED
    no_metric = _judge(0.9, metric="macro_f1")
    report = evaluate_gates(s, cfg(), judge_requirements=[no_metric])
    assert "no 'macro_f1' figure" in gate(report, "judge:faithfulness").message
    assert report.exit_code == ExitCode.BAD_INPUT
    not_a_number = evaluate_gates(s, cfg(), judge_requirements=[_judge("high")])
    assert not_a_number.exit_code == ExitCode.BAD_INPUT


def _record(path: Path, grader: str, kappa: float | None, n: int = 120, **details: object) -> None:
    """A valid calibration record (what `calibrate --out` writes), through the one writer."""
    from evalwheel.calibration.record import CalibrationRecord, DatasetRef, write_record

    write_record(
        CalibrationRecord(
            task="grader",
            grader=grader,
            dataset=DatasetRef(path="labels.jsonl", sha256="0" * 64),
            n=n,
            scored=n,
            unscored=0,
            kappa=kappa,
            macro_f1=None,
            accuracy=None,
            measured_at="2026-12-02T00:00:00+00:00",
            evalwheel_version="test",
            details=dict(details),
        ),
        path,
    )


def test_calibration_files_and_spec_graders(tmp_path: Path) -> None:
    (tmp_path / "calib").mkdir()
    _record(tmp_path / "calib" / "top.json", "faithfulness", 0.62)
    _record(tmp_path / "calib" / "nested.json", "relevance", None, tier_kappa=0.2)
    graders = [
        "exact_match",
        {"name": "exact", "config": {}},
        {"name": "faithfulness", "gate": True, "min_agreement": 0.4, "calibration": "calib/top.json"},
        {
            "name": "relevance",
            "gate": True,
            "min_agreement": 0.3,
            "calibration": "calib/nested.json",
            "metric": "details.tier_kappa",
        },
        {"name": "tone", "gate": False, "min_agreement": 0.3, "calibration": "calib/nope.json"},
        {"name": "dumped", "gate": True, "min_agreement": None, "calibration": None},  # a model_dump of a spec
    ]
    reqs = judge_requirements(graders, "spec.yaml", tmp_path)
    assert [r.grader for r in reqs] == ["faithfulness", "relevance", "tone"]
    assert reqs[0].calibration is not None and reqs[0].calibration.n == 120
    assert reqs[2].calibration is None and reqs[2].gate is False
    assert reqs[2].calibration_path == str(tmp_path / "calib" / "nope.json")
    report = evaluate_gates(summarize(batch("g", "golden", 2)), cfg(), judge_requirements=reqs)
    assert [gate(report, f"judge:{n}").status for n in ("faithfulness", "relevance", "tone")] == [
        "passed",
        "failed",
        "report-only",
    ]
    assert gate(report, "judge:relevance").measured == 0.2
    assert report.exit_code == ExitCode.GATE_FAILED


def test_bad_calibration_file_and_bad_grader_entries(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{kappa: 0.5")
    with pytest.raises(CalibrationError, match=r"bad\.json: invalid JSON"):
        load_calibration(bad)
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(CalibrationError, match="expected a JSON object"):
        load_calibration(tmp_path / "list.json")
    (tmp_path / "loose.json").write_text(json.dumps({"kappa": 0.9, "grader": "j"}))  # not a calibration record
    with pytest.raises(CalibrationError, match=r"loose\.json: field 'task': required field is missing"):
        load_calibration(tmp_path / "loose.json")
    with pytest.raises(GateConfigError, match=r"spec.yaml: graders\[0\]\.min_agreement"):
        judge_requirements([{"name": "j", "min_agreement": "high"}], "spec.yaml")
    assert judge_requirements([{"name": "j", "min_agreement": 0.4}])[0].gate is True  # the spec's default
    with pytest.raises(GateConfigError, match=r"graders\[1\]\.gate"):
        judge_requirements([{"name": "a"}, {"name": "j", "min_agreement": 0.4, "gate": "yes"}], "spec.yaml")


def test_gates_from_yaml_spec(tmp_path: Path) -> None:
    _record(tmp_path / "c.json", "faithfulness", 0.5)
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(
        """
name: support
graders:
  - {name: faithfulness, gate: true, min_agreement: 0.4, calibration: c.json}
gates:
  golden: {min_pass_rate: 1.0}
  regression: {max_drop: 0.05}
  adversarial: {min_pass_rate: 0.9}
  distribution: {min_pass_rate: 0.8}
  max_error_rate: 0.05
  max_unscored_rate: 0.2
"""
    )
    config, judges = gates_from_spec(yaml.safe_load(spec_path.read_text()), spec_path)
    assert config.baseline is not None and config.baseline.max_drop == 0.05
    assert config.max_unscored_rate == 0.2
    assert judges[0].calibration is not None and judges[0].calibration.lookup("kappa") == (True, 0.5)
    with pytest.raises(GateConfigError, match=r"spec\.yaml: gates\.golden\.min_pass: unknown field"):
        gates_from_spec({"gates": {"golden": {"min_pass": 1}}}, spec_path)


# --------------------------------------------------------------------------------------------- reports


def _mixed_run() -> tuple[list[SampleResult], list[SampleResult]]:
    current = [
        *batch("g", "golden", 9, 1),
        res("adv-0", "passed", "adversarial"),
        res("adv-1", "failed", "adversarial", reason="followed the injected instruction | leaked"),
        res("adv-2", "unscored", "adversarial"),
        res("d-0", "error", "distribution", error="\x1b[31mTimeout\x1b[0m after 30 s\x00"),
        *batch("d-ok", "distribution", 3),
    ]
    baseline = batch("g", "golden", 10, run="run-base")
    return current, baseline


def _report() -> tuple[RunSummary, GateReport]:
    current, baseline = _mixed_run()
    s = summarize(current)
    config = cfg(regression={"max_drop": 0.0}, adversarial={"min_pass_rate": 0.9}, max_error_rate=0.2)
    return s, evaluate_gates(s, config, baseline=baseline, judge_requirements=[_judge(0.31)])


def test_junit_parses_and_counts_match() -> None:
    s, report = _report()
    xml = junit_xml(report, s)
    root = ET.fromstring(xml.encode("utf-8"))
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert list(suites) == ["evalwheel.gates", "evalwheel.golden", "evalwheel.adversarial", "evalwheel.distribution"]
    n_gates = len(report.gates)
    assert root.get("tests") == str(n_gates + s.overall.samples)
    gates_suite = suites["evalwheel.gates"]
    assert gates_suite.get("tests") == str(n_gates)
    assert gates_suite.get("failures") == str(len(report.failed_gates)) == "4"  # golden, adversarial, regression, judge
    golden = suites["evalwheel.golden"]
    assert (golden.get("tests"), golden.get("failures"), golden.get("errors")) == ("10", "1", "0")
    adv = suites["evalwheel.adversarial"]
    assert (adv.get("tests"), adv.get("failures"), adv.get("skipped")) == ("3", "1", "1")
    dist = suites["evalwheel.distribution"]
    # d-0 errored, but 1/17 is within max_error_rate 0.2: tolerated, so it is not red
    assert (dist.get("tests"), dist.get("errors"), dist.get("failures")) == ("4", "0", "0")
    assert root.get("failures") == str(4 + 1 + 1) and root.get("errors") == "0" and root.get("skipped") == "1"
    failure = adv.find("testcase[@name='adv-1']/failure")
    assert failure is not None and "followed the injected instruction | leaked" in (failure.get("message") or "")
    note = dist.find("testcase[@name='d-0']/system-out")
    assert note is not None and "tolerated (within the passing error_rate gate" in (note.text or "")
    assert "Timeout after 30 s" in (note.text or "")
    strict = ET.fromstring(junit_xml(report, s, sample_failures="all"))
    err = strict.find("testsuite[@name='evalwheel.distribution']/testcase[@name='d-0']/error")
    assert err is not None and err.get("message") == "Timeout after 30 s"
    assert strict.get("errors") == "1"
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props == {"run_id": "run-new", "baseline_run_id": "run-base", "exit_code": "1"}
    case = golden.find("testcase[@name='g0']")
    assert case is not None and case.get("time") == "0.250"


def test_junit_is_red_only_where_a_gate_failed() -> None:
    rows = [*batch("g", "golden", 3), *batch("d", "distribution", 8, 2)]  # 0.8 meets the distribution gate
    s = summarize(rows)
    passing = evaluate_gates(s, cfg(distribution={"min_pass_rate": 0.8}))
    root = ET.fromstring(junit_xml(passing, s))
    assert (
        passing.exit_code == ExitCode.OK and root.get("failures") == "0" and root.get("tests") == str(13 + 3)
    )  # + error_rate, golden, distribution
    tolerated = root.find("testsuite[@name='evalwheel.distribution']/testcase[@name='d9']/system-out")
    assert tolerated is not None and "tolerated (within the passing distribution gate" in (tolerated.text or "")
    failing = evaluate_gates(s, cfg(distribution={"min_pass_rate": 0.9}))
    red = ET.fromstring(junit_xml(failing, s))
    dist = red.find("testsuite[@name='evalwheel.distribution']")
    assert dist is not None and dist.get("failures") == "2" and red.get("failures") == "3"  # + the gate itself
    ungated = ET.fromstring(junit_xml(evaluate_gates(s, cfg()), s))
    note = ungated.find("testsuite[@name='evalwheel.distribution']/testcase[@name='d8']/system-out")
    assert note is not None and "no gate on the distribution partition" in (note.text or "")


def test_junit_survives_hostile_ids_and_can_omit_samples() -> None:
    s = summarize([res("a<&>\"'\x01", "failed", reason="]]> <b>\x0c")])
    report = evaluate_gates(s, cfg())
    root = ET.fromstring(junit_xml(report, s))
    names = [c.get("name") for c in root.iter("testcase")]
    assert "a<&>\"'" in names
    slim = ET.fromstring(junit_xml(report, s, include_samples=False))
    assert [x.get("name") for x in slim.iter("testsuite")] == ["evalwheel.gates"]


class _Comparison:
    def markdown(self) -> str:
        return "| arm | pass rate |\n|---|---|\n| overlay:v2 | 0.91 |"


def test_markdown_summary_has_the_numbers() -> None:
    s, report = _report()
    md = markdown_summary(report, s, comparison=_Comparison(), cost={"estimated cost (USD)": 0.1234, "tokens": 5120})
    assert md.startswith("<!-- evalwheel-summary -->\n### ❌ evalwheel: 4 gate(s) failed")
    assert "exit code **1**" in md and "run `run-new`" in md and "baseline `run-base`" in md
    assert f"| golden | 10 | 10 | 9 | 1 | 0 | 0 | {proportion_ci(9, 10).format()} |" in md
    assert "| adversarial | 3 | 3 | 1 | 1 | 1 | 0 | 0.50 [0.09, 0.91] |" in md
    assert "| distribution | 4 | 4 | 3 | 0 | 0 | 1 | 1.00 [0.44, 1.00] |" in md
    assert "| **all** | 17 | 17 | 13 | 2 | 1 | 1 |" in md
    assert "| golden | ❌ fail | 0.9 | >= 1.0 |" in md
    assert "| judge:faithfulness | ❌ fail | 0.31 | >= 0.4 |" in md
    assert "| error_rate | ✅ pass | 0.059 | <= 0.2 |" in md
    assert "#### Pass → fail since the baseline\n\n`g9`" in md
    assert "| `adv-1` | adversarial | failed | faithfulness | followed the injected instruction \\| leaked |" in md
    assert "| `d-0` | distribution | error | — | Timeout after 30 s |" in md
    assert "| overlay:v2 | 0.91 |" in md
    assert "| estimated cost (USD) | 0.123 |" in md and "| tokens | 5120 |" in md
    assert "\x1b" not in md and "\x00" not in md
    # golden failures come first in the failing-samples table
    assert md.index("| `g9` |") < md.index("| `adv-1` |") < md.index("| `d-0` |")


def test_markdown_passing_run_and_limits() -> None:
    s = summarize(batch("g", "golden", 5))
    ok = markdown_summary(evaluate_gates(s, cfg()), s)
    assert "### ✅ evalwheel: all gates passed" in ok and "Failing samples" not in ok
    big = summarize(batch("d", "distribution", 0, 300, reason="x" * 250))
    report = evaluate_gates(big, cfg(distribution={"min_pass_rate": 0.5}))
    md = markdown_summary(report, big, max_failures=5)
    assert "#### Failing samples (5 of 300)" in md and md.count("| `d") == 5
    tiny = markdown_summary(report, big, max_failures=300, max_chars=4000)
    assert len(tiny) <= 4000 and "truncated" in tiny


def test_markdown_exit_code_headlines() -> None:
    rows = [*batch("g", "golden", 9), res("e", "error")]
    s = summarize(rows)
    assert "💥 evalwheel: too many run errors" in markdown_summary(evaluate_gates(s, cfg()), s)
    empty = summarize([])
    assert "🚫 evalwheel: bad input or configuration" in markdown_summary(evaluate_gates(empty, cfg()), empty)


def test_report_round_trips_as_json() -> None:
    s, report = _report()
    again = type(report).model_validate_json(report.model_dump_json())
    assert again == report and again.exit_code == ExitCode.GATE_FAILED
    assert type(s).model_validate_json(s.model_dump_json()) == s
    figures = json.loads(json.dumps(s.figures()))
    assert figures["partitions"]["golden"]["pass_rate"] == pytest.approx(0.9)
    assert figures["partitions"]["golden"]["ci_low"] == pytest.approx(proportion_ci(9, 10).low)
    assert figures["overall"]["errors"] == 1 and "samples" not in figures


# ------------------------------------------------------------------------------------------ CI example


def test_github_actions_example_is_valid_yaml_with_the_documented_command() -> None:
    wf = yaml.safe_load((ROOT / "examples" / "ci" / "github-actions.yml").read_text())
    steps = [step for job in wf["jobs"].values() for step in job["steps"]]
    action_step = next(step for step in steps if step.get("uses") == "./")  # the repository's action.yml
    assert action_step["with"]["spec"] == "examples/support/spec.yaml" and "--baseline" in action_step["with"]["args"]
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    run_script = (ROOT / "action" / "run.sh").read_text()
    for flag in ("--junit", "--markdown"):
        assert flag in run_script
    uses = [str(step.get("uses", "")) for step in action["runs"]["steps"]]
    assert any(u.startswith("actions/upload-artifact") for u in uses)
    assert "pull-requests: write" in (ROOT / "examples" / "ci" / "github-actions.yml").read_text()


# ------------------------------------------------------------------------------------ compact sample index


def _sha(i: int) -> str:
    import hashlib

    return hashlib.sha256(str(i).encode()).hexdigest()


def test_clean_passes_are_packed_and_rebuilt_exactly_on_access() -> None:
    rows = [res("p", "passed", epoch=e, sample_hash=_sha(1)) for e in (0, 2, 5)]
    rows += [res("q", "passed", "adversarial", sample_hash="")]
    s = summarize(rows)
    entries = s.samples._entries
    assert isinstance(entries["p"], bytes) and isinstance(entries["q"], bytes)
    o = s.samples.outcome("p")
    assert o is not None
    assert (o.partition, o.epochs, o.passed, o.failed, o.status, o.sample_hash) == (
        "golden",
        3,
        3,
        0,
        "passed",
        _sha(1),
    )
    assert o.latency_ms == pytest.approx(750.0)
    rec = s.samples["p"]
    assert (rec.sample_id, rec.epochs, rec.passed, rec.sample_hash, rec.latency_ms) == ("p", 3, 3, _sha(1), 750.0)
    assert rec.failures == [] and rec.error is None and not rec.details_dropped
    assert s.samples.outcome("missing") is None and "missing" not in s.samples
    assert repr(s.samples) == "SampleIndex(2 samples, 0 not clean passes)"


@pytest.mark.parametrize("sample_hash", [_sha(7), "ABCDEF", "abc", "not-hex!", "héllo \ud800", "ab cd"])
def test_any_sample_hash_survives_packing(sample_hash: str) -> None:
    s = summarize([res("a", "passed", sample_hash=sample_hash)])
    assert isinstance(s.samples._entries["a"], bytes)
    assert s.samples["a"].sample_hash == sample_hash


def test_first_non_empty_hash_wins_in_packed_and_full_records() -> None:
    s = summarize(
        [
            res("a", "passed", epoch=0),
            res("a", "passed", epoch=1, sample_hash="h1"),
            res("a", "passed", epoch=2, sample_hash="h2"),
        ]
    )
    assert s.samples["a"].sample_hash == "h1"


def test_sample_order_is_first_seen_across_packed_and_full_records() -> None:
    rows = [res("c", "passed"), res("a", "failed"), res("b", "passed"), res("d", "error"), res("a", "passed", epoch=1)]
    s = summarize(rows)
    assert list(s.samples) == ["c", "a", "b", "d"]
    assert [o.sample_id for o in s.samples.outcomes(notable=True)] == ["a", "d"]
    assert [r.sample_id for r in s.samples.records()] == ["c", "a", "b", "d"]
    assert [r.status for r in s.samples.values()] == ["passed", "failed", "passed", "error"]


def test_duplicates_and_partition_clashes_are_still_refused_for_packed_samples() -> None:
    with pytest.raises(SummaryError, match="epoch 1 appears twice"):
        summarize([res("a", "passed", epoch=1), res("a", "passed", epoch=1)])
    with pytest.raises(SummaryError, match="partitions 'golden' and 'distribution'"):
        summarize([res("a", "passed"), res("a", "passed", "distribution", epoch=1)])
    over_cap = [res("x", "failed"), res("y", "failed"), res("y", "passed", epoch=1), res("y", "failed", epoch=1)]
    with pytest.raises(SummaryError, match="sample 'y' epoch 1 appears twice"):
        summarize(over_cap, detail_limit=1)


def test_epochs_beyond_the_packed_range_fall_back_to_a_full_record() -> None:
    s = summarize([res("a", "passed", epoch=3), res("a", "passed", epoch=100), res("a", "failed", epoch=64)])
    rec = s.samples["a"]
    assert (rec.epochs, rec.passed, rec.failed, rec.status) == (3, 2, 1, "failed")
    assert rec.failures[0].epoch == 64
    with pytest.raises(SummaryError, match="epoch 100 appears twice"):
        summarize([res("a", "passed", epoch=100), res("a", "passed", epoch=100)])


def test_detail_limit_drops_reasons_per_partition_but_keeps_every_count() -> None:
    rows = [
        *batch("d", "distribution", 2, 5),  # d2..d6 fail
        res("g0", "failed", reason="golden reason"),
        res("m", "passed", "distribution"),
        res("m", "failed", "distribution", epoch=1),  # mixed epochs, past the limit
        res("e", "error", "distribution", error="boom"),
    ]
    s = summarize(rows, detail_limit=2)
    kept, dropped = s.samples["d2"], s.samples["d4"]
    assert kept.failures and not kept.details_dropped
    assert dropped.failures == [] and dropped.details_dropped and dropped.status == "failed"
    assert isinstance(s.samples._entries["d4"], bytes)
    assert s.samples["g0"].failures[0].reason == "golden reason"  # golden has its own budget
    mixed = s.samples["m"]
    assert (mixed.epochs, mixed.passed, mixed.failed, mixed.details_dropped) == (2, 1, 1, True)
    err = s.samples["e"]
    assert err.status == "error" and err.error is None and err.details_dropped
    assert [r.sample_id for r in s.failing_samples("distribution")] == ["d2", "d3", "d4", "d5", "d6", "m", "e"]
    d = s.partitions["distribution"]
    assert (d.n, d.samples, d.passed, d.failed, d.errors) == (10, 9, 3, 6, 1)
    report = evaluate_gates(s, cfg(distribution={"min_pass_rate": 0.9}, max_error_rate=0.5))
    g = gate(report, "distribution")
    assert g.failing_total == 6 and g.failing_samples == ["d2", "d3", "d4", "d5", "d6", "m"]
    root = ET.fromstring(junit_xml(report, s))
    failure = root.find("testsuite[@name='evalwheel.distribution']/testcase[@name='d4']/failure")
    assert failure is not None and "reasons not kept" in (failure.get("message") or "")
    md = markdown_summary(report, s, max_failures=20)
    assert "| `d4` | distribution | failed | — | (reasons not kept) |" in md
    assert "| `g0` | golden | failed | faithfulness | golden reason |" in md
    unlimited = summarize(rows, detail_limit=None)
    assert unlimited.samples["d6"].failures and unlimited.samples["e"].error == "boom"
    assert unlimited.partitions == s.partitions


def test_summary_json_round_trip_repacks_clean_passes() -> None:
    rows = [
        *batch("g", "golden", 3, 1, sample_hash=_sha(3)),
        res("x", "failed", "distribution"),
        res("x", "passed", "distribution", epoch=1),
    ]
    s = summarize(rows, detail_limit=0)
    dumped = json.loads(s.model_dump_json())
    assert dumped["samples"]["g0"] == {
        "sample_id": "g0",
        "partition": "golden",
        "epochs": 1,
        "passed": 1,
        "failed": 0,
        "unscored": 0,
        "errors": 0,
        "sample_hash": _sha(3),
        "failures": [],
        "error": None,
        "latency_ms": 250.0,
        "details_dropped": False,
    }
    again = RunSummary.model_validate_json(s.model_dump_json())
    assert again == s
    assert isinstance(again.samples._entries["g0"], bytes)
    assert again.samples["x"].details_dropped and again.samples["x"].epochs == 2
    from_python = RunSummary.model_validate(s.model_dump())
    assert from_python == s and list(from_python.samples) == list(s.samples)


def test_regression_gate_matches_packed_samples_by_hash() -> None:
    base = [res(f"s{i}", "passed", "distribution", run="b", sample_hash=_sha(i)) for i in range(200)]
    cur = [
        res(f"s{i}", "failed" if i < 10 else "passed", "distribution", sample_hash=_sha(i if i % 50 else i + 1000))
        for i in range(200)
    ]
    g = gate(evaluate_gates(summarize(cur), cfg(regression={"max_drop": 0.0}), baseline=base), "baseline")
    # s0, s50, s100, s150 changed content; s1..s9 went from pass to fail among 196 matched samples
    assert g.details["changed"] == 4 and g.details["matched"] == 196
    assert g.failing_total == 9 and g.failing_samples == [f"s{i}" for i in range(1, 10)]
    assert g.measured == pytest.approx(187 / 196) and g.passed is False


def test_summary_memory_per_clean_pass_stays_small() -> None:
    import gc
    import tracemalloc

    n = 20_000
    hashes = [_sha(i) for i in range(n)]

    def stream() -> Iterator[SampleResult]:
        for i in range(n):
            yield SampleResult(
                run_id="r",
                sample_id=f"q{i:06d}",
                partition="distribution",
                status="passed",
                scores=[Score(name="exact", passed=True)],
                sample_hash=hashes[i],
            )

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    s = summarize(stream())
    gc.collect()
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert s.overall.samples == n
    # ~180 B measured (key string, dict slot, ~88 B packed value); a SampleRecord per sample was ~1,500 B
    assert (after - before) / n < 400
    assert (peak - before) / n < 600


@pytest.mark.parametrize("mode", ["gated", "all"])
def test_streamed_junit_counts_agree_with_the_cases_written(mode: str) -> None:
    from evalwheel.gates.junit import iter_junit_xml

    rows = [
        *batch("g", "golden", 4, 1),
        res("u", "unscored"),
        res("e", "error", "distribution"),
        *batch("d", "distribution", 6, 3),
        res("m", "passed", "adversarial"),
        res("m", "failed", "adversarial", epoch=1),
    ]
    s = summarize(rows, detail_limit=1)
    report = evaluate_gates(s, cfg(distribution={"min_pass_rate": 0.5}, max_error_rate=0.5))
    text = junit_xml(report, s, sample_failures=mode)  # type: ignore[arg-type]
    assert "".join(iter_junit_xml(report, s, sample_failures=mode)) == text  # type: ignore[arg-type]
    root = ET.fromstring(text)
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        counted = {
            "tests": len(cases),
            "failures": sum(c.find("failure") is not None for c in cases),
            "errors": sum(c.find("error") is not None for c in cases),
            "skipped": sum(c.find("skipped") is not None for c in cases),
        }
        assert {k: int(suite.get(k, "-1")) for k in counted} == counted, suite.get("name")
        totals = {k: totals[k] + v for k, v in counted.items()}
    assert {k: int(root.get(k, "-1")) for k in totals} == totals
    assert totals["tests"] == len(report.gates) + s.overall.samples
    red_samples = root.findall("testsuite[@name='evalwheel.distribution']/testcase/failure")
    assert len(red_samples) == (3 if mode == "all" else 0)  # 6/9 meets the 0.5 gate: tolerated when gated


def test_baseline_gate_name_and_its_old_spelling() -> None:
    """The gate against a baseline run is `baseline` (not to be confused with the regression partition);
    `regression:` is accepted as its old name, and giving both is an error naming them."""
    from evalwheel.gates.config import parse_gate_config

    assert parse_gate_config({"baseline": {"max_drop": 0.1}}).baseline is not None
    assert (
        parse_gate_config({"regression": {"max_drop": 0.1}}).baseline
        == parse_gate_config({"baseline": {"max_drop": 0.1}}).baseline
    )
    with pytest.raises(GateConfigError, match="old name of the `baseline` gate"):
        parse_gate_config({"baseline": {"max_drop": 0.1}, "regression": {"max_drop": 0.2}})


# ----------------------------------------------------------------------------- gates over a stored run


def _recorded_spec(tmp: Path, wrong: set[int], n: int = 30) -> Path:
    """A recorded-output spec whose samples in `wrong` answer wrongly; golden + distribution, regression gate."""
    rows = [{"id": f"s{i:02d}", "partition": "golden" if i < 5 else "distribution", "input": f"q{i}",
             "reference": f"a{i}"} for i in range(n)]  # fmt: skip
    outs = [{"id": f"s{i:02d}", "output": "wrong" if i in wrong else f"a{i}"} for i in range(n)]
    (tmp / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    outputs = f"outputs-{len(wrong)}.jsonl"  # a new file per run: the recorded solver memoizes by path
    (tmp / outputs).write_text("".join(json.dumps(o) + "\n" for o in outs))
    spec = {
        "name": "gates-on-store",
        "dataset": "data.jsonl",
        "solver": {"type": "recorded", "path": outputs},
        "graders": [{"name": "exact"}],
        "gates": {"distribution": {"min_pass_rate": 0.8}, "regression": {"max_drop": 0.0}},
    }
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    return tmp / "spec.yaml"


async def test_gates_over_stored_runs_on_both_backends(tmp_path: Path, store_url: str) -> None:
    """The baseline gate reads the previous run back from the store (SQLite or PostgreSQL); the report must be
    the one computed from the same results in memory, and a run's summary read back equals its live one."""
    from evalwheel.runs.api import run_eval
    from evalwheel.store import Store

    store = Store(store_url)
    first = await run_eval(_recorded_spec(tmp_path, {7}), store=store, baseline="latest")
    assert first.report.baseline_run_id is None and gate(first.report, "baseline").passed is None
    second = await run_eval(_recorded_spec(tmp_path, {3, 7, 12, 20}), store=store, baseline="latest")
    assert second.report.baseline_run_id == first.run_id
    g = gate(second.report, "baseline")
    assert g.passed is False and sorted(g.failing_samples) == ["s03", "s12", "s20"]
    assert g.details["matched"] == 30 and g.details["drop"] == pytest.approx(3 / 30)
    assert gate(second.report, "golden").passed is False and gate(second.report, "distribution").passed is True
    assert second.report.exit_code == ExitCode.GATE_FAILED

    stored = [summarize(store.iter_results(r.run_id, with_output=False)) for r in (first, second)]
    assert stored[1].figures() == second.summary.figures()
    config, _ = gates_from_spec(yaml.safe_load((tmp_path / "spec.yaml").read_text()), tmp_path / "spec.yaml")
    again = evaluate_gates(stored[1], config, baseline=stored[0])
    assert again.model_dump() == second.report.model_dump()
