"""Hostile-user audit of eval runs and gates from the CLI (`run`, `compare`, `dataset`, the run store).

Each test failed before its fix. The defects: report paths (`--junit`, `--markdown`) that name the spec, the
dataset or the run store replaced that file (data loss, exit 0), and an unwritable one failed only after the
whole run had been paid for; a bad `cost_model:` in a spec (or `compare --cost-model`) was a traceback after
the run; `compare --markdown` wrote over anything (the store itself) or crashed on a directory; a `--store` path
with a file in the way of its folder was a traceback; a blank sample id passed `dataset validate`; a non-UTF-8
`evalwheel.yaml` was a traceback; the printed `--resume` / `runs show` commands left out `--store`, so following
them failed; a mistyped `--baseline` was reported only after the whole run.
"""

from __future__ import annotations

import json
import shlex
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.store import Store
from evalwheel.types import RunInfo, SampleResult
from recorded_project import write_recorded_project

runner = CliRunner()

SAMPLES = [
    {"id": "a", "partition": "golden", "input": "hi", "reference": "hello"},
    {"id": "b", "partition": "distribution", "input": "yo"},
]
RECORDED = [{"id": "a", "output": "hello there"}, {"id": "b", "output": "hello too"}]


def write_project(tmp: Path, extra: str = "") -> Path:
    return write_recorded_project(tmp, SAMPLES, RECORDED, "audit", extra)


def run_count(tmp: Path) -> int:
    db = tmp / "runs.sqlite"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute("select count(*) from runs").fetchone()[0])


def invoke(args: list[str]) -> tuple[int, str]:
    res = runner.invoke(app, args)
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.output


def test_the_project_runs(tmp_path: Path) -> None:
    spec = write_project(tmp_path)
    code, output = invoke(["run", str(spec), "--no-progress", "--json"])
    assert code == 0, output
    assert run_count(tmp_path) == 1


@pytest.mark.parametrize("option", ["--junit", "--markdown"])
@pytest.mark.parametrize("victim", ["spec.yaml", "ds.jsonl", "rec.jsonl", "runs.sqlite"])
def test_run_report_naming_an_input_is_refused_before_the_run(tmp_path: Path, option: str, victim: str) -> None:
    spec = write_project(tmp_path)
    assert invoke(["run", str(spec), "--no-progress"])[0] == 0  # the store exists, with one run
    before = (tmp_path / victim).read_bytes()
    code, output = invoke(["run", str(spec), "--no-progress", option, str(tmp_path / victim)])
    assert code == 2, output
    assert "input file itself" in output and victim in output
    assert (tmp_path / victim).read_bytes() == before  # nothing replaced
    assert run_count(tmp_path) == 1  # refused before a run row exists


@pytest.mark.parametrize("option", ["--junit", "--markdown"])
def test_run_unwritable_report_fails_before_the_run(tmp_path: Path, option: str) -> None:
    spec = write_project(tmp_path)
    (tmp_path / "adir").mkdir()
    code, output = invoke(["run", str(spec), "--no-progress", option, str(tmp_path / "adir")])
    assert code == 2, output
    assert option in output and "directory" in output
    code, output = invoke(["run", str(spec), "--no-progress", option, str(tmp_path / "ds.jsonl" / "r.xml")])
    assert code == 2, output
    assert "a file is in the way" in output
    assert run_count(tmp_path) == 0  # no run was executed (and paid for) only to fail on its report


@pytest.mark.parametrize(
    ("cost_model", "expected"),
    [
        ("{preset: bogus}", "unknown cost model 'bogus'"),
        ("{preset: tutoring, overrides: {bogus: 1}}", "bogus"),
        ("{preset: tutoring, overrides: {cost_per_session: -5}}", "cost_per_session"),
    ],
)
def test_spec_bad_cost_model_is_bad_input_before_the_run(tmp_path: Path, cost_model: str, expected: str) -> None:
    spec = write_project(tmp_path, f"cost_model: {cost_model}\n")
    code, output = invoke(["run", str(spec), "--no-progress"])
    assert code == 2, output
    assert "cost_model" in output and expected in output
    assert run_count(tmp_path) == 0


def make_run(store: Store, run_id: str) -> None:
    store.create_run(RunInfo(run_id=run_id, spec_name="s", status="finished"))
    store.add_results(
        [
            SampleResult(run_id=run_id, sample_id=f"x{i}", partition="distribution", status="passed", value=1.0)
            for i in range(5)
        ]
    )


def test_compare_unknown_cost_model_is_bad_input(tmp_path: Path) -> None:
    with closing(Store(tmp_path / "r.sqlite")) as store:
        make_run(store, "A")
        make_run(store, "B")
    code, output = invoke(["compare", "A", "B", "--store", str(tmp_path / "r.sqlite"), "--cost-model", "bogus"])
    assert code == 2, output
    assert "--cost-model" in output and "bogus" in output


