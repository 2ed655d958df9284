"""Every CLI verb that opens a store closes it before it exits, on success and on refusal: a SQLite store is one
file afterwards, with no `-wal` / `-shm` beside it.

Why: the CLI skips the interpreter's final garbage collection (evalwheel.closing.freeze_heap_at_exit), and a store
that a verb merely dropped left its SQLAlchemy engine to that collection, so the engine was never disposed: the
connection stayed open to the end and SQLite's log files stayed beside the store (committed rows are safe, but a
store copied without its `-wal` misses them). `monitor status` and `monitor windows` did this, and so did every
other verb marked below; every case here failed before the fix except `run` and `monitor worker --once`, which
already closed their store. Each verb runs in its own process, as the installed `evalwheel` script does: the exit
is what is under test, and CliRunner (same process, no exit) cannot show it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = ROOT / "examples" / "support"


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """As the installed `evalwheel` script runs (it calls `evalwheel.cli:app`, then the process exits)."""
    code = "import sys; from evalwheel.cli import app; sys.exit(app())"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def _sidecars(db: Path) -> list[str]:
    return sorted(p.name for p in db.parent.iterdir() if p.name.startswith(db.name) and p.name != db.name)


def _seed(tmp: Path) -> dict[str, str]:
    """One SQLite store holding two finished runs, review items labelled by two reviewers, and graded monitoring
    events (one failed); returns the placeholders the verbs' arguments use."""
    from evalwheel.monitor.events import Event
    from evalwheel.monitor.queue import Decision, GradeResult, MonitorStore
    from evalwheel.review import LabelInput, ReviewStore, build_candidates
    from test_web_review import _fill

    db = tmp / "store.sqlite"
    review = ReviewStore(str(db))
    try:
        _fill(review.runs, tmp)  # run-a and run-b of spec `spec`, both finished
        review.enqueue(build_candidates(review.runs, ["run-a"], spot_checks=0))
        for name in ("ana", "ben"):
            review.add_reviewer(name)
        item = next(i for i in review.queue(limit=10)[0] if i.sample_id == "s3").item_id
        for name in ("ana", "ben"):
            review.save_label(item, name, LabelInput(checks={"x": "fail"}))
    finally:
        review.close()
    monitor = MonitorStore(str(db))
    try:
        events = [
            Event(request_id=f"e{i}", app="tutor", timestamp=1000.0 + i, input=f"q{i}", output="a") for i in range(4)
        ]
        monitor.enqueue([(e, Decision("tutor", True, 1.0, "test")) for e in events])
        monitor.complete(
            "seed",
            [
                GradeResult(e.request_id, "tutor", e.timestamp, "failed" if i == 0 else "passed", None, 1.0,
                            [{"name": "c", "passed": i != 0, "metadata": {"grader": "c"}}])
                for i, e in enumerate(events)
            ],
        )  # fmt: skip
    finally:
        monitor.close()
    logs = tmp / "logs.jsonl"
    row = '{"request_id": "r%d", "app": "tutor", "input": "q", "output": "Which step?", "timestamp": 1.0}\n'
    logs.write_text("".join(row % i for i in range(3)), encoding="utf-8")
    (tmp / "bad-graders.yaml").write_text("graders:\n  - name: no-such-grader\n", encoding="utf-8")
    (tmp / "folder.jsonl").mkdir()
    assert _sidecars(db) == []  # the seeding closed what it opened
    return {"db": str(db), "tmp": str(tmp), "item": str(item), "event": "e0", "logs": str(logs), "ex": str(SUPPORT)}


# (verb, exit code, arguments): placeholders from _seed; `--store {db}` is added to every one. The exit-2 cases
# are refusals after the store was opened (an unknown run or check, a grader config or model that is refused).
CASES = [
    ("runs list", 0, "runs list"),
    ("runs show", 0, "runs show run-a"),
    ("runs show, unknown run", 2, "runs show no-such-run"),
    ("compare", 0, "compare run-a run-b --json"),
    ("compare, unknown run", 2, "compare run-a no-such-run"),
    ("monitor status", 0, "monitor status"),
    ("monitor windows", 0, "monitor windows"),
    ("monitor alerts", 0, "monitor alerts"),
    ("monitor alerts --evaluate", 0, "monitor alerts --evaluate --config {ex}/monitor.yaml"),
    ("monitor failures", 0, "monitor failures --no-embed"),
    ("monitor promote", 0, "monitor promote {event} --dataset {tmp}/regressions.jsonl --root-cause seeded"),
    ("monitor worker --once", 0, "monitor worker --once --no-judges --config {ex}/monitor.yaml"),
    ("monitor serve, unknown grader", 2, "monitor serve --port 0 --config {tmp}/bad-graders.yaml"),
    ("review add-reviewer", 0, "review add-reviewer cy"),
    ("review sync", 0, "review sync"),
    ("review assign", 0, "review assign ana ben"),
    ("review export", 0, "review export --check x --out {tmp}/labels.jsonl"),
    ("review export, unknown check", 2, "review export --check no-such-check --out {tmp}/labels.jsonl"),
    ("review agreement", 0, "review agreement"),
    ("review promote", 0, "review promote {item} --dataset {tmp}/golden.jsonl --approver ana"),
    ("grade --store", 0, "grade {logs} --graders {ex}/monitor.yaml"),
    ("grade --store, --out a folder", 2, "grade {logs} --graders {ex}/monitor.yaml --out {tmp}/folder.jsonl"),
    ("run", 0, "run {ex}/spec.yaml --no-judges --no-progress"),
    ("study-web, unknown model", 2, "study-web --model no-such-model --port 0"),
]


@pytest.mark.parametrize(("verb", "code", "template"), CASES, ids=[c[0] for c in CASES])
def test_the_verb_leaves_its_store_a_single_file(verb: str, code: int, template: str, tmp_path: Path) -> None:
    values = _seed(tmp_path)
    args = [part.format(**values) for part in template.split()] + ["--store", values["db"]]
    proc = _cli(args, tmp_path)
    assert proc.returncode == code, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert _sidecars(Path(values["db"])) == [], f"`evalwheel {verb}` exited with its store still open"


def test_run_with_an_invalid_solver_model_is_exit_2_naming_the_field(tmp_path: Path) -> None:
    """`solver.model: bogus` was refused only when the run plan resolved it, as "unknown model 'bogus'" without
    the field; it is checked first now, by the registry's own form check (cli_options.check_model_option)."""
    (tmp_path / "data.jsonl").write_text('{"id": "a", "input": "hi", "partition": "distribution"}\n', encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: bad-model\ndataset: data.jsonl\n"
        "solver: {type: prompt, template: '{input}', model: bogus}\n"
        "graders: [{name: constraints, config: {max_words: 50}}]\n",
        encoding="utf-8",
    )
    db = tmp_path / "runs.sqlite"
    for extra in ([], ["--dry-run"]):
        proc = _cli(["run", str(spec), "--no-progress", "--store", str(db), *extra], tmp_path)
        assert proc.returncode == 2, (proc.stdout[-2000:], proc.stderr[-2000:])
        text = " ".join(proc.stderr.split())
        assert f"{spec}: solver.model: unknown model 'bogus'" in text, text
        assert not db.exists()  # refused before a store, let alone a run row, exists
