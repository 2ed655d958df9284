"""The Ray executor on a real local Ray cluster: same summary as the local engine, kill -9 mid-shard, resume.

One cluster per module (2 CPUs); every test here is `slow` (starting Ray takes a few seconds).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.runs.api import run_eval
from evalwheel.runs.executors import ExecutorError, get_executor
from evalwheel.runs.executors.ray import RayExecutor
from evalwheel.store import Store
from test_scale_writers import recorded_project

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

KILLER = """
import os, signal
from evalwheel.types import Output

async def answer(sample, ctx):
    with open(ctx.config["log"], "a") as fh:
        fh.write(f"{sample.id} {os.getpid()}\\n")
    marker = ctx.config["marker"]
    if sample.id == ctx.config["victim"] and not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies mid-shard
    return sample.reference
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def killer_project(tmp: Path, n: int = 24) -> Path:
    rows = [{"id": f"s{i:03d}", "input": f"q{i}", "reference": f"a{i}"} for i in range(n)]
    (tmp / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp / "app.py").write_text(KILLER)
    spec = {
        "name": "ray-killer",
        "dataset": "data.jsonl",
        "solver": {
            "type": "python",
            "function": "app.py:answer",
            "options": {"log": str(tmp / "calls.log"), "marker": str(tmp / "killed"), "victim": "s013"},
        },
        "graders": [{"name": "exact"}],
        "concurrency": 2,
    }
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    return tmp / "spec.yaml"


def keys(store: Store, run_id: str) -> Counter[tuple[str, int]]:
    return Counter((r.sample_id, r.epoch) for r in store.iter_results(run_id, with_output=False))


async def test_same_summary_on_both_executors(cluster: None, tmp_path: Path, store_url: str) -> None:
    spec = recorded_project(tmp_path)
    store = Store(store_url)
    local = await run_eval(spec, store=store, baseline="none")
    executor = RayExecutor(shard_size=7)
    distributed = await run_eval(spec, store=store, baseline="none", executor=executor)
    assert executor.stats["slots"] == 2 and executor.stats["per_task"] == 2  # concurrency 4 is the cluster total
    assert local.run_id != distributed.run_id
    a, b = local.summary.figures(), distributed.summary.figures()
    a.pop("run_id"), b.pop("run_id")
    assert a == b
    assert a["overall"]["samples"] == 40 and 0 < a["overall"]["passed"] < 80
    ra, rb = local.report.model_dump(), distributed.report.model_dump()
    ra.pop("run_id"), rb.pop("run_id")
    for gate in [*ra["gates"], *rb["gates"]]:  # listed in completion order, which concurrency shuffles
        gate["failing_samples"] = sorted(gate["failing_samples"])
    assert ra == rb and local.report.exit_code == distributed.report.exit_code
    assert keys(store, distributed.run_id) == keys(store, local.run_id)
    assert set(keys(store, distributed.run_id).values()) == {1}
    assert distributed.outcome.run.status == "finished" and distributed.outcome.executed == 80
    res = CliRunner().invoke(app, ["compare", local.run_id, distributed.run_id, "--store", store_url, "--json"])
    assert res.exit_code == 0, res.output
    compared = json.loads(res.stdout)
    assert compared["verdict"] == "no_change" and compared["n_paired"] == 40
    assert compared["pass_fail"]["discordant"]["a_only"] == compared["pass_fail"]["discordant"]["b_only"] == 0


async def test_worker_killed_mid_shard_is_retried_once(cluster: None, tmp_path: Path) -> None:
    spec = killer_project(tmp_path)
    store = Store(tmp_path / "runs.sqlite")
    executor = RayExecutor(shard_size=6)
    result = await run_eval(spec, store=store, baseline="none", executor=executor)
    assert (tmp_path / "killed").exists()  # a worker really died
    calls = (tmp_path / "calls.log").read_text().split("\n")
    victim_pids = {line.split()[1] for line in calls if line.startswith("s013 ")}
    assert len(victim_pids) == 2  # the shard ran again in another process
    stored = keys(store, result.run_id)
    assert stored == Counter({(f"s{i:03d}", 0): 1 for i in range(24)})  # nothing lost, nothing twice
    assert result.outcome.counts == {"passed": 24}
    assert result.outcome.run.status == "finished"


