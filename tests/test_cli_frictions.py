"""New-user frictions: `--version`, `runs show`, no truncation when piped, user text escaped from rich markup."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalwheel import __version__
from evalwheel.cli import app
from evalwheel.store import Store
from evalwheel.types import Output, RunInfo, SampleResult, Score

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_version_flag() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == __version__


def _stored_run(path: Path) -> Store:
    store = Store(path)
    store.create_run(RunInfo(run_id="r1", spec_name="studymode", arm="human", status="finished",
                             metadata={"dataset": "d.jsonl"}))  # fmt: skip
    store.add_results(
        [
            SampleResult(
                run_id="r1",
                sample_id="s[1]",
                partition="golden",
                status="passed",
                value=1.0,
                scores=[Score(name="recap", value=1.0, passed=True, reason="recapped")],
                output=Output(text="fine"),
            ),
            SampleResult(
                run_id="r1",
                sample_id="s2",
                partition="regression",
                status="failed",
                value=0.0,
                scores=[Score(name="recap", value=0.0, passed=False, reason="no [bold]recap[/bold] at the end")],
                output=Output(text="bad"),
            ),
            SampleResult(run_id="r1", sample_id="s3", partition="regression", status="error", error="solver: boom"),
        ]
    )
    return store


def test_runs_show_table_and_json(tmp_path: Path) -> None:
    _stored_run(tmp_path / "r.sqlite")
    url = str(tmp_path / "r.sqlite")
    result = runner.invoke(app, ["runs", "show", "r1", "--store", url])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "studymode [human]" in text  # the arm in brackets is shown, not swallowed as markup
    assert "no [bold]recap[/bold] at the end" in text and "solver: boom" in text and "s[1]" in text
    data = json.loads(runner.invoke(app, ["runs", "show", "studymode[human]@latest", "--store", url, "--json"]).output)
    assert data["run"]["run_id"] == "r1" and data["counts"]["regression"] == {
        "passed": 0, "failed": 1, "unscored": 0, "error": 1,
    }  # fmt: skip
    assert [r["sample_id"] for r in data["results"]] == ["s[1]", "s2", "s3"]
    assert data["results"][1]["scores"][0] == {"name": "recap", "value": 0.0, "verdict": "fail",
                                               "agreement": {"calibrated": False, "text": "not calibrated"},
                                               "reason": "no [bold]recap[/bold] at the end"}  # fmt: skip
    failed = json.loads(
        runner.invoke(app, ["runs", "show", "r1", "--store", url, "--json", "--status", "failed"]).output
    )
    assert [r["sample_id"] for r in failed["results"]] == ["s2"]
    missing = runner.invoke(app, ["runs", "show", "nope", "--store", url])
    assert missing.exit_code == 2 and "no run 'nope'" in missing.output


def test_tables_are_not_cut_when_piped(tmp_path: Path) -> None:
    _stored_run(tmp_path / "r.sqlite")
    proc = subprocess.run(
        [sys.executable, "-m", "evalwheel.cli", "evaluate", str(ROOT / "examples/studymode/sessions")],
        capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "failed checks" in proc.stdout and "taxonomy" in proc.stdout
    assert "…" not in proc.stdout  # nothing elided
    ids = [p.stem for p in (ROOT / "examples/studymode/sessions").glob("*.json")]
    assert all(i in proc.stdout for i in ids)  # every id whole on one line, not folded at 80 columns


def test_run_partition_scope_and_hints(tmp_path: Path) -> None:
    spec = str(ROOT / "examples/support/spec.yaml")
    url = str(tmp_path / "r.sqlite")
    args = ["run", spec, "--no-judges", "--no-progress", "--store", url]
    scoped = runner.invoke(app, [*args, "--partition", "golden", "--json"])
    assert scoped.exit_code == 0, scoped.output
    payload = json.loads(scoped.stdout)
    assert payload["executed"] == 9 and set(payload["summary"]["partitions"]) <= {"golden"}
    finished = runner.invoke(app, args)
    assert finished.exit_code == 0 and "resume with" not in finished.output
    assert "evalwheel runs show" in finished.output
    limited = runner.invoke(app, [*args, "--limit", "3"])
    assert "resume with `evalwheel run" in limited.output and "--resume" in limited.output
    bad = runner.invoke(app, [*args, "--partition", "gold"])
    assert bad.exit_code == 2 and "--partition 'gold'" in bad.output


def test_arm_in_brackets_is_printed(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    (tmp_path / "d.jsonl").write_text('{"id": "a", "input": "hi", "partition": "distribution"}\n')
    (tmp_path / "rec.jsonl").write_text('{"id": "a", "output": "hello"}\n')
    spec.write_text(
        "name: demo [human]\ndataset: d.jsonl\nsolver: {type: recorded, path: rec.jsonl}\n"
        "graders: [{name: contains, config: {value: hello}}]\n"
    )
    result = runner.invoke(app, ["run", str(spec), "--no-progress", "--store", str(tmp_path / "r.sqlite")])
    assert result.exit_code == 0, result.output
    assert "demo [human]: ran run" in result.output and "demo [human] — results" in result.output


@pytest.mark.slow  # two CLI start-ups with retries against a closed port (~5 s)
def test_unreachable_judge_leaves_no_unclosed_sessions(tmp_path: Path) -> None:
    """An unreachable judge is a clear error, not a clear error plus aiohttp "Unclosed client session" noise."""
    (tmp_path / "d.jsonl").write_text('{"id": "a", "input": "hi", "partition": "distribution"}\n')
    (tmp_path / "rec.jsonl").write_text('{"id": "a", "output": "hello"}\n')
    (tmp_path / "spec.yaml").write_text(
        "name: j\ndataset: d.jsonl\nsolver: {type: recorded, path: rec.jsonl}\n"
        "graders:\n  - name: judge.rubric\n"
        "    config: {judge_model: 'http://127.0.0.1:9/v1#judge', scale_max: 2, criterion: 'helpful?'}\n"
    )
    commands = [
        ["run", str(tmp_path / "spec.yaml"), "--no-progress", "--store", str(tmp_path / "r.db")],
        ["calibrate", "pairwise", "--llmbar", str(ROOT / "tests/fixtures/llmbar_tiny.json"), "--model",
         "http://127.0.0.1:9/v1#judge"],
    ]  # fmt: skip
    for args in commands:
        proc = subprocess.run(
            [sys.executable, "-X", "dev", "-m", "evalwheel.cli", *args],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert "cannot reach http://127.0.0.1:9" in proc.stderr
        assert "Unclosed" not in proc.stderr and "unclosed" not in proc.stderr


def test_replay_limit_and_dry_run(tmp_path: Path) -> None:
    sessions = str(ROOT / "examples/studymode/sessions")
    args = ["replay", sessions, "--arms", "base,overlay:v2,human", "--model", "local", "--max-turns", "2"]
    dry = runner.invoke(app, [*args, "--limit", "3", "--dry-run", "--json", "--out", str(tmp_path / "a")])
    assert dry.exit_code == 0, dry.output
    est = json.loads(dry.stdout)
    assert est["sessions"] == 3 and est["arms"] == ["base", "overlay:v2", "human"]
    assert 0 < est["model_calls"] <= 3 * 2 * 2  # two model arms, at most two learner turns each
    assert est["completion_tokens"] == est["model_calls"] * 512
    assert not (tmp_path / "a").exists()  # nothing replayed, nothing written
    human = runner.invoke(app, ["replay", sessions, "--arms", "human", "--limit", "2", "--out", str(tmp_path / "h"),
                                "--json"])  # fmt: skip
    assert human.exit_code == 0, human.output
    assert len(list((tmp_path / "h").glob("*.json"))) >= 2  # two sessions' artifacts (+ report.json)
    assert len([p for p in (tmp_path / "h").glob("*.json") if p.name != "report.json"]) == 2


async def test_overlay_file_is_the_system_prompt_of_its_arm(tmp_path: Path) -> None:
    import asyncio

    sys.path.insert(0, str(ROOT / "tests"))
    from scripted_judge import ScriptedJudge

    overlay = tmp_path / "patient_tutor.md"
    overlay.write_text("You are PATIENT-TUTOR-7. Ask exactly one question per turn.\n")
    session = ROOT / "examples/studymode/sessions/python.recursion.beginner.human_tutor.005.json"
    async with ScriptedJudge(fn=lambda body: "What do you think happens first?") as srv:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "evalwheel.cli", "replay", str(session), "--overlay-file", str(overlay),
            "--model", f"{srv.base_url}#target", "--max-turns", "1", "--no-cache", "--json", "--out",
            str(tmp_path / "out"), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        bodies = list(srv.bodies)
    assert proc.returncode == 0, err.decode()
    systems = [b["messages"][0]["content"] for b in bodies if b["messages"][0]["role"] == "system"]
    assert any(s.startswith("You are PATIENT-TUTOR-7.") for s in systems)  # the overlay:patient_tutor arm
    assert "overlay:patient_tutor" in out.decode()
    bad = runner.invoke(app, ["replay", str(session), "--overlay-file", str(tmp_path / "missing.md")])
    assert bad.exit_code == 2 and "cannot read it" in bad.output


def test_evaluate_escapes_session_ids(tmp_path: Path) -> None:
    src = ROOT / "examples/studymode/sessions/python.recursion.beginner.human_tutor.005.json"
    data = json.loads(src.read_text())
    data["session_id"] = "demo [human] 1"
    (tmp_path / "s.json").write_text(json.dumps(data))
    table = runner.invoke(app, ["evaluate", str(tmp_path / "s.json")])
    assert table.exit_code == 0 and "demo [human] 1" in table.output
    explained = runner.invoke(app, ["evaluate", str(tmp_path / "s.json"), "--explain", "demo [human] 1"])
    assert explained.exit_code == 0 and "demo [human] 1" in explained.output
