"""Audit of the grader library and agreement commands as a hostile user: each test is a defect found by trying
the documented commands with bad input (a traceback, or garbage accepted with exit 0), fixed to a one-line
error with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evalwheel.cli import app

runner = CliRunner()
SESSIONS = Path(__file__).resolve().parents[1] / "examples" / "studymode" / "sessions"


def one_line_error(result: object, *needles: str) -> None:
    """Exit 2, no traceback, and an `error:` line on stderr naming every needle."""
    assert result.exit_code == 2, (result.exit_code, result.output)  # type: ignore[attr-defined]
    assert result.exception is None or isinstance(result.exception, SystemExit)  # type: ignore[attr-defined]
    err = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in err and "error" in err
    for needle in needles:
        assert needle in err, err


# ---------------------------------------------------------------------------------------------- data fetch


def test_data_fetch_with_a_file_in_the_way_of_a_set_folder_exits_2(tmp_path: Path) -> None:
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / "mathdial").write_text("not a folder")
    result = runner.invoke(app, ["data", "fetch", str(dest), "--name", "mathdial"])
    one_line_error(result, "mathdial")
    assert (dest / "mathdial").read_text() == "not a folder"


def test_data_fetch_with_a_folder_where_a_data_file_goes_exits_2(tmp_path: Path) -> None:
    dest = tmp_path / "data"
    (dest / "uptake" / "uptake_data.csv").mkdir(parents=True)
    result = runner.invoke(app, ["data", "fetch", str(dest), "--name", "uptake"])
    one_line_error(result, "uptake_data.csv", "directory")


# ---------------------------------------------------------------------------------------------- agree sessions


def _session_copies(tmp: Path, edit: object) -> Path:
    folder = tmp / "sessions"
    folder.mkdir()
    for path in sorted(SESSIONS.glob("*.json"))[:3]:
        data = json.loads(path.read_text())
        edit(data)  # type: ignore[operator]
        (folder / path.name).write_text(json.dumps(data))
    return folder


@pytest.mark.parametrize("verb", ["agree", "calibrate"])
def test_agree_sessions_with_a_check_nobody_labelled_reports_na_not_a_traceback(tmp_path: Path, verb: str) -> None:
    def no_recap(data: dict[str, object]) -> None:
        data["labels"]["checks"]["recap"] = None  # type: ignore[index]

    folder = _session_copies(tmp_path, no_recap)
    result = runner.invoke(app, [verb, "sessions", str(folder)])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "recap" in line)
    assert "—" in row and "│ 0 │" in row.replace(" ", " ")
    data = json.loads(runner.invoke(app, [verb, "sessions", str(folder), "--json"]).stdout)
    assert data["checks"]["recap"]["n"] == 0 and data["checks"]["recap"]["kappa"] is None


def test_agree_sessions_without_any_labelled_session_exits_2(tmp_path: Path) -> None:
    folder = _session_copies(tmp_path, lambda data: data.pop("labels"))
    for args in (["agree", "sessions", str(folder)], ["agree", "sessions", str(folder), "--json"]):
        result = runner.invoke(app, args)
        one_line_error(result, "no labelled session")
        assert "micro-F1" not in result.stdout  # no taxonomy figure of 1.000 over nothing


# ------------------------------------------------------------------------------- grader options, calibrate


@pytest.fixture
def labels_file(tmp_path: Path) -> Path:
    rows = [
        {"id": "a", "input": "Student: 2+2=5?", "output": "Where did the 5 come from?", "label": True},
        {"id": "b", "input": "Student: 2+2=5?", "output": "It is 4.", "label": False},
    ]
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("grader", "option", "field"),
    [
        ("pedagogy.tutor_tone", "tierr=rules", "'tierr'"),  # a misspelt option was ignored
        ("pedagogy.tutor_tone", "tier=bogus", "bogus"),
        ("studymode.dimension.clarity", "studymod={}", "'studymod'"),
        ("studymode.dimensions", "threshold=0.5", "'threshold'"),
    ],
)
def test_calibrate_rejects_unknown_options_of_response_and_dimension_graders(
    labels_file: Path, grader: str, option: str, field: str
) -> None:
    result = runner.invoke(app, ["calibrate", grader, "--labels", str(labels_file), "--set", option, "--no-progress"])
    one_line_error(result, grader, field)


@pytest.mark.parametrize(("option", "field"), [("temperature=5", "temperature"), ("max_tokens=0", "max_tokens")])
def test_calibrate_judge_setting_out_of_range_is_one_line(labels_file: Path, option: str, field: str) -> None:
    result = runner.invoke(
        app,
        ["calibrate", "judge.rubric", "--labels", str(labels_file), "--set", "scale_max=4", "--set", option,
         "--model", "http://127.0.0.1:9/v1#x", "--no-progress"],
    )  # fmt: skip
    one_line_error(result, "judge.rubric", field)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# ---------------------------------------------------------------------------------------------- grade


def _logs(tmp: Path) -> Path:
    rows = [{"request_id": f"r{i}", "app": "t", "input": "q", "output": "Which?", "timestamp": 1.0} for i in range(3)]
    logs = tmp / "logs.jsonl"
    logs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return logs


@pytest.mark.parametrize(
    ("grader", "field"),
    [
        ({"name": "regex", "config": {"pattern": "x", "negat": True}}, "'negat'"),
        ({"name": "regex", "config": {"pattern": "[["}}, "regular expression"),
        ({"name": "pedagogy.tutor_tone", "config": {"tierr": "rules"}}, "tierr"),
    ],
)
def test_grade_refuses_a_bad_grader_option_before_grading(
    tmp_path: Path, grader: dict[str, object], field: str
) -> None:
    logs = _logs(tmp_path)
    cfg = tmp_path / "graders.yaml"
    cfg.write_text(yaml.safe_dump({"graders": [grader]}))
    out = tmp_path / "graded.jsonl"
    result = runner.invoke(app, ["grade", str(logs), "--graders", str(cfg), "--out", str(out)])
    one_line_error(result, "graders[0]", field)
    assert not out.exists()  # every row an `error` with exit 0, before