async def test_resume_across_executors(cluster: None, tmp_path: Path) -> None:
    spec = recorded_project(tmp_path)
    store = Store(tmp_path / "runs.sqlite")
    first = await run_eval(spec, store=store, baseline="none", limit=15)
    assert first.outcome.executed == 15 and first.outcome.run.status == "partial"  # --limit left samples unrun
    again = await run_eval(spec, store=store, baseline="none", resume=first.run_id, executor=RayExecutor())
    assert again.outcome.skipped == 15 and again.outcome.executed == 65
    stored = keys(store, first.run_id)
    assert len(stored) == 80 and set(stored.values()) == {1}
    back = await run_eval(spec, store=store, baseline="none", resume=first.run_id)
    assert back.outcome.executed == 0 and back.summary.overall.samples == 40


def test_cli_executor_ray(cluster: None, tmp_path: Path) -> None:
    spec = recorded_project(tmp_path)
    db = tmp_path / "cli.sqlite"
    res = CliRunner().invoke(
        app, ["run", str(spec), "--executor", "ray", "--store", str(db), "--json", "--no-progress"]
    )
    assert res.exit_code == 1, res.output  # the golden gate fails (s000 is recorded wrong), as locally
    payload = json.loads(res.stdout)
    assert payload["executed"] == 80
    bad = CliRunner().invoke(app, ["run", str(spec), "--executor", "spark", "--store", str(db)])
    assert bad.exit_code == 2 and "choose one of local, ray" in bad.output
    with pytest.raises(ExecutorError, match="only meaningful"):
        get_executor("local", "auto")


def test_grade_logs_on_ray_matches_local(cluster: None, tmp_path: Path) -> None:
    from test_grade_logs import write_logs

    logs, cfg = write_logs(tmp_path, bad=True)
    rows = {}
    for executor in ("local", "ray"):
        out = tmp_path / f"{executor}.jsonl"
        args = ["grade", str(logs), "--graders", str(cfg), "--out", str(out), "--skip-invalid", "--chunk", "5"]
        res = CliRunner().invoke(app, [*args, "--executor", executor, "--json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["invalid"] == 3
        rows[executor] = sorted(out.read_text().splitlines())
    assert len(rows["ray"]) == 35 and rows["ray"] == rows["local"]


async def test_store_going_away_mid_run_stops_then_resumes_on_ray(cluster: None, tmp_path: Path) -> None:
    """The database locked mid-run: the Ray run stops (exit 3 in the CLI), a Ray resume finishes it,
    and nothing acknowledged is computed again."""
    from evalwheel.runs.dataset_source import prepare_dataset
    from evalwheel.runs.engine import execute, plan_run
    from evalwheel.runs.spec import load_spec
    from test_runs_durability import calls, run_until_store_gives_up, start_locker, stop, stored_ids
    from test_runs_engine import write_project

    n = 40
    spec = load_spec(write_project(tmp_path, n=n, delay=0.05))
    db = tmp_path / "runs.sqlite"
    store = Store(db, busy_timeout_s=0.1)
    acknowledged: list[str] = []
    locker = start_locker(db, tmp_path / "calls.log", 10)
    plan = plan_run(spec)
    try:
        error = await run_until_store_gives_up(plan, spec, store, acknowledged, executor=RayExecutor(shard_size=4))
    finally:
        await plan.aclose()
        stop(locker)
    assert "stayed unavailable" in str(error) and error.run_id is not None
    assert len(acknowledged) < n and set(acknowledged) <= stored_ids(db)
    before = calls(tmp_path)
    plan = plan_run(spec)
    try:
        again = await execute(
            plan, prepare_dataset(spec.dataset_path), store, resume=error.run_id, executor=RayExecutor()
        )
    finally:
        await plan.aclose()
    assert len(stored_ids(db)) == n and store.count_results(error.run_id) == n
    assert again.executed == n - again.skipped
    after = calls(tmp_path)
    assert all(after[sid] == before[sid] == 1 for sid in acknowledged)
    assert store.get_run(error.run_id).status == "finished"
