"""The project an evalwheel command runs in: its root (found upward, like git) and the default run store.

A CI job that runs `evalwheel run` from a sub-folder must find the same store, and so the same baseline,
as a developer at the repository root. The store used when none is named is, in order:

1. `EVALWHEEL_STORE` (a SQLAlchemy URL or a SQLite path), e.g. a team's PostgreSQL store in CI;
2. the project root's `evalwheel.yaml` `store:` (a URL, or a path relative to that file);
3. `<project root>/.evalwheel/runs.sqlite`, where the project root is the nearest folder, from the working
   directory upward, holding `evalwheel.yaml` or an existing `.evalwheel/runs.sqlite`;
4. `.evalwheel/runs.sqlite` in the working directory (a first run anywhere starts a project there).

An explicit `--store` or a spec's `store:` still wins over all of these.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PROJECT_FILE = "evalwheel.yaml"
STORE_ENV = "EVALWHEEL_STORE"
STORE_DIR = ".evalwheel"
STORE_FILE = "runs.sqlite"


class ProjectConfigError(ValueError):
    """An `evalwheel.yaml` that cannot be read; names the file and the cause."""


def find_project_root(start: Path | None = None) -> Path | None:
    """The nearest folder from `start` (default: the working directory) upward that marks a project."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file() or (folder / STORE_DIR / STORE_FILE).is_file():
            return folder
    return None


def project_config(root: Path) -> dict[str, Any]:
    """`evalwheel.yaml` at the root as a mapping (empty when the file is absent or empty)."""
    path = root / PROJECT_FILE
    if not path.is_file():
        return {}
    import yaml

    from evalwheel.fileio import FileReadError, parse_error_text, read_text

    try:
        data = yaml.safe_load(read_text(path, what="project config"))
    except FileReadError as exc:  # binary or not UTF-8: one message, not a UnicodeDecodeError traceback
        raise ProjectConfigError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise ProjectConfigError(f"{path}: not valid YAML: {parse_error_text(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProjectConfigError(f"{path}: expected a mapping, got {type(data).__name__}")
    return data


def default_store_target(start: Path | None = None) -> str:
    """Where runs go when no store is named (see the module docstring for the order)."""
    env = os.environ.get(STORE_ENV, "").strip()
    if env:
        return env
    root = find_project_root(start)
    if root is None:
        return str(Path(STORE_DIR) / STORE_FILE)
    configured = project_config(root).get("store")
    if isinstance(configured, str) and configured.strip():
        text = configured.strip()
        return text if "://" in text else str(root / Path(text).expanduser())
    if configured is not None:
        raise ProjectConfigError(f"{root / PROJECT_FILE}: store: expected a URL or a path, got {configured!r}")
    return str(root / STORE_DIR / STORE_FILE)


def sqlite_file(target: str | Path | None) -> Path | None:
    """The SQLite file a store target names (the default store when None), or None for a server database.
    Creates nothing: it is how a verb checks that an output path is not the store itself."""
    if target is None:
        target = default_store_target()
    text = str(target)
    if "://" not in text:
        return Path(text)
    return Path(text.removeprefix("sqlite:///")) if text.startswith("sqlite:///") else None
