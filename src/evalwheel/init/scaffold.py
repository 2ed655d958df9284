"""`evalwheel init DIR`: a new project folder that runs, gates and locks from the first command.

Templates ship inside the package (`evalwheel/init/templates/<name>/` plus `common/`), so `init` works from an
installed evalwheel with no repository checkout. `{{name}}` and `{{action}}` are the only substitutions; the
golden lock is computed here from the copied dataset rather than shipped, so it always matches the data.
"""

from __future__ import annotations

import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from evalwheel.basemodel import EvalwheelModel

TEMPLATES = ("support", "studymode")
DEFAULT_ACTION = "OWNER/evalwheel@main"
# A workflow `uses:` reference: owner/repo[/path]@ref, or a local ./path. It is pasted into the YAML workflow, so
# anything else (a typo without @ref, or text with spaces, quotes or newlines that would change the YAML) is refused.
_ACTION = re.compile(r"(?:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_./-]+)?@[A-Za-z0-9_./-]+|\./[A-Za-z0-9_./-]*)")
_RENAMES = {"github": ".github"}  # hidden folders are shipped without the dot (package data rules)


class InitError(ValueError):
    """The target folder cannot be used, or the template is unknown (bad input: exit code 2)."""


class InitResult(EvalwheelModel):
    """What `scaffold` wrote and the three commands to run next, in order."""

    directory: str
    template: str
    name: str
    files: list[str]
    next_commands: list[str]


def project_name(directory: Path) -> str:
    """A spec name from the folder name: lower case, dashes."""
    return re.sub(r"[^a-z0-9]+", "-", directory.resolve().name.lower()).strip("-") or "evals"


def _copy(node: Traversable, target: Path, values: dict[str, str], written: list[Path]) -> None:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name == "__pycache__":
            continue
        dest = target / _RENAMES.get(child.name, child.name)
        if child.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            _copy(child, dest, values, written)
            continue
        text = child.read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        dest.write_text(text, encoding="utf-8")
        written.append(dest)


def scaffold(directory: Path, template: str = "support", *, action: str = DEFAULT_ACTION) -> InitResult:
    """Write the template into a new (or empty) folder, lock its golden samples, return the next commands."""
    from evalwheel.datasets.lock import write_lock
    from evalwheel.datasets.samples import scan_dataset

    if template not in TEMPLATES:
        raise InitError(f"--template {template!r}: expected one of {', '.join(TEMPLATES)}")
    if not _ACTION.fullmatch(action):
        raise InitError(f"--action {action!r}: expected a GitHub Action reference OWNER/REPO@REF (or ./path)")
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InitError(f"{directory} already exists and is not an empty folder: init writes into a new folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a parent is a file, or not writable
        raise InitError(f"{directory}: cannot create the folder: {exc.strerror or exc}") from None
    name = project_name(directory)
    values = {"name": name, "action": action}
    root = resources.files("evalwheel.init") / "templates"
    written: list[Path] = []
    _copy(root / "common", directory, values, written)
    _copy(root / template, directory, values, written)
    written.append(write_lock(scan_dataset(directory / "dataset.jsonl")))
    return InitResult(
        directory=str(directory),
        template=template,
        name=name,
        files=sorted(str(p.relative_to(directory)) for p in written),
        next_commands=[f"cd {_quote(directory)}", "evalwheel run spec.yaml", f"evalwheel runs show {name}@latest"],
    )


def _quote(path: Path) -> str:
    import shlex

    return shlex.quote(str(path))
