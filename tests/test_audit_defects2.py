"""Hostile-user audit, second round: each test failed before its fix.

1. `run --limit N` recorded the run as `finished`, so a smoke run over a few samples became `SPEC@latest` and
   the default baseline of the next run's gates. A limited run that leaves samples unrun is now `partial`.
2. Cohen's kappa over labels where both raters used one class was 1.0 and passed a `min_agreement` gate; it is
   undefined (chance agreement is 1), reported as such with the reason, and a gate on it fails.
3. Grader options read `true` as 1 (pydantic lax mode): `threshold: true`, `n: true`, `scale_max: true`.
4. Study Mode replay / simulate recorded an empty tutor reply as a tutor turn and graded it; a session with
   no tutor turn at all scored fidelity 1.0 (every check vacuously passed).
5. `serve --store TYPO` created a new, empty store at the typo and served it.
6. The `--resume` / `runs show` hints printed after a run (and other store banners) showed the password of a
   PostgreSQL store URL.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.store import Store
from recorded_project import write_recorded_project

runner = CliRunner()

SAMPLES = [
    {"id": "a", "partition": "golden", "input": "hi", "reference": "hello"},
    {"id": "b", "partition": "golden", "input": "yo", "reference": "hello"},
    {"id": "c", "partition": "distribution", "input": "hey"},
]
RECORDED = [{"id": s["id"], "output": f"hello {s['id']}"} for s in SAMPLES]


def write_project(tmp: Path, extra: str = "") -> Path:
    return write_recorded_project(tmp, SAMPLES, RECORDED, "audit2", extra)


def invoke(args: list[str]) -> tuple[int, str]:
    res = runner.invoke(app, args)
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.output


def run_json(spec: Path, *extra: str) -> dict[str, object]:
    code, output = invoke(["run", str(spec), "--no-progress", "--json", *extra])
    assert code == 0, output
    payload = json.loads(output)
    assert isinstance(payload, dict)
    return payload


# ------------------------------------------------------------------------------------ 1. --limit is partial


def test_a_limited_run_is_partial_and_listed_as_such(tmp_path: Path) -> None:
    spec = write_project(tmp_path)
    payload = run_json(spec, "--limit", "1")
    assert payload["status"] == "partial" and payload["executed"] == 1
    store = str(tmp_path / "runs.sqlite")
    code, output = invoke(["runs", "list", "--store", store, "--json"])
    assert code == 0 and [r["status"] for r in json.loads(output)] == ["partial"]
    code, output = invoke(["runs", "show", str(payload["run_id"]), "--store", store])
    assert code == 0 and "partial" in output and "--limit" in output


def test_a_partial_run_is_never_the_latest_or_the_default_baseline(tmp_path: Path) -> None:
    spec = write_project(tmp_path)
    store = str(tmp_path / "runs.sqlite")
    only_partial = run_json(spec, "--limit", "1")
    code, output = invoke(["runs", "show", "audit2@latest", "--store", store])
    assert code == 2 and "no finished run" in output  # not the smoke run
    full = run_json(spec)
    assert full["status"] == "finished"
    run_json(spec, "--limit", "2")  # a newer smoke run
    code, output = invoke(["runs", "show", "audit2@latest", "--store", store, "--json"])
    assert code == 0 and json.loads(output)["run"]["run_id"] == full["run_id"]
    s = Store(store)
    try:
        latest = s.latest_run("audit2", None)
        assert latest is not None and latest.run_id == full["run_id"]
        assert s.get_run(str(only_partial["run_id"])).status == "partial"
    finally:
        s.close()


def test_the_baseline_gate_skips_partial_runs(tmp_path: Path) -> None:
    spec = write_project(tmp_path, "gates:\n  baseline: {max_drop: 0.1}\n")
    full = run_json(spec)
    run_json(spec, "--limit", "1")
    again = run_json(spec)
    gates = again["gates"]
    assert isinstance(gates, dict)
    baseline = next(g for g in gates["gates"] if g["name"] == "baseline")
    assert baseline["details"]["baseline_run_id"] == full["run_id"]


def test_a_limit_that_covers_every_sample_is_finished_and_resume_finishes_a_partial_run(tmp_path: Path) -> None:
    spec = write_project(tmp_path)
    assert run_json(spec, "--limit", "3")["status"] == "finished"  # nothing left unrun
    partial = run_json(spec, "--limit", "2")
    assert partial["status"] == "partial"
    again = run_json(spec, "--resume", str(partial["run_id"]), "--limit", "1")
    assert again["status"] == "finished" and again["executed"] == 1  # the last unit: nothing left


def test_the_hint_after_a_partial_run_is_the_resume_command(tmp_path: Path) -> None:
    spec = write_project(tmp_path)
    code, output = invoke(["run", str(spec), "--no-progress", "--limit", "1"])
    flat = " ".join(output.split())
    assert code == 0 and "resume with `evalwheel run" in flat and "partial: --limit left samples unrun" in flat
    code, output = invoke(["run", str(spec), "--no-progress", "--limit", "3"])  # every sample: finished
    assert code == 0 and "see it with `evalwheel runs show" in " ".join(output.split())


# ------------------------------------------------------------------------------ 2. undefined kappa


def test_kappa_over_one_class_is_undefined_with_a_reason() -> None:
    from evalwheel.stats.agreement import agreement, cohen_kappa, weighted_kappa

    a = agreement(["pass"] * 4, ["pass"] * 4, labels=["pass", "fail"])
    assert a.kappa is None and a.accuracy == 1.0
    assert a.kappa_note is not None and "'pass'" in a.kappa_note and "undefined" in a.kappa_note
    assert cohen_kappa(__import__("numpy").array([[5, 0], [0, 0]])) is None
    assert weighted_kappa(__import__("numpy").array([[0, 0, 0], [0, 3, 0], [0, 0, 0]])) is None
    normal = agreement(["pass", "fail", "pass", "fail"], ["pass", "fail", "fail", "fail"])
    assert normal.kappa == pytest.approx(0.5) and normal.kappa_note is None  # unchanged


def _one_class_labels(tmp: Path) -> Path:
    rows = [{"id": f"r{i}", "input": "q", "output": f"hello {i}", "label": True} for i in range(6)]
    path = tmp / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_calibrate_reports_undefined_kappa_and_its_gate_fails(tmp_path: Path) -> None:
    labels = _one_class_labels(tmp_path)
    record = tmp_path / "calib.json"
    args = ["calibrate", "contains", "--labels", str(labels), "--set", "value=hello", "--no-progress"]
    result = runner.invoke(app, [*args, "--out", str(record)])
    assert result.exit_code == 0, result.output
    assert "kappa: n/a" in result.output and "one class" in result.output
    data = json.loads(record.read_text())
    assert data["kappa"] is None and "one class" in data["kappa_note"]

    from evalwheel.calibration.record import check_min_agreement

    ok, why = check_min_agreement(record, 0.4, grader="contains")
    assert not ok and "one class" in why

    spec = write_project(tmp_path)
    gated = f"    config: {{value: hello}}\n    min_agreement: 0.4\n    calibration: {record}\n"
    spec.write_text(spec.read_text().replace("    config: {value: hello}\n", gated))
    code, output = invoke(["run", str(spec), "--no-progress", "--json"])
    assert code == 1, output
    judge = next(g for g in json.loads(output)["gates"]["gates"] if g["name"] == "judge:contains")
    assert judge["passed"] is False and "undefined" in judge["message"] and "one class" in judge["message"]


# --------------------------------------------------------------------------- 3. booleans as numbers


def _grade(tmp: Path, grader: dict[str, object]) -> object:
    logs = tmp / "logs.jsonl"
    rows = [{"request_id": f"r{i}", "app": "t", "input": "q", "output": "Which?", "timestamp": 1.0} for i in range(2)]
    logs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = tmp / "graders.yaml"
    cfg.write_text(yaml.safe_dump({"graders": [grader]}))
    return runner.invoke(app, ["grade", str(logs), "--graders", str(cfg), "--out", str(tmp / "graded.jsonl")])


@pytest.mark.parametrize(
    ("grader", "field"),
    [
        ({"name": "token_f1", "config": {"threshold": True}}, "threshold"),
        ({"name": "constraints", "config": {"max_words": True}}, "max_words"),
        ({"name": "constraints", "config": {"professional_closing": {"last_lines": True}}}, "last_lines"),
        ({"name": "json_schema", "config": {"schema": {"type": "object"}, "max_errors": False}}, "max_errors"),
        (
            {"name": "judge.rubric", "config": {"judge_model": "local", "criterion": "c", "scale_max": True}},
            "scale_max",
        ),
        ({"name": "judge.rubric", "config": {"judge_model": "local", "criterion": "c", "n": True}}, "'n'"),
        ({"name": "faithfulness", "config": {"judge_model": "local", "max_claims": True}}, "max_claims"),
        ({"name": "studymode.fidelity", "config": {"studymode": {"fidelity_threshold": True}}}, "fidelity_threshold"),
    ],
)
def test_a_boolean_numeric_grader_option_is_exit_2_naming_grader_and_field(
    tmp_path: Path, grader: dict[str, object], field: str
) -> None:
    result = _grade(tmp_path, grader)
    assert result.exit_code == 2, (result.exit_code, result.output)  # type: ignore[attr-defined]
    err = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in err and str(grader["name"]) in err and field in err, err
    assert "bool" in err or "true" in err.lower() or "false" in err.lower(), err


def test_numbers_still_pass_and_the_parser_names_the_field() -> None:
    from evalwheel.graders.deterministic import check_config
    from evalwheel.graders.deterministic._common import GraderConfigError

    check_config("token_f1", {"threshold": 1})  # an int where a float goes is still fine
    check_config("constraints", {"max_words": 10, "professional_closing": True})  # a bool where a bool goes
    with pytest.raises(GraderConfigError) as info:
        check_config("rouge", {"threshold": False})
    assert info.value.grader == "rouge" and info.value.field == "threshold"


# ------------------------------------------------------------------- 4. empty tutor replies, no tutor turn


def _session(*turns: tuple[str, str]) -> object:
    from evalwheel.types import Session, Turn

    return Session(session_id="s1", domain="math", prompt="p", trajectory=[Turn(role=r, content=c) for r, c in turns])


def test_a_session_without_a_tutor_turn_is_unscored_with_a_reason() -> None:
    from evalwheel.graders.pedagogy.session import evaluate_session

    for session in (
        _session(("user", "I think 2+2=5, can you help me?")),
        _session(("user", "I think 2+2=5, can you help me?"), ("assistant", "  ")),
    ):
        result = evaluate_session(session)  # type: ignore[arg-type]
        assert result.fidelity is None
        assert all(s.passed is None for s in result.checks)
        assert any("no tutor turn" in r for r in result.escalation_reasons)


def test_the_fidelity_grader_leaves_a_tutorless_session_unscored() -> None:
    from evalwheel.graders.pedagogy.graders import studymode_fidelity
    from evalwheel.graders.registry import GraderContext
    from evalwheel.types import Output, Sample

    sample = Sample(id="x", partition="golden", input=_session(("user", "help me with 2+2")))
    scores = asyncio.run(studymode_fidelity(sample, Output(), GraderContext({})))
    fidelity = next(s for s in scores if s.name == "pedagogical_fidelity")
    assert fidelity.value is None and fidelity.passed is None and "no tutor turn" in fidelity.reason


class _EmptyTutor:
    """TEST DOUBLE: a model whose every reply is the empty string."""

    name = "empty-tutor-double"

    def __init__(self) -> None:
        self.calls = 0

    async def generate(self, messages: Sequence[object], config: object = None, schema: object = None) -> object:
        from evalwheel.models.base import Completion
        from evalwheel.types import Usage

        self.calls += 1
        return Completion(text="", usage=Usage(prompt_tokens=3, completion_tokens=0), latency_ms=1.0, model=self.name)

    async def aclose(self) -> None:
        return None


def test_replay_records_an_empty_reply_as_an_error_not_a_tutor_turn(tmp_path: Path) -> None:
    from evalwheel.studymode.prompting import parse_arms
    from evalwheel.studymode.replay import artifact_path, replay_sessions

    session = _session(("user", "What is 3 x 4?"), ("assistant", "What do you think?"), ("user", "12?"))
    arm = parse_arms("base")[0]
    report = asyncio.run(replay_sessions([session], [arm], _EmptyTutor(), tmp_path))  # type: ignore[list-item,arg-type]
    result = report.results[0]
    assert result.status == "error" and "empty reply" in (result.error or "")
    assert result.evaluation is None and not artifact_path(tmp_path, "s1", arm).exists()


def test_simulate_records_an_empty_reply_as_an_error_not_a_tutor_turn(tmp_path: Path) -> None:
    from evalwheel.models.base import GenerateConfig
    from evalwheel.studymode.learners import ScriptedLearner, load_personas
    from evalwheel.studymode.prompting import parse_arms
    from evalwheel.studymode.simulate import SimulationSettings, simulate

    settings = SimulationSettings(turns=2, tutor_model="empty", learner="scripted", tutor_config={})
    report = asyncio.run(
        simulate(
            load_personas()[:1], parse_arms("base"), _EmptyTutor(), ScriptedLearner(), tmp_path, settings,  # type: ignore[arg-type]
            GenerateConfig(),
        )
    )  # fmt: skip
    result = report.results[0]
    assert result.status == "error" and "empty reply" in (result.error or "")
    assert result.evaluation is None
    assert report.summaries[0].fidelity.n == 0  # nothing graded as if the tutor had spoken


# ---------------------------------------------------------------------------- 5. serve --store TYPO


@pytest.fixture
def busy_port() -> object:
    """A port nobody can bind: a server that gets past its store stops at the bind (exit 2) instead of serving."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


