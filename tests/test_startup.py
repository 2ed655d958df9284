"""Start-up: the CLI and the package import only light modules; sub-commands load when invoked.

No timing assertions (the machine is shared): the heavy modules must simply not be imported. Timings are
in benchmarks/bench_startup.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from evalwheel.cli import LAZY_COMMANDS, app
from evalwheel.cli_lazy import load_target, to_click

HEAVY = (
    "sqlalchemy", "aiohttp", "numpy", "scipy", "fastapi", "uvicorn", "onnxruntime", "opentelemetry", "jinja2", "ray",
    "torch", "playwright",
)  # fmt: skip


def imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return {m for m in out.split() if m.split(".")[0] in HEAVY}


@pytest.mark.parametrize(
    "code",
    [
        "import evalwheel",
        "import evalwheel.cli",
        "import evalwheel.runs.cli",
        "import evalwheel.models.base",
        "from evalwheel.cli import app\nimport typer.testing\ntyper.testing.CliRunner().invoke(app, ['run', '--help'])",
        "from evalwheel.cli import app\nimport typer.testing\ntyper.testing.CliRunner().invoke(app, ['--help'])",
    ],
)
def test_no_heavy_imports(code: str) -> None:
    assert imported_after(code) == set()


def test_root_help_lists_every_command_without_loading_them() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in LAZY_COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_every_lazy_command_loads(name: str) -> None:
    cmd = to_click(name, load_target(LAZY_COMMANDS[name][0]))
    assert cmd.name == name
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output


def test_public_api_still_resolves() -> None:
    import evalwheel

    for name in evalwheel.__all__:
        assert getattr(evalwheel, name) is not None
    with pytest.raises(AttributeError):
        _ = evalwheel.no_such_name  # type: ignore[attr-defined]


def test_builtin_grader_table_points_at_the_defining_modules() -> None:
    """A run imports only the graders it uses; the name -> module table must stay right (unlisted names
    still work through the full import)."""
    from evalwheel.graders.registry import _REGISTRY, builtin_module, load_builtin_graders

    load_builtin_graders()
    for name, fn in _REGISTRY.items():
        module = builtin_module(name)
        if module is not None and fn.__module__.startswith("evalwheel.graders"):
            assert fn.__module__ == module, name


def test_looking_up_exact_does_not_import_the_study_mode_graders() -> None:
    code = "from evalwheel.graders.registry import get_grader\nget_grader('exact')"
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert "evalwheel.graders.pedagogy" not in out and "numpy" not in out
