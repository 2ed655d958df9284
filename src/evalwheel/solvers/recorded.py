"""The recorded solver: outputs captured earlier (production logs, a previous system, hand-written answers).

Grading recorded outputs is how a team gates on what actually shipped, and it needs no model at all.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from pydantic import ValidationError

from evalwheel.datasets.checks import lone_surrogate, surrogate_cause
from evalwheel.fileio import FileReadError, read_text
from evalwheel.solvers.base import SolverContext
from evalwheel.types import Output, Sample


class RecordedOutputsError(ValueError):
    """A recorded-outputs file that cannot be read; names the file, line and cause."""


@cache
def load_recorded(path: Path) -> dict[str, Output]:
    """`{"id": sample_id, "output": Output-or-text}` per line; every bad line is reported at once."""
    try:
        lines = read_text(path, what="recorded outputs", nonempty=True).splitlines()
    except FileReadError as exc:
        raise RecordedOutputsError(str(exc)) from None
    found: dict[str, Output] = {}
    first_line: dict[str, int] = {}
    problems: list[str] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                raise ValueError('expected an object with a string "id"')
            surrogate = lone_surrogate(row)  # crashed the run when its result was written
            if surrogate is not None:
                loc, char = surrogate
                raise ValueError(f"{'.'.join(map(str, loc)) or 'a top-level key'}: {surrogate_cause(char)}")
            raw = row.get("output")
            output = Output(text=raw) if isinstance(raw, str) else Output.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            problems.append(f"{path}:{n}: output.{where}: {first['msg']}")
            continue
        except ValueError as exc:
            problems.append(f"{path}:{n}: {exc}")
            continue
        sid = row["id"]
        if sid in first_line:
            problems.append(f"{path}:{n}: duplicate id {sid!r} (first on line {first_line[sid]})")
            continue
        first_line[sid] = n
        found[sid] = output
    if problems:
        raise RecordedOutputsError("invalid recorded outputs:\n  " + "\n  ".join(problems))
    return found


async def recorded_solver(sample: Sample, ctx: SolverContext) -> Output:
    outputs = load_recorded(Path(ctx.config["path"]))
    output = outputs.get(sample.id)
    if output is None:
        return Output(error=f"no recorded output for sample {sample.id!r} in {ctx.config['path']}")
    return output
