"""`evalwheel calibrate GRADER --labels FILE`: the labels loader, the generic runner (confusion checked by hand),
ROC-AUC, threshold tuning determinism, calibration records, `check_min_agreement`, the uptake loader and the
`calibrate similarity` command."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalwheel.calibration.cli import calibrate_app
from evalwheel.calibration.generic import GraderSetupError, calibrate_grader, roc_auc
from evalwheel.calibration.labels import LabelledItem, LabelsFormatError, load_labels
from evalwheel.calibration.record import (
    CalibrationRecord,
    check_min_agreement,
    dataset_ref,
    load_calibration_record,
    record_from_grader,
    write_record,
)
from evalwheel.calibration.runner import calibrate_threshold
from evalwheel.cli import app as main_app
from evalwheel.datasets.uptake import UptakeFormatError, load_uptake
from evalwheel.graders.registry import GraderContext, grader
from evalwheel.types import Output, Sample, Score

runner = CliRunner()
SHARED_UPTAKE = Path(__file__).resolve().parents[2] / "shared" / "data" / "uptake" / "uptake_data.csv"


@grader("test.calibration.length")
async def _length(sample: Sample, output: Output, ctx: GraderContext) -> Score:
    """value = characters / 10; passes at 0.5 (5+ characters); raises on outputs that say BOOM."""
    text = output.text or ""
    if "BOOM" in text:
        raise RuntimeError("exploded")
    value = len(text) / 10
    return Score(name="length", value=value, passed=value >= float(ctx.config.get("threshold", 0.5)))


# Hand-checked with `contains` (case-insensitive, value = the reference "Paris"):
#   1 TP, 2 TP (lower case), 3 FN, 4 TN, 5 TN, 6 FP, 7 unscored (error output)
# -> confusion [[2, 1], [1, 2]], accuracy 4/6, p_e = 0.5 so kappa = (2/3 - 1/2) / (1/2) = 1/3, every F1 = 2/3.
ROWS: list[dict[str, Any]] = [
    {"id": "1", "input": "capital?", "output": "It is Paris.", "reference": "Paris", "label": True},
    {"id": "2", "input": "capital?", "output": "paris", "reference": "Paris", "label": True},
    {"id": "3", "input": "capital?", "output": "Lyon, the capital", "reference": "Paris", "label": True},
    {"id": 4, "input": "capital?", "output": {"text": "London"}, "reference": "Paris", "label": False},
    {"id": "5", "input": "capital?", "output": "Berlin", "reference": "Paris", "label": False},
    {"id": "6", "input": "capital?", "output": "Paris? no", "reference": "Paris", "label": False},
    {"id": "7", "input": "capital?", "output": {"error": "timeout"}, "reference": "Paris", "label": True},
]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def labels_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "labels.jsonl", ROWS)


# ------------------------------------------------------------------------------------------- labels loader


def test_labels_loader_reads_text_and_output_json(labels_file: Path) -> None:
    items = load_labels(labels_file)
    assert [i.id for i in items] == ["1", "2", "3", "4", "5", "6", "7"]
    sample, output = items[3].to_sample()
    assert sample.id == "4" and sample.reference == "Paris" and output.text == "London"
    _, err = items[6].to_sample()
    assert err.error == "timeout" and err.text is None


@pytest.mark.parametrize(
    ("lines", "where", "cause"),
    [
        (['{"id": "a", "input": "q", "output": "x", "label": true}', "{not json"], "line 2", "invalid JSON"),
        (
            ['{"id": "a", "input": "q", "output": "x", "label": "yes"}'],
            "line 1: field 'label'",
            "must be true or false",
        ),
        (['{"id": "a", "input": "q", "label": true}'], "line 1: field 'output'", "required field is missing"),
        (['{"id": "a", "input": "q", "output": "x", "label": true, "lable": 1}'], "field 'lable'", "unknown field"),
        (['{"id": "a", "input": "q", "output": {"txt": "x"}, "label": true}'], "field 'output.txt'", "unknown field"),
        (['{"id": "", "input": "q", "output": "x", "label": true}'], "line 1: field 'id'", "must not be empty"),
        (["[1, 2]"], "line 1", "expected a JSON object"),
        (
            [
                '{"id": "a", "input": "q", "output": "x", "label": true}',
                "",
                '{"id": "a", "input": "q", "output": "y", "label": false}',
            ],
            "line 3: field 'id'",
            "duplicate id 'a' (first on line 1)",
        ),
        (["", "  "], "labels.jsonl", "no labelled items"),
    ],
)
def test_labels_loader_errors_name_line_field_cause(tmp_path: Path, lines: list[str], where: str, cause: str) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LabelsFormatError) as err:
        load_labels(path)
    assert where in str(err.value) and cause in str(err.value) and str(path) in str(err.value)


def test_labels_loader_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LabelsFormatError, match="cannot read the file"):
        load_labels(tmp_path / "none.jsonl")


# ------------------------------------------------------------------------------------------- generic runner


async def test_contains_confusion_matrix_by_hand(labels_file: Path) -> None:
    ticks: list[int] = []
    res = await calibrate_grader(
        load_labels(labels_file), "contains", {"case_sensitive": False}, concurrency=2, on_progress=ticks.append
    )
    assert sum(ticks) == 7
    assert res.n == 7 and res.scored == 6 and res.unscored == 1 and res.errors == 0
    assert res.unscored_examples == ["7: unscored: the output is an error: timeout"]
    a = res.agreement
    assert a.labels == ["pass", "fail"] and a.confusion == [[2, 1], [1, 2]]
    assert a.accuracy == pytest.approx(4 / 6) and a.kappa == pytest.approx(1 / 3) and a.macro_f1 == pytest.approx(2 / 3)
    assert a.per_label["pass"].precision == pytest.approx(2 / 3) and a.per_label["fail"].recall == pytest.approx(2 / 3)
    # contains gives 1.0 / 0.0: ROC-AUC is the balanced accuracy, and there is nothing to tune.
    assert res.valued == 6 and res.roc_auc == pytest.approx(2 / 3) and res.threshold is None


async def test_config_changes_the_verdicts(labels_file: Path) -> None:
    res = await calibrate_grader(load_labels(labels_file), "contains")  # case-sensitive: "paris" now fails
    assert res.agreement.confusion == [[1, 2], [1, 2]]


async def test_errors_are_counted_apart_and_first_item_error_stops(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "input": "q", "output": "long enough", "label": True},
        {"id": "b", "input": "q", "output": "BOOM", "label": False},
        {"id": "c", "input": "q", "output": "tiny", "label": False},
    ]
    res = await calibrate_grader(load_labels(write_jsonl(tmp_path / "l.jsonl", rows)), "test.calibration.length")
    assert res.n == 3 and res.errors == 1 and res.scored == 2 and res.unscored == 0
    assert res.error_examples == ["b: RuntimeError: exploded"]
    assert res.agreement.confusion == [[1, 0], [0, 1]]
    first_bad = load_labels(write_jsonl(tmp_path / "m.jsonl", rows[1:]))
    with pytest.raises(GraderSetupError, match="failed on item 'b': exploded"):
        await calibrate_grader(first_bad, "test.calibration.length")
    with pytest.raises(KeyError, match="unknown grader"):
        await calibrate_grader(first_bad, "no.such.grader")


def _length_items(n: int) -> list[LabelledItem]:
    # Lengths 1..n; humans say pass from 9 characters on, except two noisy labels.
    return [
        LabelledItem(id=str(i), input="q", output="x" * i, label=(i >= 9) != (i in (4, 15))) for i in range(1, n + 1)
    ]


async def test_threshold_tuning_split_is_seeded_and_matches_calibrate_threshold() -> None:
    items = _length_items(20)
    a = await calibrate_grader(items, "test.calibration.length", dev_fraction=0.5, seed=7)
    b = await calibrate_grader(items, "test.calibration.length", dev_fraction=0.5, seed=7)
    assert a.threshold is not None and a.threshold == b.threshold
    assert a.threshold.n_dev == 10 and a.threshold.n_heldout == 10
    direct = calibrate_threshold([i / 10 for i in range(1, 21)], [it.label for it in items], 0.5, 7)
    assert direct == a.threshold
    clean = [LabelledItem(id=str(i), input="q", output="x" * i, label=i >= 9) for i in range(1, 21)]
    sep = await calibrate_grader(clean, "test.calibration.length", seed=7)
    assert sep.threshold is not None and sep.threshold.dev.accuracy == 1.0 and 0.1 < sep.threshold.threshold < 2.0
    assert sep.roc_auc == 1.0
    other = await calibrate_grader(items, "test.calibration.length", dev_fraction=0.3, seed=1)
    assert other.threshold is not None and other.threshold.n_dev == 6 and other.threshold.heldout.n == 14
    # 12 positives (lengths 4 and 9..20 except 15), 8 negatives: the positive at 4 beats 3 negatives (loses 5),
    # the negative at 15 beats 6 positives (9..14); AUC = (96 - 5 - 6) / 96.
    assert a.roc_auc == pytest.approx(85 / 96)


def test_roc_auc_known_values() -> None:
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(0.75)
    assert roc_auc([0.5, 0.5], [True, False]) == pytest.approx(0.5)  # a tie counts half
    assert roc_auc([0.9, 0.1], [False, True]) == 0.0
    assert roc_auc([0.1, 0.2], [True, True]) is None
    with pytest.raises(ValueError, match="differ in length"):
        roc_auc([0.1], [True, False])


# ------------------------------------------------------------------------------------------- CLI


def test_cli_calibrate_name_routes_to_generic_and_writes_record(labels_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "records" / "contains.json"
    args = ["contains", "--labels", str(labels_file), "--set", "case_sensitive=false", "--json", "--no-progress"]
    result = runner.invoke(calibrate_app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["grader"] == "contains" and data["agreement"]["confusion"] == [[2, 1], [1, 2]]
    rec = load_calibration_record(out)
    assert rec.grader == "contains" and rec.task == "grader" and rec.config == {"case_sensitive": False}
    assert rec.kappa == pytest.approx(1 / 3) and rec.n == 7 and rec.scored == 6 and rec.unscored == 1
    assert rec.dataset.sha256 == hashlib.sha256(labels_file.read_bytes()).hexdigest() and rec.dataset.items == 7
    assert rec.threshold is None and rec.model is None


def test_cli_explicit_grader_subcommand_via_main_app_and_text_summary(labels_file: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "contains.yaml"
    cfg.write_text("grader: contains\nconfig:\n  case_sensitive: false\n", encoding="utf-8")
    args = ["calibrate", "grader", "contains", "--labels", str(labels_file), "--config", str(cfg), "--no-progress"]
    result = runner.invoke(main_app, args)
    assert result.exit_code == 0, result.output
    assert "human pass      2      1" in result.stdout and "kappa: 0.333" in result.stdout
    assert "unscored: 1" in result.stdout


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["no.such.grader"], "unknown grader 'no.such.grader'"),
        (["contains", "--set", "bogus=1"], "config field 'bogus': unknown option"),
        (["contains", "--set", "novalue"], "expected KEY=VALUE"),
    ],
)
def test_cli_bad_grader_or_config_exits_2(labels_file: Path, args: list[str], cause: str) -> None:
    result = runner.invoke(calibrate_app, [*args, "--labels", str(labels_file), "--no-progress"])
    assert result.exit_code == 2 and cause in result.stderr and result.stdout == ""


def test_cli_bad_labels_and_config_file_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "input": "q", "output": "x", "label": 1}\n', encoding="utf-8")
    result = runner.invoke(calibrate_app, ["contains", "--labels", str(bad)])
    assert result.exit_code == 2 and "bad.jsonl: line 1: field 'label': must be true or false" in result.stderr
    good = write_jsonl(tmp_path / "good.jsonl", ROWS[:2])
    cfg = tmp_path / "c.yaml"
    cfg.write_text("grader: exact\nconfig: {}\n", encoding="utf-8")
    result = runner.invoke(calibrate_app, ["contains", "--labels", str(good), "--config", str(cfg)])
    assert result.exit_code == 2 and "configures 'exact', not 'contains'" in result.stderr


# ------------------------------------------------------------------------------------------- records


def _record(tmp_path: Path, kappa: float | None, grader_name: str = "contains", threshold: float | None = None) -> Path:
    data = tmp_path / "d.jsonl"
    data.write_text("x\n", encoding="utf-8")
    rec = CalibrationRecord(
        task="grader",
        grader=grader_name,
        dataset=dataset_ref(data, 1),
        n=10,
        scored=9,
        unscored=1,
        kappa=kappa,
        macro_f1=0.7,
        accuracy=0.8,
        threshold=threshold,
        heldout_kappa=None if threshold is None else 0.55,
        measured_at="2026-01-01T00:00:00+00:00",
        evalwheel_version="0.1.0",
    )
    return write_record(rec, tmp_path / f"rec-{grader_name}-{kappa}-{threshold}.json")


async def test_record_round_trip(labels_file: Path, tmp_path: Path) -> None:
    res = await calibrate_grader(load_labels(labels_file), "contains", {"case_sensitive": False})
    rec = record_from_grader(res, dataset_ref(labels_file, 7), config={"case_sensitive": False, "judge_model": res})
    assert rec.config["judge_model"] == "GraderCalibration"  # objects are recorded by name, never pickled
    path = write_record(rec, tmp_path / "sub" / "r.json")
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(raw["kappa"], float) and raw["grader"] == "contains"
    again = load_calibration_record(path)
    assert again == rec and again.details["agreement"]["confusion"] == [[2, 1], [1, 2]]


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("{", "invalid JSON"),
        ("[]", "expected a JSON object"),
        ('{"grader": "x"}', "field 'task': required field is missing"),
    ],
)
def test_bad_record_errors(tmp_path: Path, text: str, cause: str) -> None:
    path = tmp_path / "rec.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=cause):
        load_calibration_record(path)


def test_check_min_agreement(tmp_path: Path) -> None:
    path = _record(tmp_path, 0.62)
    ok, msg = check_min_agreement(path, 0.6)
    assert ok and "kappa 0.620 >= 0.6" in msg and "contains" in msg
    ok, msg = check_min_agreement(path, 0.7)
    assert not ok and "kappa 0.620 < required 0.7" in msg
    ok, msg = check_min_agreement(path, 0.7, metric="accuracy")
    assert ok and "accuracy 0.800" in msg
    ok, msg = check_min_agreement(_record(tmp_path, 0.5, threshold=0.3), 0.5, metric="heldout_kappa")
    assert ok and "at the tuned threshold 0.3" in msg
    ok, msg = check_min_agreement(path, 0.1, metric="heldout_kappa")
    assert not ok and "not available" in msg
    ok, msg = check_min_agreement(path, 0.1, grader="exact")
    assert not ok and "is for grader 'contains', not 'exact'" in msg
    ok, msg = check_min_agreement(None, 0.4)
    assert not ok and "no calibration record" in msg
    ok, msg = check_min_agreement(tmp_path / "missing.json", 0.4)
    assert not ok and "cannot read the calibration record" in msg
    ok, _ = check_min_agreement(_record(tmp_path, None), 0.0)
    assert not ok  # kappa None (nothing compared) never passes, whatever the bar
    with pytest.raises(ValueError, match="unknown agreement metric"):
        check_min_agreement(path, 0.5, metric="f1")


# ------------------------------------------------------------------------------------------- uptake

HEADER = (
    "obs_id,exchange_idx,student_text,teacher_text,student_on_task,student_on_task_num_agree,"
    "student_on_task_majority,student_on_task_zscore,teacher_on_task,teacher_on_task_num_agree,"
    "teacher_on_task_majority,teacher_on_task_zscore,uptake,uptake_num_agree,uptake_majority,uptake_zscore"
)


def uptake_csv(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    """rows: (student, teacher, uptake mean, uptake majority) in the real file's 16-column format."""
    lines = [HEADER]
    for i, (student, teacher, mean, majority) in enumerate(rows):
        lines.append(f'{i},{10 + i},"{student}","{teacher}",1.0,3,1,0.4,1.0,3,1,0.4,{mean},2,{majority},0.1')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


