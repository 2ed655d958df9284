"""The development data the README's agree / calibrate commands use ships in the package (no ../shared), and
`evalwheel data fetch` copies it out with its licences."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.data import DATASETS, fetch, shipped_root

ROOT = Path(__file__).resolve().parents[1]


def test_fetch_copies_every_set_with_its_licence(tmp_path: Path) -> None:
    written = fetch(tmp_path / "data")
    assert {p.relative_to(tmp_path / "data").as_posix() for p in written} == {
        f for files, _ in DATASETS.values() for f in files
    }
    for path in written:
        assert path.read_bytes() == (shipped_root() / path.relative_to(tmp_path / "data")).read_bytes()
    for name in DATASETS:
        assert any(p.name.startswith("LICENSE") for p in (tmp_path / "data" / name).iterdir()), name


def test_data_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["data", "fetch", str(tmp_path / "d"), "--name", "mathdial"])
    assert ok.exit_code == 0 and (tmp_path / "d/mathdial/test_dev.jsonl").is_file()
    bad = runner.invoke(app, ["data", "fetch", str(tmp_path / "d"), "--name", "imagenet"])
    assert bad.exit_code == 2 and "unknown data set 'imagenet'" in bad.output
    listed = runner.invoke(app, ["data", "list"])
    assert "CC BY-NC-SA" in listed.output


def test_readme_and_makefile_commands_do_not_need_the_shared_folder() -> None:
    for doc in ("README.md", "Makefile"):
        text = (ROOT / doc).read_text()
        commands = [line for line in text.splitlines() if re.search(r"evalwheel (agree|calibrate)", line)]
        assert commands, doc
        assert not [c for c in commands if "../shared" in c], doc
