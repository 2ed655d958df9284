"""The workspace judges a run by the gates its own spec declared (stored with the run), not by defaults."""

from __future__ import annotations

from pathlib import Path

from evalwheel.web.digest import compute_digest, run_gate_config
from test_runs_engine import run_spec, write_project


async def test_run_pages_use_the_specs_gate_thresholds(tmp_path: Path) -> None:
    # distribution passes 6/7 = 0.857: fails a spec gate of 0.9, which the default thresholds would not check
    spec_path = write_project(tmp_path, gates={"golden": {"min_pass_rate": 1.0}, "distribution": {"min_pass_rate": 0.9}})
    outcome, store = await run_spec(spec_path)
    info = store.get_run(outcome.run.run_id)
    assert info.metadata["gates"]["distribution"] == {"min_pass_rate": 0.9}
    cfg = run_gate_config(info)
    assert cfg.distribution is not None and cfg.distribution.min_pass_rate == 0.9
    digest = compute_digest(store, info)
    failed = {g.name for g in digest.gates.gates if not g.passed}
    assert any("distribution" in name for name in failed), digest.gates


def test_unreadable_stored_gates_fall_back_to_defaults() -> None:
    from evalwheel.gates.config import GateConfig
    from evalwheel.types import RunInfo

    info = RunInfo(run_id="r", spec_name="s", metadata={"gates": {"golden": {"min_pass_rate": "lots"}}})
    assert run_gate_config(info) == GateConfig()
    assert run_gate_config(RunInfo(run_id="r", spec_name="s")) == GateConfig()
