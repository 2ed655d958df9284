"""The `evalwheel` CLI: tables, JSON, JSONL output, --explain, --skip-invalid and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from evalwheel.cli import app

SESSIONS = Path(__file__).resolve().parents[1] / "examples" / "studymode" / "sessions"
runner = CliRunner()


def test_evaluate_table_and_summary() -> None:
    result = runner.invoke(app, ["evaluate", str(SESSIONS)])
    assert result.exit_code == 0, result.output
    assert "python.range_off_by_one.beginner.overlay.003" in result.output
    assert "44 sessions" in result.output and "mean fidelity" in result.output


def test_evaluate_json_and_out(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    result = runner.invoke(app, ["evaluate", str(SESSIONS), "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["summary"]["sessions"] == 44 and len(payload["results"]) == 44
    first = payload["results"][0]
    assert {"session_id", "fidelity", "escalate", "taxonomy", "checks"} <= set(first)
    assert {c["name"] for c in first["checks"]} >= {"diagnosis_first", "recap", "safety"}
    lines = out.read_text().splitlines()
    assert len(lines) == 44 and json.loads(lines[0])["session_id"] == first["session_id"]


def test_explain_prints_every_check_with_evidence() -> None:
    sid = "python.range_off_by_one.beginner.overlay.003"
    result = runner.invoke(app, ["evaluate", str(SESSIONS), "--explain", sid])
    assert result.exit_code == 0, result.output
    for check in ("diagnosis_first", "no_direct_answer_initially", "single_question_per_step", "recap", "safety"):
        assert check in result.output
    assert "turn 5" in result.output  # the answer given after one try


def test_explain_unknown_session_is_bad_input() -> None:
    result = runner.invoke(app, ["evaluate", str(SESSIONS), "--explain", "nope"])
    assert result.exit_code == 2 and "no session with id 'nope'" in result.output


def test_bad_file_exits_2_and_skip_invalid_keeps_going(tmp_path: Path) -> None:
    shutil.copy(SESSIONS / "python.recursion.beginner.human_tutor.005.json", tmp_path)
    (tmp_path / "broken.json").write_text(
        '{"session_id": "x", "domain": "d", "prompt": "p", "trajectory": [{"role": "tutor", "content": "hi"}]}'
    )
    result = runner.invoke(app, ["evaluate", str(tmp_path)])
    assert result.exit_code == 2
    assert "broken.json: $.trajectory[0].role" in result.output
    result = runner.invoke(app, ["evaluate", str(tmp_path), "--skip-invalid", "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["summary"]["sessions"] == 1
    assert payload["invalid"][0]["json_path"] == "$.trajectory[0].role"


def test_missing_path_and_broken_config(tmp_path: Path) -> None:
    assert runner.invoke(app, ["evaluate", str(tmp_path / "none")]).exit_code == 2
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("fidelity_threshold: 3\n")
    result = runner.invoke(app, ["evaluate", str(SESSIONS), "--config", str(cfg)])
    assert result.exit_code == 2 and "cfg.yaml: fidelity_threshold" in result.output


def test_config_changes_escalation(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        "fidelity_threshold: 1.0\nlow_confidence: 0.0\nescalate_on_sensitive_request: false\n"
        # only fidelity escalates here: the reviewer dimensions' own escalation is switched off
        "dimensions:\n  accuracy: {escalate_at_or_below: null}\n  safety: {escalate_at_or_below: null}\n"
    )
    strict = json.loads(runner.invoke(app, ["evaluate", str(SESSIONS), "--json", "--config", str(cfg)]).stdout)
    default = json.loads(runner.invoke(app, ["evaluate", str(SESSIONS), "--json"]).stdout)
    perfect = sum(r["fidelity"] == 1.0 for r in strict["results"])
    assert strict["summary"]["escalated"] == 44 - perfect
    assert strict["summary"]["escalated"] != default["summary"]["escalated"]


def test_agree_sessions_reports_every_check() -> None:
    result = runner.invoke(app, ["agree", "sessions", str(SESSIONS), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["sessions"] == 44
    for name in ("diagnosis_first", "conciseness", "safety"):
        assert data["checks"][name]["n"] > 0 and -1 <= data["checks"][name]["kappa"] <= 1
