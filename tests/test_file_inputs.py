"""Unreadable inputs are bad input (exit 2 naming file and cause), data paths stay in their folder, and an
empty dataset is refused (issue 15, items 4 and 7)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.datasets.samples import InvalidDatasetError, load_dataset, scan_dataset
from evalwheel.fileio import FileReadError, confined, read_text
from evalwheel.runs.spec import SpecError, load_spec

runner = CliRunner()
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
LATIN1 = "name: caf\xe9\n".encode("latin-1")  # valid YAML if it were decoded, but not UTF-8


def project(tmp: Path, **spec_extra: object) -> Path:
    (tmp / "data.jsonl").write_text(json.dumps({"id": "a", "input": "q", "reference": "q"}) + "\n")
    spec: dict[str, object] = {
        "name": "files",
        "dataset": "data.jsonl",
        "solver": {"type": "recorded", "path": "outputs.jsonl"},
        "graders": [{"name": "exact"}],
        "store": "runs.sqlite",
        **spec_extra,
    }
    (tmp / "outputs.jsonl").write_text(json.dumps({"id": "a", "output": "q"}) + "\n")
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    return tmp / "spec.yaml"


def run_cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, " ".join(result.output.split())


# --- the shared reader ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "cause"),
    [(BINARY, "binary file, not text (NUL byte at offset 8)"), (LATIN1, "not UTF-8 text (invalid continuation byte")],
)
def test_read_text_names_file_and_cause(tmp_path: Path, content: bytes, cause: str) -> None:
    path = tmp_path / "thing.yaml"
    path.write_bytes(content)
    with pytest.raises(FileReadError) as info:
        read_text(path, what="spec")
    assert str(info.value).startswith(f"spec: {path}: {cause}")


def test_read_text_directory_and_missing(tmp_path: Path) -> None:
    with pytest.raises(FileReadError, match="not a file \\(a directory\\)"):
        read_text(tmp_path)
    with pytest.raises(FileReadError, match="does not exist"):
        read_text(tmp_path / "nope")
    (tmp_path / "bom.txt").write_bytes("\ufeffhello".encode())
    assert read_text(tmp_path / "bom.txt") == "hello"


# --- every CLI call site: exit 2 with file and cause --------------------------------------------------------


def test_binary_spec_exits_2(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(BINARY)
    code, out = run_cli("run", str(spec), "--no-progress")
    assert code == 2
    assert f"{spec}" in out and "binary file" in out


def test_spec_given_as_directory_exits_2(tmp_path: Path) -> None:
    code, out = run_cli("run", str(tmp_path), "--no-progress")
    assert code == 2 and str(tmp_path) in out and "directory" in out


def test_non_utf8_grader_config_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "grader.yaml").write_bytes(LATIN1)
    spec = project(tmp_path, graders=[{"name": "exact", "config_file": "grader.yaml"}])
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(spec).grader_config(load_spec(spec).graders[0])
    code, out = run_cli("run", str(spec), "--no-progress")
    assert code == 2 and "grader.yaml" in out and "not UTF-8 text" in out


def test_recorded_outputs_directory_exits_2(tmp_path: Path) -> None:
    spec = project(tmp_path, solver={"type": "recorded", "path": "outdir"})
    (tmp_path / "outdir").mkdir()
    code, out = run_cli("run", str(spec), "--no-progress")
    assert code == 2 and "outdir" in out and "directory" in out


def test_recorded_outputs_binary_exits_2(tmp_path: Path) -> None:
    spec = project(tmp_path)
    (tmp_path / "outputs.jsonl").write_bytes(BINARY)
    code, out = run_cli("run", str(spec), "--no-progress")
    assert code == 2 and "outputs.jsonl" in out and "binary file" in out


def test_binary_jsonl_dataset_is_one_error(tmp_path: Path) -> None:
    spec = project(tmp_path)
    (tmp_path / "data.jsonl").write_bytes(BINARY * 50)
    code, out = run_cli("run", str(spec), "--no-progress")
    assert code == 2 and "data.jsonl" in out and "1 problem(s)" in out and "binary file" in out


def test_calibration_record_directory_exits_2(tmp_path: Path) -> None:
    (tmp_path / "calib").mkdir()
    spec = project(
        tmp_path,
        graders=[{"name": "exact", "min_agreement": 0.5, "calibration": "calib"}],
    )
    code, out = run_cli("run", str(spec), "--no-progress")
    assert code == 2 and "calib" in out and "directory" in out


def test_evaluate_config_non_utf8_exits_2(tmp_path: Path, sessions_dir: Path) -> None:
    config = tmp_path / "eval.yaml"
    config.write_bytes(LATIN1)
    code, out = run_cli("evaluate", str(sessions_dir), "--config", str(config))
    assert code == 2 and str(config) in out and "not UTF-8 text" in out
    code, out = run_cli("evaluate", str(sessions_dir), "--config", str(tmp_path))
    assert code == 2 and "directory" in out


# --- paths stay in the dataset's folder --------------------------------------------------------------------


def test_confined() -> None:
    base = Path("/srv/data")
    assert confined(base, "sessions/a.json") == Path("/srv/data/sessions/a.json").resolve()
    for bad in ("../../etc/passwd", "/etc/passwd", "sessions/../../x", "~/x", "", "a\x00b"):
        assert confined(base, bad) is None, bad


def _dataset(tmp: Path, ref: str) -> Path:
    folder = tmp / "ds"
    folder.mkdir(exist_ok=True)
    path = folder / "data.jsonl"
    path.write_text(json.dumps({"id": "a", "input_file": ref}) + "\n")
    return path


@pytest.mark.parametrize("ref", ["../../etc/passwd", "/etc/passwd", "../secret.json"])
def test_input_file_outside_the_dataset_folder_is_refused(tmp_path: Path, ref: str) -> None:
    (tmp_path / "secret.json").write_text("{}")
    path = _dataset(tmp_path, ref)
    with pytest.raises(InvalidDatasetError) as info:
        scan_dataset(path)
    assert "outside the data folder" in str(info.value)


def test_refusal_does_not_reveal_whether_the_file_exists(tmp_path: Path) -> None:
    messages = []
    for ref in ("../../etc/passwd", "../../etc/no-such-file-xyz"):
        with pytest.raises(InvalidDatasetError) as info:
            scan_dataset(_dataset(tmp_path, ref))
        messages.append(str(info.value).replace(ref, "REF"))
    assert messages[0] == messages[1]


def test_symlink_pointing_out_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.json").write_text("{}")
    path = _dataset(tmp_path, "link.json")
    os.symlink(tmp_path / "secret.json", path.parent / "link.json")
    with pytest.raises(InvalidDatasetError, match="outside the data folder"):
        scan_dataset(path)


def test_data_root_in_the_spec_allows_a_wider_folder(tmp_path: Path, sessions_dir: Path) -> None:
    session = next(p for p in sorted(sessions_dir.glob("*.json")))
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "s.json").write_text(session.read_text(encoding="utf-8"))
    folder = tmp_path / "project"
    folder.mkdir()
    path = _dataset(folder, "../../shared/s.json")
    with pytest.raises(InvalidDatasetError):
        load_dataset(path)
    assert load_dataset(path, root=tmp_path).total == 1
    spec = project(folder / "ds", dataset={"path": "data.jsonl", "data_root": "../.."})
    path.write_text(json.dumps({"id": "a", "input_file": "../../shared/s.json"}) + "\n")
    assert load_spec(spec).data_root == tmp_path
    code, out = run_cli("run", str(spec), "--no-progress", "--json")
    assert code in (0, 1), out  # it ran (the recorded answer need not pass)


# --- empty datasets ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"), [("e.jsonl", ""), ("e.jsonl", "// only a comment\n\n"), ("e.yaml", "samples: []\n")]
)
def test_empty_dataset_fails_validation(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(InvalidDatasetError, match="the dataset has no samples"):
        scan_dataset(tmp_path / name)


def test_empty_dataset_does_not_run(tmp_path: Path) -> None:
    spec = project(tmp_path)
    (tmp_path / "data.jsonl").write_text("")
    code, out = run_cli("run", str(spec), "--no-progress")
    assert code == 2 and "no samples" in out
    assert not (tmp_path / "runs.sqlite").exists()