def test_serve_refuses_a_store_that_does_not_exist(tmp_path: Path, busy_port: int) -> None:
    typo = tmp_path / "typo.sqlite"
    result = runner.invoke(app, ["serve", "--store", str(typo), "--port", str(busy_port)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "typo.sqlite" in result.output and "--create-store" in result.output, result.output
    assert not typo.exists()


def test_serve_without_a_store_in_a_bare_folder_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, busy_port: int
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALWHEEL_STORE", raising=False)
    result = runner.invoke(app, ["serve", "--port", str(busy_port)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "no store here" in result.output, result.output
    assert not (tmp_path / ".evalwheel").exists()


def test_serve_create_store_starts_a_new_store(tmp_path: Path, busy_port: int) -> None:
    new = tmp_path / "new.sqlite"
    result = runner.invoke(app, ["serve", "--create-store", "--store", str(new), "--port", str(busy_port)])
    assert result.exit_code == 2 and "cannot listen" in result.output, result.output
    assert new.is_file()


# ------------------------------------------------------------------------------ 6. passwords in hints

PG = "postgresql+psycopg://ew:s3cr3t-pw@db.example:5432/evals"


def test_redact_url_hides_passwords_only() -> None:
    from evalwheel.store.errors import redact_url

    assert redact_url(PG) == "postgresql+psycopg://ew:***@db.example:5432/evals"
    assert redact_url("postgresql://ew@db/evals") == "postgresql://ew@db/evals"
    assert redact_url("runs.sqlite") == "runs.sqlite"
    assert redact_url("sqlite:///a/b.sqlite") == "sqlite:///a/b.sqlite"
    assert "p/w" not in redact_url("postgresql://u:p/w@h/db")


def test_the_printed_hints_hide_the_store_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PostgreSQL URL stands in for a SQLite file: the store opens the file, the CLI prints the URL it was given."""
    from evalwheel.store import store as store_module

    real = store_module.store_url
    db = tmp_path / "pg-stand-in.sqlite"
    monkeypatch.setattr(store_module, "store_url", lambda t: f"sqlite:///{db}" if t == PG else real(t))
    spec = write_project(tmp_path)
    code, output = invoke(["run", str(spec), "--no-progress", "--store", PG, "--limit", "1"])
    assert code == 0, output
    flat = output.replace("\n", "")
    assert "--resume" in flat and "s3cr3t" not in output and "ew:***@db.example" in flat
    code, output = invoke(["run", str(spec), "--no-progress", "--store", PG])
    flat = output.replace("\n", "")
    assert code == 0 and "runs show" in flat and "s3cr3t" not in output and "ew:***@db.example" in flat
    code, output = invoke(["runs", "list", "--store", PG])
    assert code == 0 and "s3cr3t" not in output
