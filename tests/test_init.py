"""`evalwheel init DIR`: the scaffold, then the three printed commands run exactly as printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent


def _sh(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    env.pop("EVALWHEEL_STORE", None)
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.mark.slow  # four CLI start-ups per template (~2 s each on a busy 2-core machine)
@pytest.mark.parametrize("template", ["support", "studymode"])
def test_init_then_the_printed_commands_work(tmp_path: Path, template: str) -> None:
    made = _sh(f"evalwheel init my-evals --template {template}", tmp_path)
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    commands = [line.strip() for line in lines[lines.index("next:") + 1 :]]
    assert len(commands) == 3 and commands[0] == "cd my-evals"
    done = _sh(" && ".join(commands), tmp_path)  # as a user would type them, one after the other
    assert done.returncode == 0, done.stdout + done.stderr
    assert "— finished" in done.stdout and "my-evals" in done.stdout and "golden" in done.stdout
    project = tmp_path / "my-evals"
    assert (project / ".evalwheel" / "runs.sqlite").is_file()  # the project's own store (evalwheel.yaml)
    lock = json.loads((project / "dataset.jsonl.lock.json").read_text())
    assert lock["golden"] and lock["dataset"] == "dataset.jsonl"
    spec = yaml.safe_load((project / "spec.yaml").read_text())
    assert spec["name"] == "my-evals" and spec["dataset"]["require_lock"] is True
    partitions = {json.loads(line)["partition"] for line in (project / "dataset.jsonl").read_text().splitlines()}
    assert partitions == {"golden", "regression", "adversarial", "distribution"}
    workflow = yaml.safe_load((project / ".github/workflows/evalwheel.yml").read_text())
    assert any("spec" in (s.get("with") or {}) for s in workflow["jobs"]["eval"]["steps"])
    # a second run from a sub-folder finds the same store and gates against the first run as its baseline
    (project / "sub").mkdir()
    again = _sh("evalwheel run ../spec.yaml --no-progress --json", project / "sub")
    assert again.returncode == 0, again.stderr
    gates = {g["name"]: g for g in json.loads(again.stdout)["gates"]["gates"]}
    assert gates["baseline"]["passed"] is True


def test_init_refuses_a_used_folder_and_unknown_templates(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from evalwheel.cli import app

    runner = CliRunner()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x.txt").write_text("mine")
    used = runner.invoke(app, ["init", str(tmp_path / "used")])
    assert used.exit_code == 2 and "not an empty folder" in used.output
    unknown = runner.invoke(app, ["init", str(tmp_path / "new"), "--template", "chatbot"])
    assert unknown.exit_code == 2 and "support, studymode" in unknown.output
    ok = runner.invoke(app, ["init", str(tmp_path / "fresh"), "--json", "--action", "acme/evalwheel@v1"])
    data = json.loads(ok.output)
    assert "dataset.jsonl.lock.json" in data["files"] and data["next_commands"][1] == "evalwheel run spec.yaml"
    assert "acme/evalwheel@v1" in (tmp_path / "fresh/.github/workflows/evalwheel.yml").read_text()
