"""Every CLI command runs its coroutine on uvloop when installed; EVALWHEEL_EVENT_LOOP picks or refuses a loop."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evalwheel import eventloop
from evalwheel.cli import app

uvloop = pytest.importorskip("uvloop")
runner = CliRunner()


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_is_the_default_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(eventloop.ENV_VAR, raising=False)
    assert eventloop.loop_name() == "uvloop"
    assert eventloop.run(_loop_module()).startswith("uvloop")
    loop = eventloop.new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_env_var_forces_the_standard_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENV_VAR, "asyncio")
    assert eventloop.loop_name() == "asyncio"
    assert eventloop.run(_loop_module()).startswith("asyncio")


def test_unknown_or_missing_loop_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENV_VAR, "trio")
    with pytest.raises(eventloop.EventLoopChoiceError, match="'trio': expected one of uvloop, asyncio"):
        eventloop.loop_factory()
    monkeypatch.setenv(eventloop.ENV_VAR, "uvloop")
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed
    with pytest.raises(eventloop.EventLoopChoiceError, match="uvloop is not installed"):
        eventloop.loop_factory()
    monkeypatch.delenv(eventloop.ENV_VAR)
    assert eventloop.loop_factory() is None  # not asked for by name: the standard loop, silently


SOLVER = """
import asyncio

async def answer(sample, ctx):
    return type(asyncio.get_running_loop()).__module__.split(".")[0]
"""


def _project(tmp: Path) -> Path:
    (tmp / "data.jsonl").write_text(json.dumps({"id": "a", "input": "which loop?", "reference": "uvloop"}) + "\n")
    (tmp / "app.py").write_text(SOLVER)
    spec = {
        "name": "loop",
        "dataset": "data.jsonl",
        "solver": {"type": "python", "function": "app.py:answer"},
        "graders": [{"name": "exact"}],
        "store": "runs.sqlite",
    }
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    return tmp / "spec.yaml"


def test_evalwheel_run_solves_on_uvloop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(eventloop.ENV_VAR, raising=False)
    spec = _project(tmp_path)
    result = runner.invoke(app, ["run", str(spec), "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv(eventloop.ENV_VAR, "asyncio")  # the same run on the standard loop fails the exact match
    result = runner.invoke(app, ["run", str(spec), "--no-progress", "--json"])
    assert result.exit_code == 1, result.output


def test_a_bad_loop_choice_is_exit_2_with_its_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENV_VAR, "tokio")
    result = runner.invoke(app, ["run", str(_project(tmp_path)), "--no-progress"])
    assert result.exit_code == 2
    assert "EVALWHEEL_EVENT_LOOP='tokio'" in result.output
    assert not (tmp_path / "runs.sqlite").exists()  # refused before anything was recorded
