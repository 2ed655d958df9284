"""Turn a spec's `solver:` section into a solver function and its context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalwheel.models.base import Model
from evalwheel.solvers.base import SolverContext, SolverFn
from evalwheel.solvers.prompt import prompt_solver
from evalwheel.solvers.python import load_function, python_solver
from evalwheel.solvers.recorded import load_recorded, recorded_solver

SOLVERS: dict[str, SolverFn] = {
    "prompt": prompt_solver,
    "python": python_solver,
    "recorded": recorded_solver,
}  # "replay" is imported on use in build_solver: it pulls in the Study Mode stack (graders, overlays)


def build_solver(
    solver_type: str, config: dict[str, Any], model: Model | None, base_dir: Path
) -> tuple[SolverFn, SolverContext]:
    """Validate what can be validated before the run starts (recorded file, function import)."""
    fn: SolverFn
    if solver_type == "replay":
        from evalwheel.solvers.replay import replay_solver

        fn = replay_solver
    else:
        fn = SOLVERS[solver_type]
    config = dict(config)
    if solver_type == "recorded":
        path = Path(config["path"])
        config["path"] = str(path if path.is_absolute() else base_dir / path)
        load_recorded(Path(config["path"]))
    if solver_type == "python":
        load_function(config["function"], base_dir)
    return fn, SolverContext(model=model, config=config, base_dir=base_dir)