UPTAKE_ROWS = [
    ("Four is half of eight.", "Four is half of eight, yes. Why?", "1.6666666666666667", "2.0"),
    ("I added the two numbers.", "You added the two numbers.", "2.0", "2.0"),
    ("The denominators are different.", "Okay.", "0.6666666666666666", "1.0"),
    ("Can I sharpen my pencil?", "Sit down, please, page forty.", "0.0", "0.0"),
    ("It was on the floor.", "Put it in the bin.", "", ""),  # no majority: skipped
    ("Is it seven, like the other one?", "What colour is the bus outside?", "0.3333333333333333", "0.0"),
]


def test_uptake_loader_binarises_by_majority(tmp_path: Path) -> None:
    path = uptake_csv(tmp_path / "uptake.csv", UPTAKE_ROWS)
    data = load_uptake(path)
    assert data.rows == 6 and data.skipped_no_majority == 1 and len(data.pairs) == 5
    assert [p.label for p in data.pairs] == [True, True, False, False, False] and data.positives == 2
    assert data.pairs[0].id == "uptake-0-10" and data.pairs[2].majority == 1
    assert data.pairs[0].mean == pytest.approx(5 / 3)
    sample, output = data.pairs[1].to_sample()
    assert sample.reference == "I added the two numbers." and output.text == "You added the two numbers."
    assert [p.label for p in load_uptake(path, positive_at=1).pairs] == [True, True, True, False, False]


