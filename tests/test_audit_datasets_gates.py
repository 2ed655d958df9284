"""Hostile-input audit of datasets, gates and run comparison: each test pins a defect that was fixed.

Bad input must end in one clear error naming file, position, field and cause (exit 2, no traceback), and the
statistics must never print float noise as a finding.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.datasets.samples import InvalidDatasetError, load_dataset
from evalwheel.gates import GateConfigError, parse_gate_config
from evalwheel.runs.spec import GraderSpec
from evalwheel.stats.compare import Outcome, cohen_d, cohen_dz, compare_runs, welch_test

runner = CliRunner()


def _errors(path: Path) -> list[str]:
    with pytest.raises(InvalidDatasetError) as info:
        load_dataset(path)
    return [str(e) for e in info.value.errors]


# ------------------------------------------------------------------------------------------- datasets


def test_lone_surrogate_is_a_dataset_error_not_a_traceback(tmp_path: Path) -> None:
    """`"\\ud83d"` (an emoji cut in half by a JS tool) used to crash the hash with UnicodeEncodeError."""
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"id": "ok", "input": "fine"}\n{"id": "cut", "input": "hi \\ud83d", "tags": ["a"]}\n', encoding="utf-8"
    )
    errors = _errors(path)
    assert len(errors) == 1
    assert "line 2: $.input:" in errors[0] and "surrogate" in errors[0]
    res = runner.invoke(app, ["dataset", "validate", str(path)])
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit) and "line 2" in res.output


def test_lone_surrogate_in_a_yaml_dataset_names_the_item(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text('- {id: a, input: x, metadata: {note: "\\udc00"}}\n', encoding="utf-8")
    errors = _errors(path)
    assert len(errors) == 1 and "item 0 (line 1): $.metadata.note:" in errors[0]


@pytest.mark.parametrize("label", ['"false"', "1", '"yes"'])
def test_human_label_must_be_true_or_false(tmp_path: Path, label: str) -> None:
    """A string or number label was silently ignored, so the cost model ran on fewer (or no) labelled samples."""
    path = tmp_path / "d.jsonl"
    path.write_text(f'{{"id": "a", "input": "x", "metadata": {{"human_label": {label}}}}}\n', encoding="utf-8")
    errors = _errors(path)
    assert len(errors) == 1 and "line 1: $.metadata.human_label: expected true or false" in errors[0]


def test_human_label_true_false_or_null_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    rows = [{"id": str(i), "input": "x", "metadata": {"human_label": v}} for i, v in enumerate([True, False, None])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert load_dataset(path).total == 3


@pytest.mark.parametrize("bad_id", ["new\nline", "tab\there", "esc\x1b[31mred", "nul\x00"])
def test_ids_with_control_characters_are_refused(tmp_path: Path, bad_id: str) -> None:
    """Such an id garbled the markdown PR comment and every terminal table (the JUnit file dropped the chars)."""
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"id": bad_id, "input": "x"}) + "\n", encoding="utf-8")
    errors = _errors(path)
    assert len(errors) == 1 and "line 1: $.id:" in errors[0] and "control character" in errors[0]


def test_ids_equal_after_unicode_normalisation_are_duplicates(tmp_path: Path) -> None:
    """`café` typed on two systems (NFC and NFD) looked identical in every report and lock diff."""
    path = tmp_path / "d.jsonl"
    rows = [{"id": "caf\u00e9", "input": "x"}, {"id": "cafe\u0301", "input": "y"}, {"id": "Cafe", "input": "z"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    errors = _errors(path)
    assert len(errors) == 1
    assert "line 2: $.id: duplicate id" in errors[0] and "first at line 1" in errors[0]
    assert "Unicode" in errors[0]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_invalid_json(tmp_path: Path, constant: str) -> None:
    """Python's json module accepts them; no other JSON reader does, and `save_dataset` wrote them back."""
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text(f'{{"id": "a", "input": "x", "metadata": {{"w": {constant}}}}}\n', encoding="utf-8")
    errors = _errors(jsonl)
    assert len(errors) == 1 and "line 1: $: invalid JSON" in errors[0] and constant in errors[0]
    whole = tmp_path / "d.json"
    whole.write_text(f'[{{"id": "a", "input": "x", "metadata": {{"w": {constant}}}}}]', encoding="utf-8")
    errors = _errors(whole)
    assert len(errors) == 1 and "invalid JSON" in errors[0] and constant in errors[0]


