"""Issue #12 item 5: every verdict is shown next to the agreement with humans its grader was measured at.

`evaluate --explain`, `evaluate --json`, the run's terminal and markdown summaries and `runs show` print each
grader's figure (metric, value, n, dataset, date) from its Scores' metadata (shipped records, or a spec's
`calibration:` record), and "not calibrated" where there is none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from evalwheel.calibration.record import CalibrationRecord, DatasetRef, write_record
from evalwheel.calibration.shipped import NOT_CALIBRATED, agreement_note, format_note
from evalwheel.cli import app
from evalwheel.types import SessionEvaluation

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = ROOT / "examples/studymode/sessions"
runner = CliRunner(env={"COLUMNS": "1000"})  # wide: table cells are not folded mid-figure

HISTORY = (
    "Tutor: Hi, could you please provide a step-by-step solution for the question below? The question is: "
    "Ana has 4 bags with 6 apples each. She eats 3 apples. How many apples are left?\u00a0\n\u00a0"
    "Student: 4 + 6 = 10 apples. 10 - 3 = 7.\u00a0\n\u00a0Tutor: Can you explain your first step?\u00a0\n\u00a0"
    "Student: I added the bags and the apples to get 10."
)
REPLIES = [
    "Good try! Look at your first step again: should you add 4 and 6, or multiply them?",
    "The answer is 21.",
    "That is wrong, you clearly did not think at all.",
]
SOLVER = """
async def answer(sample, ctx):
    return sample.metadata["reply"]
"""


def _one_session() -> Path:
    return sorted(SESSIONS.glob("*.json"))[0]


def test_evaluate_json_and_explain_say_not_calibrated_per_check() -> None:
    path = _one_session()
    result = runner.invoke(app, ["evaluate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    evaluated = json.loads(result.stdout)["results"][0]
    rows = evaluated["checks"] + evaluated["dimensions"]
    assert rows and all(r["agreement"] == {"calibrated": False, "text": NOT_CALIBRATED} for r in rows)
    explained = runner.invoke(app, ["evaluate", str(path), "--explain", evaluated["session_id"]])
    assert explained.exit_code == 0, explained.output
    assert "agreement" in explained.stdout and explained.stdout.count(NOT_CALIBRATED) >= len(rows)
    table = runner.invoke(app, ["evaluate", str(path)])
    assert f"agreement with humans: {NOT_CALIBRATED}: " in " ".join(table.stdout.split())


def test_evaluate_shows_the_figure_a_score_carries(monkeypatch: pytest.MonkeyPatch) -> None:
    from evalwheel.graders.pedagogy import session as session_module

    note = agreement_note("pedagogy.tutor_tone", "rules")
    assert note is not None
    real = session_module.evaluate_session

    def with_note(session: Any, cfg: Any = None) -> SessionEvaluation:
        r = real(session, cfg)
        first = r.checks[0]
        first = first.model_copy(update={"metadata": {**first.metadata, "agreement": note}})
        return r.model_copy(update={"checks": [first, *r.checks[1:]]})

    monkeypatch.setattr(session_module, "evaluate_session", with_note)
    path = _one_session()
    data = json.loads(runner.invoke(app, ["evaluate", str(path), "--json"]).stdout)["results"][0]
    shown = data["checks"][0]["agreement"]
    assert shown["calibrated"] is True and shown["value"] == note["value"] and shown["n"] == note["n"]
    assert shown["dataset"] == note["dataset"] and shown["date"] == note["date"] and shown["metric"] == "macro_f1"
    assert data["checks"][1]["agreement"]["calibrated"] is False
    explained = runner.invoke(app, ["evaluate", str(path), "--explain", data["session_id"]])
    flat = " ".join(explained.stdout.split())
    assert f"macro-F1 {note['value']:.2f}" in flat and f"n={note['n']}" in flat and note["date"] in flat


def _project(tmp: Path) -> Path:
    lines = [
        json.dumps({"id": f"r{i}", "input": HISTORY, "reference": "21", "metadata": {"reply": reply}})
        for i, reply in enumerate(REPLIES)
    ]
    (tmp / "data.jsonl").write_text("\n".join(lines) + "\n")
    (tmp / "app.py").write_text(SOLVER)
    record = CalibrationRecord(
        task="grader", grader="contains", score_name="contains", dataset=DatasetRef(path="my-labels.jsonl", sha256="0"),
        n=40, scored=40, unscored=0, kappa=0.5, macro_f1=None, accuracy=0.75,
        measured_at="2026-12-01T10:00:00+00:00", evalwheel_version="test",
    )  # fmt: skip
    write_record(record, tmp / "contains.calibration.json")
    spec = {
        "name": "agreement-shown",
        "dataset": "data.jsonl",
        "solver": {"type": "python", "function": "app.py:answer"},
        "graders": [
            {"name": "pedagogy.tutor_tone", "config": {"tier": "rules"}},
            {"name": "exact"},
            {"name": "contains", "config": {"value": "21"}, "calibration": "contains.calibration.json"},
        ],
        "gates": {"distribution": {"min_pass_rate": 0.0}},
        "store": "runs.sqlite",
    }
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    return tmp / "spec.yaml"


def test_run_summaries_and_runs_show_carry_each_graders_agreement(tmp_path: Path) -> None:
    spec = _project(tmp_path)
    tone = agreement_note("pedagogy.tutor_tone", "rules")
    assert tone is not None
    md = tmp_path / "summary.md"
    args = ["run", str(spec), "--no-progress", "--store", str(tmp_path / "runs.sqlite")]
    printed = runner.invoke(app, [*args, "--markdown", str(md)])
    assert printed.exit_code in (0, 1), printed.output
    flat = " ".join(printed.stdout.split())
    assert "agreement with humans" in flat and NOT_CALIBRATED in flat and f"macro-F1 {tone['value']:.2f}" in flat

    rows = {line.split("|")[1].strip(): line for line in md.read_text().splitlines() if line.startswith("| ")}
    assert format_note(tone) in rows["Tutor_Tone"]
    assert NOT_CALIBRATED in rows["exact"]
    assert "kappa 0.50" in rows["contains"] and "n=40" in rows["contains"] and "2026-12-01" in rows["contains"]

    payload = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    graders = payload["summary"]["overall"]["graders"]
    assert graders["Tutor_Tone"]["agreement"] == tone and graders["exact"]["agreement"] is None
    run_id = payload["run_id"]

    shown = runner.invoke(app, ["runs", "show", run_id, "--store", str(tmp_path / "runs.sqlite")])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.stdout.split())
    assert f"macro-F1 {tone['value']:.2f}" in text and "kappa 0.50" in text and NOT_CALIBRATED in text
    data = json.loads(
        runner.invoke(app, ["runs", "show", run_id, "--store", str(tmp_path / "runs.sqlite"), "--json"]).stdout
    )
    assert data["graders"]["Tutor_Tone"]["agreement"]["value"] == tone["value"]
    assert data["graders"]["exact"]["agreement"] == {"calibrated": False, "text": NOT_CALIBRATED}
    for result in data["results"]:
        by_name = {s["name"]: s["agreement"] for s in result["scores"]}
        assert by_name["Tutor_Tone"]["n"] == tone["n"] and by_name["contains"]["metric"] == "kappa"
        assert by_name["exact"]["calibrated"] is False