@pytest.mark.parametrize(
    ("mutate", "cause"),
    [
        (lambda t: t.replace(",uptake_majority,", ",uptake_maj,"), "line 1: missing column(s) uptake_majority"),
        (lambda t: t.replace(",2.0,0.1", ",3.0,0.1", 1), "line 2: uptake_majority '3.0' is not one of 0, 1, 2"),
        (lambda t: t.replace('"Okay."', '""'), "line 4: empty teacher_text"),
        (lambda t: t.replace(",1.0,0.1", ",high,0.1", 1), "line 4: uptake_majority 'high' is not a number"),
        (lambda t: HEADER + "\n", "no exchange with a majority"),
    ],
)
def test_uptake_loader_errors(tmp_path: Path, mutate: Any, cause: str) -> None:
    path = uptake_csv(tmp_path / "uptake.csv", UPTAKE_ROWS)
    path.write_text(mutate(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(UptakeFormatError) as err:
        load_uptake(path)
    assert cause in str(err.value) and str(path) in str(err.value)


def test_uptake_loader_missing_file_and_bad_positive_at(tmp_path: Path) -> None:
    with pytest.raises(UptakeFormatError, match="cannot read the file"):
        load_uptake(tmp_path / "none.csv")
    with pytest.raises(ValueError, match="positive_at"):
        load_uptake(tmp_path / "none.csv", positive_at=3)


def test_uptake_loader_on_shared_data_shape() -> None:
    if not SHARED_UPTAKE.exists():
        pytest.skip("shared uptake data not present")
    data = load_uptake(SHARED_UPTAKE)
    assert data.rows == 2246 and data.skipped_no_majority == 551 and len(data.pairs) == 1695
    assert data.positives == 780


def test_cli_similarity_on_small_uptake_file(tmp_path: Path) -> None:
    path = uptake_csv(tmp_path / "uptake.csv", UPTAKE_ROWS)
    out = tmp_path / "sim.json"
    args = ["similarity", "--uptake", str(path), "--json", "--no-progress", "--dev-fraction", "0.4", "--out", str(out)]
    result = runner.invoke(calibrate_app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["task"] == "similarity" and data["grader"] == "semantic_similarity"
    assert data["n"] == 5 and data["scored"] == 5 and data["skipped_no_majority"] == 1 and data["positives"] == 2
    # The two repeat-the-student responses are far closer to the utterance than the three that ignore it.
    assert data["roc_auc"] == 1.0
    assert data["threshold"]["n_dev"] == 2 and data["threshold"]["n_heldout"] == 3
    rec = load_calibration_record(out)
    assert rec.task == "similarity" and rec.config == {"threshold": 0.7} and rec.roc_auc == 1.0
    assert rec.details["label_rule"] == "uptake_majority >= 2" and rec.dataset.items == 6


def test_cli_similarity_bad_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "u.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    result = runner.invoke(calibrate_app, ["similarity", "--uptake", str(bad)])
    assert result.exit_code == 2 and "missing column(s)" in result.stderr


def test_calibrate_grader_timeout_reaches_the_judge_model(labels_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`calibrate GRADER --model M --timeout S`: the judge is built with S as its total limit per request."""
    import evalwheel.calibration.cli as calibration_cli
    from evalwheel.models.http import OpenAIModel

    judge = calibration_cli._model("http://127.0.0.1:9/v1#m", False, 1, 0.75)
    assert isinstance(judge, OpenAIModel) and judge.timeouts.total_s == 0.75
    seen: list[float | None] = []

    def fake(name: str, cache: bool, concurrency: int, timeout_s: float | None = None) -> Any:
        seen.append(timeout_s)
        raise calibration_cli._fail("stop here")

    monkeypatch.setattr(calibration_cli, "_model", fake)
    args = ["grader", "contains", "--labels", str(labels_file), "--model", "local", "--timeout", "1.5"]
    res = CliRunner().invoke(calibrate_app, args)
    assert res.exit_code == 2 and seen == [1.5], res.output


@pytest.mark.parametrize("form", ["pairwise", "faithfulness"])
def test_calibrate_pairwise_and_faithfulness_take_timeout(
    form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The judge-backed calibrate forms pass `--timeout S` to their judge like `calibrate GRADER` does."""
    import evalwheel.calibration.cli as calibration_cli

    seen: list[float | None] = []

    def fake(name: str, cache: bool, concurrency: int, timeout_s: float | None = None) -> Any:
        seen.append(timeout_s)
        raise calibration_cli._fail("stop here")

    monkeypatch.setattr(calibration_cli, "_model", fake)
    fixtures = Path(__file__).parent / "fixtures"
    file = {"pairwise": ["--llmbar", str(fixtures / "llmbar_tiny.json")],
            "faithfulness": ["--faithbench", str(fixtures / "faithbench_tiny.csv")]}[form]  # fmt: skip
    res = CliRunner().invoke(calibrate_app, [form, *file, "--model", "local", "--timeout", "2"])
    assert res.exit_code == 2 and seen == [2.0], res.output
