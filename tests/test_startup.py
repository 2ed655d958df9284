"""Start-up: the CLI and the package import only light modules; sub-commands load when invoked.

No timing assertions (the machine is shared): the heavy modules must simply not be imported. Timings are
in benchmarks/bench_startup.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def tiny_recorded_spec(tmp_path: Path) -> Path:
    """A one-sample spec on recorded outputs (no model endpoint), for timing what a run imports when."""
    (tmp_path / "d.jsonl").write_text('{"id": "a", "input": "q", "reference": "yes"}\n')
    (tmp_path / "rec.jsonl").write_text('{"id": "a", "output": "yes"}\n')
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: tiny\ndataset: d.jsonl\nsolver: {type: recorded, path: rec.jsonl}\ngraders: [{name: exact}]\n"
    )
    return spec


def test_a_run_probes_its_models_before_importing_sqlalchemy(tmp_path: Path) -> None:
    """`evalwheel run` opens the store after the preflight probe, so SQLAlchemy's import (the largest of a run)
    is not on the path to the first model request; the results are still stored."""
    spec = tiny_recorded_spec(tmp_path)
    code = f"""
import sys
import evalwheel.runs.api as api
seen = []
real = api.preflight
async def spy(spec, models):
    seen.append("sqlalchemy" in sys.modules)
    return await real(spec, models)
api.preflight = spy
from typer.testing import CliRunner
from evalwheel.cli import app
res = CliRunner().invoke(app, ["run", {str(spec)!r}, "--store", {str(tmp_path / "r.db")!r}, "--no-progress", "--json"])
print(res.exit_code, seen, "sqlalchemy" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.split("\n")[-2] == "0 [False] True", out.stdout + out.stderr
    from evalwheel.store import Store

    runs = Store(str(tmp_path / "r.db")).list_runs("tiny")
    assert len(runs) == 1 and Store(str(tmp_path / "r.db")).count_results(runs[0].run_id) == 1


def test_the_store_import_overlaps_the_preflight_but_the_store_opens_after_it(tmp_path: Path) -> None:
    """While the probes wait for their answers, SQLAlchemy is imported in a thread (it used to follow them);
    the store itself is still opened only once the preflight passed: a failed preflight leaves no store file."""
    spec = tiny_recorded_spec(tmp_path)
    code = f"""
import asyncio, sys, time
import evalwheel.runs.api as api
from evalwheel.runs.preflight import PreflightError
seen = []
async def slow_probe(spec, models):
    seen.append("sqlalchemy" in sys.modules)
    deadline = time.monotonic() + 5
    while "evalwheel.store.store" not in sys.modules and time.monotonic() < deadline:
        await asyncio.sleep(0.01)  # a probe waiting for its endpoint's answer
    seen.append("evalwheel.store.store" in sys.modules)
    if sys.argv[1] == "fail":
        raise PreflightError("preflight found a setup problem: the test says so")
    return []
api.preflight = slow_probe
from typer.testing import CliRunner
from evalwheel.cli import app
res = CliRunner().invoke(app, ["run", {str(spec)!r}, "--store", sys.argv[2], "--no-progress", "--json"])
print(res.exit_code, seen)
"""
    for mode, code_expected in (("ok", "0"), ("fail", "2")):
        db = tmp_path / f"{mode}.db"
        out = subprocess.run(
            [sys.executable, "-c", code, mode, str(db)], capture_output=True, text=True, check=True, cwd=tmp_path
        )
        assert out.stdout.split("\n")[-2] == f"{code_expected} [False, True]", out.stdout + out.stderr
        assert db.exists() is (mode == "ok")


@pytest.mark.parametrize("args", [["run", "--help"], ["--help"], ["runs", "--help"], ["run"]])
def test_help_and_usage_errors_skip_rich_help_rendering(args: list[str]) -> None:
    """Help and usage errors are plain click text: typer's rich rendering (typer.rich_utils: rich.markdown,
    pygments, rich.traceback) was about a third of `evalwheel run --help`'s start-up."""
    code = f"from evalwheel.cli import app\nimport typer.testing\ntyper.testing.CliRunner().invoke(app, {args!r})"
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert not {"typer.rich_utils", "pygments", "markdown_it"} & set(out)
    if args[0] != "runs":  # `run` imports asyncio only when it runs
        assert "asyncio" not in out
    result = CliRunner().invoke(app, args)
    assert "Usage:" in result.output and "╭" not in result.output


def test_gates_load_the_junit_writer_only_when_asked() -> None:
    """Every run imports the gates; only a run asked for a JUnit report needs xml.sax and urllib.request."""
    code = "import evalwheel.gates\nimport sys\nprint('evalwheel.gates.junit' in sys.modules)"
    lazy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    code = "from evalwheel.gates import junit_xml\nimport sys\nprint('evalwheel.gates.junit' in sys.modules)"
    used = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert (lazy, used) == ("False", "True")


@pytest.mark.parametrize("command", ["run", "grade", "replay", "chat", "serve", "evaluate"])
def test_no_per_command_shell_completion_options(command: str) -> None:
    """The root app has no completion options, and a lazily mounted command must not grow its own."""
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    assert "--install-completion" not in result.output and "--show-completion" not in result.output
