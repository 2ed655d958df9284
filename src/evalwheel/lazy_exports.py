"""Lazy re-exports for package `__init__` modules (PEP 562), so importing a package costs almost nothing.

Why: importing any submodule runs its package's `__init__` first; when those re-exported everything eagerly,
`import evalwheel.models.base` pulled in aiohttp and `import evalwheel` pulled in SQLAlchemy, numpy and every
grader, which made every CLI command pay seconds before doing anything.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """(`__getattr__`, `__dir__`) for `package`, importing `exports[name]` (a module path) on first access."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
