"""Hostile-input audit regressions: each file a CLI option reads fails with one message and exit 2, no traceback.

Why: the project's contract is that a missing file, a directory, a binary or non-UTF-8 file, or an empty config
is bad input (exit 2, the message names the file); these call sites used to raise UnicodeDecodeError /
IsADirectoryError tracebacks (exit 1) or silently ignore / accept the file. Found by a matrix of verbs x bad
inputs (see the commit messages); every case here failed before its fix.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalwheel.cli import app

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = ROOT / "examples" / "studymode" / "sessions"
runner = CliRunner()

BAD: dict[str, Callable[[Path], Path]] = {}


def _bad(kind: str) -> Callable[[Callable[[Path], Path]], Callable[[Path], Path]]:
    def deco(fn: Callable[[Path], Path]) -> Callable[[Path], Path]:
        BAD[kind] = fn
        return fn

    return deco


@_bad("missing")
def _missing(tmp: Path) -> Path:
    return tmp / "nope.yaml"


@_bad("directory")
def _directory(tmp: Path) -> Path:
    (tmp / "adir.yaml").mkdir()
    return tmp / "adir.yaml"


@_bad("binary")
def _binary(tmp: Path) -> Path:
    (tmp / "bin.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR")
    return tmp / "bin.yaml"


@_bad("latin1")
def _latin1(tmp: Path) -> Path:
    (tmp / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    return tmp / "latin1.yaml"


def _store(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'monitor.sqlite'}"


# (verb, argv given the bad file and tmp) -- every verb here read its file with a bare read_text before.
CASES: dict[str, Callable[[Path, Path], list[str]]] = {
    "replay --overlay-file": lambda f, t: ["replay", str(SESSIONS), "--overlay-file", str(f), "--dry-run"],
    "monitor worker --config": lambda f, t: ["monitor", "worker", "--config", str(f), "--once", "--store", _store(t)],
    "monitor windows --config": lambda f, t: ["monitor", "windows", "--config", str(f), "--store", _store(t)],
    "monitor alerts --config": lambda f, t: ["monitor", "alerts", "--config", str(f), "--store", _store(t)],
    "import openai-eval": lambda f, t: ["import", "openai-eval", str(f), "--out", str(t / "imported")],
}


@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("verb", sorted(CASES))
def test_unreadable_file_is_exit_2_naming_the_file(verb: str, kind: str, tmp_path: Path) -> None:
    bad = BAD[kind](tmp_path)
    result = runner.invoke(app, CASES[verb](bad, tmp_path))
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)  # not an uncaught UnicodeDecodeError / IsADirectoryError
    assert bad.name in result.output.replace("\n", "")


def test_monitor_alerts_validates_config_without_evaluate(tmp_path: Path) -> None:
    """`monitor alerts --config BAD` used to ignore the file unless --evaluate was given (exit 0)."""
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text("sampler: {default_rate: 7}\n", encoding="utf-8")
    result = runner.invoke(app, ["monitor", "alerts", "--config", str(cfg), "--store", _store(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "default_rate" in result.output


def _events(tmp: Path) -> Path:
    logs = tmp / "logs.jsonl"
    row = '{"request_id": "r%d", "app": "tutor", "input": "q", "output": "Which step?", "timestamp": 1.0}\n'
    logs.write_text("".join(row % i for i in range(3)), encoding="utf-8")
    return logs


def test_grade_out_in_a_missing_folder_is_created(tmp_path: Path) -> None:
    """`grade --out new/dir/g.jsonl` was a FileNotFoundError traceback on the temporary `.partial` file."""
    out = tmp_path / "new" / "dir" / "g.jsonl"
    monitor = ROOT / "examples" / "support" / "monitor.yaml"
    result = runner.invoke(app, ["grade", str(_events(tmp_path)), "--graders", str(monitor), "--out", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3


@pytest.mark.parametrize("make_out", ["directory", "unwritable"])
def test_grade_out_that_cannot_be_written_is_exit_2(make_out: str, tmp_path: Path) -> None:
    if make_out == "directory":
        out = tmp_path / "g.jsonl"
        out.mkdir()
    else:
        (tmp_path / "afile").write_text("x", encoding="utf-8")
        out = tmp_path / "afile" / "g.jsonl"  # a folder that is a file: cannot be created, as a read-only mount
    monitor = ROOT / "examples" / "support" / "monitor.yaml"
    result = runner.invoke(app, ["grade", str(_events(tmp_path)), "--graders", str(monitor), "--out", str(out)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    assert "--out" in result.output


def _labels(tmp: Path) -> Path:
    labels = tmp / "labels.jsonl"
    labels.write_text(
        '{"id": "1", "input": "say hi", "output": "hi", "reference": "hi", "label": true}\n', encoding="utf-8"
    )
    return labels


# An empty (zero-byte or whitespace-only) config named on the command line used to mean "all defaults" (exit 0);
# the run spec and its grader config_file already refused it. A comment-only config still means the defaults.
EMPTY_CONFIG: dict[str, Callable[[Path, Path], list[str]]] = {
    "evaluate --config": lambda f, t: ["evaluate", str(SESSIONS), "--config", str(f)],
    "calibrate grader --config": lambda f, t: [
        "calibrate",
        "grader",
        "contains",
        "--labels",
        str(_labels(t)),
        "--config",
        str(f),
    ],
    "monitor windows --config": lambda f, t: ["monitor", "windows", "--config", str(f), "--store", _store(t)],
    "monitor alerts --config": lambda f, t: ["monitor", "alerts", "--config", str(f), "--store", _store(t)],
}


@pytest.mark.parametrize("content", ["", " \n\n"])
@pytest.mark.parametrize("verb", sorted(EMPTY_CONFIG))
def test_empty_config_is_exit_2(verb: str, content: str, tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(content, encoding="utf-8")
    result = runner.invoke(app, EMPTY_CONFIG[verb](cfg, tmp_path))
    assert result.exit_code == 2, (result.output, result.exception)
    assert "config.yaml" in result.output and "the file is empty" in result.output


def test_comment_only_config_still_means_the_defaults(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("# fidelity_threshold: 0.6\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", str(SESSIONS / sorted(p.name for p in SESSIONS.glob("*.json"))[0]),
                                 "--config", str(cfg), "--json"])  # fmt: skip
    assert result.exit_code in (0, 1), (result.output, result.exception)


def test_monitor_grader_config_file_empty_is_exit_2(tmp_path: Path) -> None:
    """grade --graders with an empty `config_file:` used to grade with no options; `run` already refused it."""
    (tmp_path / "constraints.yaml").write_text("", encoding="utf-8")
    graders = tmp_path / "monitor.yaml"
    graders.write_text("graders:\n  - name: constraints\n    config_file: constraints.yaml\n", encoding="utf-8")
    out = tmp_path / "g.jsonl"
    result = runner.invoke(app, ["grade", str(_events(tmp_path)), "--graders", str(graders), "--out", str(out)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "constraints.yaml" in result.output and "the file is empty" in result.output
    assert not out.exists()


@pytest.mark.parametrize("verb", [["runs", "list"], ["runs", "show", "r1"], ["compare", "a", "b"]])
@pytest.mark.parametrize("form", ["path", "url", "directory"])
def test_read_only_verbs_do_not_create_a_store_at_a_missing_path(verb: list[str], form: str, tmp_path: Path) -> None:
    """`runs list --store typo.sqlite` used to create an empty store there and print "no runs" (exit 0)."""
    target = tmp_path / "typo.sqlite"
    if form == "directory":
        target.mkdir()
    arg = f"sqlite:///{target}" if form == "url" else str(target)
    result = runner.invoke(app, [*verb, "--store", arg])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "typo.sqlite" in result.output.replace("\n", "")
    assert form == "directory" or not target.exists()


def test_run_with_an_empty_recorded_outputs_file_is_exit_2(tmp_path: Path) -> None:
    """An empty recorded-outputs file made every sample an error (exit 3, "too many run errors")."""
    import shutil

    spec_dir = tmp_path / "support"
    shutil.copytree(ROOT / "examples" / "support", spec_dir)
    (spec_dir / "recorded.jsonl").write_text("", encoding="utf-8")
    store = tmp_path / "runs.sqlite"
    result = runner.invoke(app, ["run", str(spec_dir / "spec.yaml"), "--no-judges", "--store", str(store)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "recorded.jsonl" in result.output.replace("\n", "") and "the file is empty" in result.output


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """As the installed `evalwheel` script runs (it calls `evalwheel.cli:app`, not `cli.main`)."""
    code = "import sys; from evalwheel.cli import app; sys.exit(app())"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT)


def _unwritable(kind: str, tmp: Path, name: str) -> Path:
    if kind == "directory":
        (tmp / name).mkdir()
        return tmp / name
    (tmp / "afile").write_text("x", encoding="utf-8")
    return tmp / "afile" / name  # its folder is a file: cannot be created, like a read-only mount


OUTPUTS: dict[str, Callable[[Path, Path], list[str]]] = {
    "dataset lock --lock": lambda o, t: [
        "dataset",
        "lock",
        str(ROOT / "examples/support/dataset.jsonl"),
        "--lock",
        str(o),
    ],
    "review export --out": lambda o, t: [
        "review",
        "export",
        "--check",
        "x",
        "--out",
        str(o),
        "--store",
        str(t / "s.sqlite"),
    ],
    "run --junit": lambda o, t: [
        "run",
        str(ROOT / "examples/support/spec.yaml"),
        "--no-judges",
        "--store",
        str(t / "r.sqlite"),
        "--junit",
        str(o),
    ],
    "run --markdown": lambda o, t: [
        "run",
        str(ROOT / "examples/support/spec.yaml"),
        "--no-judges",
        "--store",
        str(t / "r.sqlite"),
        "--markdown",
        str(o),
    ],
    "init DIR": lambda o, t: ["init", str(o)],
}


@pytest.mark.parametrize("kind", ["directory", "under-a-file"])
@pytest.mark.parametrize("verb", sorted(OUTPUTS))
def test_unwritable_output_is_exit_2(verb: str, kind: str, tmp_path: Path) -> None:
    """These were IsADirectoryError / FileExistsError / NotADirectoryError tracebacks (exit 1)."""
    if verb == "init DIR" and kind == "directory":
        pytest.skip("init into an existing empty folder is allowed")
    out = _unwritable(kind, tmp_path, "out.x")
    proc = _cli(*OUTPUTS[verb](out, tmp_path))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "out.x" in proc.stderr.replace("\n", "")


def test_grade_an_empty_logs_file_is_exit_2_and_keeps_an_earlier_output(tmp_path: Path) -> None:
    """An empty logs file used to "grade 0 rows" (exit 0) and replace an earlier --out with an empty file."""
    logs = tmp_path / "logs.jsonl"
    logs.write_text("", encoding="utf-8")
    out = tmp_path / "g.jsonl"
    out.write_text("earlier\n", encoding="utf-8")
    monitor = ROOT / "examples" / "support" / "monitor.yaml"
    result = runner.invoke(app, ["grade", str(logs), "--graders", str(monitor), "--out", str(out)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "logs.jsonl" in result.output and "no rows to grade" in result.output
    assert out.read_text(encoding="utf-8") == "earlier\n"


def test_read_only_verbs_refuse_an_empty_store_file(tmp_path: Path) -> None:
    """`runs list --store empty-file` used to write a SQLite schema into it and report no runs (exit 0)."""
    target = tmp_path / "notes.txt"
    target.write_text("", encoding="utf-8")
    result = runner.invoke(app, ["runs", "list", "--store", str(target)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "an empty file" in result.output and target.stat().st_size == 0


def test_dataset_validate_with_a_missing_explicit_lock_is_exit_2(tmp_path: Path) -> None:
    """`dataset validate D --lock typo.json` used to report "no golden lock" and exit 0."""
    typo = tmp_path / "typo.lock.json"
    result = runner.invoke(
        app, ["dataset", "validate", str(ROOT / "examples/support/dataset.jsonl"), "--lock", str(typo)]
    )
    assert result.exit_code == 2, (result.output, result.exception)
    assert "typo.lock.json" in result.output.replace("\n", "")
    ok = runner.invoke(app, ["dataset", "validate", str(ROOT / "examples/support/dataset.jsonl")])
    assert ok.exit_code == 0, ok.output  # the default lock next to the dataset is still found


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_serve_golden_dir_must_be_a_folder(kind: str, tmp_path: Path) -> None:
    """`serve --golden-dir` given a file or a missing folder used to start the server anyway."""
    target = tmp_path / "golden"
    if kind == "file":
        target.write_text("x", encoding="utf-8")
    result = runner.invoke(app, ["serve", "--golden-dir", str(target), "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "--golden-dir" in result.output and "golden" in result.output
