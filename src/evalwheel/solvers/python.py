"""The python solver: call the user's own application code (`file.py:function` or `package.module:function`).

This is how an app with retrieval, tools or several model calls is evaluated as it really runs. The function
receives (sample, ctx) and may be async or sync and return an Output or a plain string.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import sys
from functools import cache
from pathlib import Path
from typing import Any

from evalwheel.solvers.base import SolverContext
from evalwheel.types import Output, Sample


class SolverImportError(ValueError):
    """The solver function cannot be found; names the reference and the cause."""


@cache
def load_function(ref: str, base_dir: Path) -> Any:
    target, sep, name = ref.rpartition(":")
    if not sep or not target or not name:
        raise SolverImportError(f"solver.function {ref!r}: expected `file.py:function` or `module:function`")
    if target.endswith(".py"):
        path = Path(target) if Path(target).is_absolute() else base_dir / target
        if not path.is_file():
            raise SolverImportError(f"solver.function {ref!r}: file not found: {path}")
        module_name = f"evalwheel_user_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise SolverImportError(f"solver.function {ref!r}: cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise SolverImportError(f"solver.function {ref!r}: importing {path} failed: {exc!r}") from exc
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise SolverImportError(f"solver.function {ref!r}: cannot import module {target!r}: {exc}") from exc
    fn = getattr(module, name, None)
    if not callable(fn):
        raise SolverImportError(f"solver.function {ref!r}: {name!r} is not a function in {target}")
    return fn


async def python_solver(sample: Sample, ctx: SolverContext) -> Output:
    fn = load_function(ctx.config["function"], ctx.base_dir)
    if inspect.iscoroutinefunction(fn):
        result = await fn(sample, ctx)
    else:
        result = await asyncio.to_thread(fn, sample, ctx)
    if isinstance(result, Output):
        return result
    if isinstance(result, str):
        return Output(text=result)
    raise TypeError(f"solver {ctx.config['function']} returned {type(result).__name__}; expected Output or str")
