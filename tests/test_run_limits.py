"""Run-level limits: the overall deadline stops a run cleanly for --resume (exit 3), and the spec's / CLI's
timeouts and hedging reach the model client (issue 15, item 2)."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.models.cache import CachedModel
from evalwheel.models.http import OpenAIModel
from evalwheel.runs.engine import plan_run
from evalwheel.runs.spec import load_spec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from fake_openai_server import FakeOpenAIServer

runner = CliRunner()

SLOW_APP = """
import asyncio

async def answer(sample, ctx):
    await asyncio.sleep(float(ctx.config["delay"]))
    return sample.reference
"""


def slow_project(tmp: Path, n: int, delay: float, **extra: object) -> Path:
    rows = [{"id": f"s{i:03d}", "input": f"q{i}", "reference": f"a{i}"} for i in range(n)]
    (tmp / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp / "app.py").write_text(SLOW_APP)
    spec = {
        "name": "limits",
        "dataset": "data.jsonl",
        "solver": {"type": "python", "function": "app.py:answer", "options": {"delay": delay}},
        "graders": [{"name": "exact"}],
        "concurrency": 2,
        "store": "runs.sqlite",
        **extra,
    }
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    return tmp / "spec.yaml"


def stored(tmp: Path) -> list[str]:
    with sqlite3.connect(tmp / "runs.sqlite") as db:
        return [r[0] for r in db.execute("SELECT sample_id FROM results")]


def test_deadline_stops_cleanly_and_resume_finishes(tmp_path: Path) -> None:
    spec = slow_project(tmp_path, n=40, delay=0.1)  # at least 2 s of work at concurrency 2
    result = runner.invoke(app, ["run", str(spec), "--no-progress", "--deadline", "1"])
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "deadline of 1 s expired" in text and "--resume" in text
    first = stored(tmp_path)
    assert 0 < len(first) < 40
    run_id = text.split("--resume ")[1].split("`")[0].strip()
    with sqlite3.connect(tmp_path / "runs.sqlite") as db:
        assert db.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0] == "interrupted"
    result = runner.invoke(app, ["run", str(spec), "--no-progress", "--resume", run_id])
    assert result.exit_code == 0, result.output
    final = stored(tmp_path)
    assert sorted(final) == [f"s{i:03d}" for i in range(40)]  # each sample once


def test_spec_deadline_is_validated(tmp_path: Path) -> None:
    spec = slow_project(tmp_path, n=1, delay=0, deadline_s=-1)
    result = runner.invoke(app, ["run", str(spec), "--no-progress"])
    assert result.exit_code == 2 and "deadline_s" in result.output


def _client(model: object) -> OpenAIModel:
    inner = model.inner if isinstance(model, CachedModel) else model  # type: ignore[attr-defined]
    while not isinstance(inner, OpenAIModel):
        inner = inner.inner
    return inner


def test_spec_timeouts_and_hedge_reach_the_client_and_cli_overrides_them(tmp_path: Path) -> None:
    spec_path = slow_project(
        tmp_path,
        n=1,
        delay=0,
        timeouts={"connect_s": 2, "first_byte_s": 30, "total_s": 90},
        hedge={"enabled": True, "max_fraction": 0.2},
    )
    data = yaml.safe_load(spec_path.read_text())
    data["solver"] = {"type": "prompt", "model": "http://127.0.0.1:9/v1#m", "template": "{input}"}
    spec_path.write_text(yaml.safe_dump(data))
    spec = load_spec(spec_path)
    client = _client(plan_run(spec, cache=False).solver_ctx.model)
    t = client._timeout(120)
    assert (t.sock_connect, t.sock_read, t.total) == (2, 30, 90)
    assert client.hedge.enabled and client.hedge.max_fraction == 0.2
    over = spec.with_run_settings(first_byte_s=5, hedge=False, deadline_s=60)
    client = _client(plan_run(over, cache=False).solver_ctx.model)
    assert client._timeout(120).sock_read == 5 and not client.hedge.enabled and over.deadline_s == 60
    assert over.content_hash() == spec.content_hash()  # operational settings do not block a resume


async def test_a_run_against_hanging_requests_completes_with_a_first_byte_timeout(tmp_path: Path) -> None:
    """The issue's stall: each hung request held its slot for the full 120 s timeout."""
    from evalwheel.runs.api import run_eval

    async with FakeOpenAIServer(script=["ok", "hang", "ok", "hang"]) as srv:
        rows = [{"id": f"s{i}", "input": f"q{i}", "reference": f"echo: q{i}"} for i in range(6)]
        (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        spec = {
            "name": "hangs",
            "dataset": "data.jsonl",
            "solver": {"type": "prompt", "model": f"{srv.base_url}#m", "template": "{input}"},
            "graders": [{"name": "exact"}],
            "concurrency": 2,
            "timeouts": {"first_byte_s": 0.3},
            "deadline_s": 30,
        }
        (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
        result = await run_eval(tmp_path / "spec.yaml", store=tmp_path / "runs.sqlite", cache=False)
        assert result.outcome.counts == {"passed": 6} and srv.hung == 2