# ---------------------------------------------------------------------------------------------- gates


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"golden": {"min_pass_rate": False}}, "gates.golden.min_pass_rate"),  # was 0.0: the gate always passed
        ({"distribution": {"min_pass_rate": True}}, "gates.distribution.min_pass_rate"),
        ({"max_error_rate": True}, "gates.max_error_rate"),  # was 1.0: any number of errors allowed
        ({"max_unscored_rate": False}, "gates.max_unscored_rate"),
        ({"baseline": {"max_drop": True}}, "gates.baseline.max_drop"),
        ({"golden": {"min_pass_rate": "0.9"}}, "gates.golden.min_pass_rate"),
    ],
)
def test_gate_thresholds_must_be_numbers(data: dict[str, object], field: str) -> None:
    with pytest.raises(GateConfigError, match=field.replace(".", r"\.")):
        parse_gate_config(data, "s.yaml")


def test_gate_thresholds_still_take_integers() -> None:
    config = parse_gate_config({"golden": {"min_pass_rate": 1}, "max_error_rate": 0}, "s.yaml")
    assert config.golden is not None and config.golden.min_pass_rate == 1.0 and config.max_error_rate == 0.0


def test_min_agreement_true_in_a_spec_is_refused() -> None:
    """The spec model turned `min_agreement: true` into 1.0 before the gate's own bool check could see it."""
    with pytest.raises(ValidationError):
        GraderSpec.model_validate({"name": "faithfulness", "min_agreement": True})
    assert GraderSpec.model_validate({"name": "faithfulness", "min_agreement": 0}).min_agreement == 0.0


# ------------------------------------------------------------------------------------------ statistics


def test_constant_shift_is_not_an_astronomical_effect_size() -> None:
    """B = A + 0.1 on every sample: the differences are 0.1 up to float noise, so d_z is undefined (SD 0),
    not 1e14, and the minimum detectable effect is not a 4e-16 artefact."""
    a = [Outcome(sample_id=f"s{i}", passed=True, value=float(i)) for i in range(30)]
    b = [Outcome(sample_id=f"s{i}", passed=True, value=float(i) + 0.1) for i in range(30)]
    assert cohen_dz([y.value - x.value for x, y in zip(a, b, strict=True)]) is None  # type: ignore[operator]
    cmp = compare_runs(a, b)
    assert cmp.scores is not None
    assert cmp.scores.effect_size.value is None
    assert cmp.scores.mde.difference == 0.0
    assert cmp.scores.verdict == "improvement"


def test_constant_scores_are_handled_as_zero_variance_without_scipy_warnings() -> None:
    """[0.6] * 30 has a variance of 1e-32 in floating point: it skipped the zero-variance branch, printed scipy's
    'catastrophic cancellation' RuntimeWarning and gave Cohen's d ~ 1e15."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        test, ci = welch_test([0.5] * 30, [0.6] * 30)
        assert test.p_value == 0.0 and ci.low == ci.high == pytest.approx(0.1)
        equal, _ = welch_test([0.7] * 30, [0.4 + 0.3] * 30)  # 0.7 and 0.7000000000000001: the same score
        assert equal.p_value == 1.0
        assert cohen_d([0.5] * 30, [0.6] * 30) is None
        one_constant, _ = welch_test([0.6] * 30, [0.1 * (i % 7) for i in range(30)])
        assert one_constant.p_value is not None and 0.0 <= one_constant.p_value <= 1.0
        a = [Outcome(sample_id=f"a{i}", passed=True, value=0.6) for i in range(30)]
        b = [Outcome(sample_id=f"b{i}", passed=True, value=0.7) for i in range(30)]
        cmp = compare_runs(a, b)
    assert cmp.scores is not None and cmp.scores.effect_size.value is None
    assert "nan" not in cmp.model_dump_json().lower() and "infinity" not in cmp.model_dump_json().lower()


def test_scores_equal_up_to_float_rounding_are_no_change() -> None:
    """(x + 0.3) − 0.3 differs from x by 1e-17: Wilcoxon ranked that noise and `compare` said 'significant
    regression of 0 in mean score' (exit 1)."""
    xs = [((i * 7919) % 1000) / 1000 for i in range(40)]
    a = [Outcome(sample_id=str(i), passed=True, value=x) for i, x in enumerate(xs)]
    b = [Outcome(sample_id=str(i), passed=True, value=(x + 0.3) - 0.3) for i, x in enumerate(xs)]
    assert any(x != y.value for x, y in zip(xs, b, strict=True))  # the noise is really there
    cmp = compare_runs(a, b)
    assert cmp.scores is not None and cmp.scores.test.p_value == 1.0
    assert cmp.verdict == "no_change"