def test_compare_markdown_never_replaces_the_store_or_crashes(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    with closing(Store(db)) as store:
        make_run(store, "A")
        make_run(store, "B")
    before = db.read_bytes()
    code, output = invoke(["compare", "A", "B", "--store", str(db), "--markdown", str(db)])
    assert code == 2, output
    assert "input file itself" in output
    assert db.read_bytes() == before
    (tmp_path / "adir").mkdir()
    code, output = invoke(["compare", "A", "B", "--store", str(db), "--markdown", str(tmp_path / "adir")])
    assert code == 2, output
    assert "--markdown" in output and "directory" in output
    code, output = invoke(["compare", "A", "B", "--store", str(db), "--markdown", str(tmp_path / "c.md")])
    assert code == 0, output
    assert "no_change" in (tmp_path / "c.md").read_text() or "insufficient" in (tmp_path / "c.md").read_text()


def test_store_path_through_a_file_or_a_directory_is_one_clear_error(tmp_path: Path) -> None:
    spec = write_project(tmp_path)
    code, output = invoke(["run", str(spec), "--no-progress", "--store", str(tmp_path / "ds.jsonl" / "x.sqlite")])
    assert code == 2, output
    assert "a file is in the way" in output
    (tmp_path / "adir").mkdir()
    code, output = invoke(["run", str(spec), "--no-progress", "--store", str(tmp_path / "adir")])
    assert code == 2, output
    assert "a directory, not a SQLite file" in output


@pytest.mark.parametrize("blank", ["", "   "])
def test_dataset_blank_id_is_refused(tmp_path: Path, blank: str) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"id": "ok", "input": "x"}) + "\n" + json.dumps({"id": blank, "input": "y"}) + "\n")
    code, output = invoke(["dataset", "validate", str(data)])
    assert code == 2, output
    assert "line 2" in output and "$.id" in output and "empty" in output


@pytest.mark.parametrize("content", [b"store: caf\xe9.sqlite\n", b"\x00\x01"])
def test_unreadable_project_config_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    (tmp_path / "evalwheel.yaml").write_bytes(content)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALWHEEL_STORE", raising=False)
    code, output = invoke(["runs", "list"])
    assert code == 2, output
    assert "evalwheel.yaml" in output and ("not UTF-8" in output or "binary" in output)


def test_compare_cost_model_without_a_dataset_says_so(tmp_path: Path) -> None:
    with closing(Store(tmp_path / "r.sqlite")) as store:
        make_run(store, "A")
        make_run(store, "B")
    res = runner.invoke(app, ["compare", "A", "B", "--store", str(tmp_path / "r.sqlite"), "--cost-model", "tutoring"])
    assert res.exit_code == 0, res.output
    assert "--cost-model not applied" in res.stderr


def test_printed_resume_command_names_the_store_and_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write_project(tmp_path)
    spec.write_text(spec.read_text().replace("store: runs.sqlite\n", ""))  # the store comes from --store only
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALWHEEL_STORE", raising=False)
    store = str(tmp_path / "my runs.sqlite")
    res = runner.invoke(app, ["run", "spec.yaml", "--no-progress", "--limit", "1", "--store", store])
    assert res.exit_code == 0, res.output
    hint = res.output.split("resume with `", 1)[1].split("`", 1)[0]
    assert "--store" in hint
    argv = shlex.split(hint)
    assert argv[:2] == ["evalwheel", "run"]
    resumed = runner.invoke(app, [*argv[1:], "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    assert "1 already done" in resumed.output
    assert not (tmp_path / ".evalwheel").exists()


def test_printed_runs_show_command_names_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALWHEEL_STORE", raising=False)
    store = str(tmp_path / "other.sqlite")
    res = runner.invoke(app, ["run", str(spec), "--no-progress", "--store", store])
    assert res.exit_code == 0, res.output
    argv = shlex.split(res.output.split("see it with `", 1)[1].split("`", 1)[0])
    shown = runner.invoke(app, argv[1:])
    assert shown.exit_code == 0, shown.output
    assert not (tmp_path / ".evalwheel").exists()


def test_unknown_baseline_is_refused_before_the_run(tmp_path: Path) -> None:
    spec = write_project(tmp_path)
    code, output = invoke(["run", str(spec), "--no-progress", "--baseline", "no-such-run"])
    assert code == 2, output
    assert "no run 'no-such-run'" in output
    assert run_count(tmp_path) == 0  # nothing ran (and was paid for) only to fail on the baseline


@pytest.mark.parametrize(
    "argv", [["runs", "list"], ["runs", "show", "r1"], ["compare", "a", "b"], ["monitor", "status"]]
)
def test_read_only_verbs_in_a_folder_without_a_store_create_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    """They created .evalwheel/runs.sqlite (an empty store, "no runs", exit 0), and that folder then counted as
    a project root for every later command run below it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALWHEEL_STORE", raising=False)
    res = runner.invoke(app, argv)
    assert res.exit_code == 2, res.output
    assert "no store here" in " ".join(res.output.split()) and "--store" in res.output
    assert not (tmp_path / ".evalwheel").exists()


@pytest.mark.parametrize(("gate_scores", "warned"), [("[contain]", True), ("[contains]", False)])
def test_gate_scores_naming_no_returned_score_is_a_warning(tmp_path: Path, gate_scores: str, warned: bool) -> None:
    """A misspelt gate_scores name made the grader gate on nothing: every sample unscored, and the only hint was the
    golden gate's "no scored samples"."""
    spec = write_project(tmp_path)
    spec.write_text(
        spec.read_text().replace(
            "    config: {value: hello}\n", f"    config: {{value: hello}}\n    gate_scores: {gate_scores}\n"
        )
    )
    code, output = invoke(["run", str(spec), "--no-progress"])
    text = " ".join(output.split())
    assert (
        "gate_scores names 'contain', which no result of this run holds (scores returned: contains)" in text
    ) is warned
    assert code == (1 if warned else 0), output
