"""Store discovery: the project root is found upward (evalwheel.yaml or an existing store), EVALWHEEL_STORE
wins, and a run stored at the root is the baseline a command run from a sub-folder sees."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.project import find_project_root
from evalwheel.store import Store, StoreError
from evalwheel.types import RunInfo

runner = CliRunner()


def test_root_found_upward_from_a_subfolder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVALWHEEL_STORE", raising=False)
    (tmp_path / "evalwheel.yaml").write_text("# project marker\n")
    deep = tmp_path / "ci" / "jobs"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_project_root() == tmp_path.resolve()
    store = Store(None)
    assert store.url == f"sqlite:///{tmp_path.resolve() / '.evalwheel' / 'runs.sqlite'}"
    store.create_run(RunInfo(run_id="base", spec_name="s", status="finished"))
    result = runner.invoke(app, ["runs", "list", "--json"])
    assert result.exit_code == 0 and '"base"' in result.output


def test_existing_store_marks_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVALWHEEL_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    Store(None).create_run(RunInfo(run_id="r1", spec_name="s", status="finished"))  # first run: cwd store
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert Store(None).get_run("r1").run_id == "r1"
    assert not (tmp_path / "sub" / ".evalwheel").exists()


def test_project_file_store_and_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVALWHEEL_STORE", raising=False)
    (tmp_path / "evalwheel.yaml").write_text("store: data/team.sqlite\n")
    monkeypatch.chdir(tmp_path)
    assert Store(None).url.endswith("data/team.sqlite")
    monkeypatch.setenv("EVALWHEEL_STORE", str(tmp_path / "env.sqlite"))
    assert Store(None).url == f"sqlite:///{tmp_path / 'env.sqlite'}"
    assert Store(tmp_path / "explicit.sqlite").url.endswith("explicit.sqlite")  # an explicit store still wins


def test_bad_project_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVALWHEEL_STORE", raising=False)
    (tmp_path / "evalwheel.yaml").write_text("store: [1, 2]\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match=r"evalwheel\.yaml: store: expected a URL or a path"):
        Store(None)
    result = runner.invoke(app, ["runs", "list"])
    assert result.exit_code == 2 and "evalwheel.yaml" in result.output
