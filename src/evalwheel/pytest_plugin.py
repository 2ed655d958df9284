"""evalwheel inside pytest (registered as the `evalwheel` plugin through the `pytest11` entry point).

Two ways in, because engineers already write pytest tests:

- **Fixtures.** `evalwheel_grade(grader, output, ...)` runs any registered grader on one output and returns its
  Score(s); `evalwheel_check(...)` does the same and fails the test with the grader's reason and evidence
  when a gating score did not pass (an unscored verdict skips the test, it is not a failure). Async tests use
  `await evalwheel_agrade(...)`.
- **A spec as tests.** `pytest --evalwheel-spec SPEC` runs the spec once, like `evalwheel run` (results in the
  same store, the regression gate against the latest run), and reports one test per sample,
  `spec::partition::sample` (`spec[arm]::...` for replay arms), and one per gate, `spec::gate::name`.

The plugin is loaded in every pytest session of an environment where evalwheel is installed, so this module
imports nothing from evalwheel at the top: all of it is loaded when a fixture or the option is used.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from evalwheel.runs.api import EvalResult
    from evalwheel.types import Score

T = TypeVar("T")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evalwheel", "evalwheel: run eval specs as tests")
    group.addoption("--evalwheel-spec", action="append", default=[], metavar="SPEC",
                    help="Run this eval spec's samples and gates as tests (repeatable).")  # fmt: skip
    group.addoption("--evalwheel-store", default=None, metavar="URL_OR_PATH",
                    help="Run store (default: the spec's, else the project's, as for `evalwheel run`).")  # fmt: skip
    group.addoption("--evalwheel-baseline", default="latest", metavar="RUN_ID|latest|none",
                    help="Baseline run for the regression gate.")  # fmt: skip
    group.addoption("--evalwheel-no-judges", action="store_true", default=False,
                    help="Skip LLM-judge graders (as `evalwheel run --no-judges`).")  # fmt: skip


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also when the calling thread already runs an event loop."""
    from evalwheel import eventloop

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return eventloop.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = eventloop.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


# ------------------------------------------------------------------------------------------- fixtures


def _sample_and_output(output: Any, input: Any, reference: str | None, context: Any, sample: Any) -> tuple[Any, Any]:
    from evalwheel.types import Output, Sample

    if sample is None:
        sample = Sample(id="pytest", input="" if input is None else input, reference=reference, context=context)
    if not isinstance(output, Output):
        output = Output(text=str(output))
    return sample, output


async def agrade(
    grader: str,
    output: Any,
    *,
    input: Any = None,
    reference: str | None = None,
    context: Any = None,
    sample: Any = None,
    **config: Any,
) -> list[Score]:
    """Run a registered grader (by name) with `config` on one output; always a list of Scores."""
    import evalwheel.graders  # noqa: F401  (registers the built-in graders)
    from evalwheel.graders.registry import GraderContext, get_grader
    from evalwheel.models.base import Model

    sample, output = _sample_and_output(output, input, reference, context, sample)
    opened: list[Model] = []
    for key in ("judge_model",):
        if isinstance(config.get(key), str):
            from evalwheel.models.registry import get_model

            config[key] = get_model(config[key])
            opened.append(config[key])
    try:
        result = await get_grader(grader)(sample, output, GraderContext(config=config))
    finally:
        for m in opened:
            await m.aclose()
    return result if isinstance(result, list) else [result]


def explain(scores: Sequence[Score]) -> str:
    """A failure message a reader can act on: each non-passing score with its reason and evidence."""
    lines = []
    for s in scores:
        if s.passed is True:
            continue
        verdict = "unscored" if s.passed is None else "FAILED"
        value = "" if s.value is None else f" (value {s.value:g})"
        lines.append(f"{s.name}: {verdict}{value}: {s.reason}")
        for e in s.evidence:
            where = f"turn {e.turn_index}: " if e.turn_index is not None else ""
            lines.append(f"    evidence: {where}{e.snippet!r}")
    return "\n".join(lines)


def check_scores(scores: Sequence[Score], only: Sequence[str] | None = None) -> list[Score]:
    """Fail (AssertionError with reasons and evidence) when a chosen score failed; skip when none is scored."""
    chosen = [s for s in scores if only is None or s.name in only]
    if only is not None and not chosen:
        names = ", ".join(s.name for s in scores)
        raise AssertionError(f"no score named {', '.join(only)} (the grader returned: {names})")
    failed = [s for s in chosen if s.passed is False]
    if failed:
        raise AssertionError("evalwheel grader failed:\n" + explain(failed))
    if chosen and all(s.passed is None for s in chosen):
        pytest.skip("evalwheel: unscored (no verdict): " + explain(chosen).replace("\n", " | "))
    return chosen


@pytest.fixture
def evalwheel_grade() -> Callable[..., list[Score]]:
    """`evalwheel_grade("contains", output, value="Paris")` -> list[Score] (sync; any registered grader)."""

    def grade(grader: str, output: Any, **kwargs: Any) -> list[Score]:
        return _run_sync(agrade(grader, output, **kwargs))

    return grade


@pytest.fixture
def evalwheel_agrade() -> Callable[..., Coroutine[Any, Any, list[Score]]]:
    """The async form of `evalwheel_grade`, for `async def` tests."""
    return agrade


@pytest.fixture
def evalwheel_check() -> Callable[..., list[Score]]:
    """Grade and assert: fails with the reason and evidence; `scores=[names]` picks which scores must pass."""

    def check(grader: str, output: Any, *, scores: Sequence[str] | None = None, **kwargs: Any) -> list[Score]:
        return check_scores(_run_sync(agrade(grader, output, **kwargs)), scores)

    return check


# ------------------------------------------------------------------------------------------- a spec as tests


class SpecRun:
    """One spec (one arm) run once per session; items read their verdicts from it."""

    def __init__(self, spec_path: Path, arm: str | None, options: pytest.Config) -> None:
        self.spec_path = spec_path
        self.arm = arm
        self.options = options
        self._result: EvalResult | None = None
        self._error: BaseException | None = None
        self.by_sample: dict[str, list[Any]] = {}

    def result(self) -> EvalResult:
        if self._error is not None:
            raise self._error
        if self._result is None:
            from evalwheel.store.errors import StoreError

            try:
                self._result = self._execute()
            except (ValueError, OSError, StoreError) as exc:
                # Bad input (an unknown baseline run, a store that cannot be opened): every sample and gate test
                # fails with the cause in one line, not with the same traceback repeated in each of them.
                self._error = pytest.fail.Exception(f"--evalwheel-spec {self.spec_path}: {exc}", pytrace=False)
                raise self._error from None
            except BaseException as exc:
                self._error = exc
                raise
        return self._result

    def _execute(self) -> EvalResult:
        from evalwheel.runs.api import run_eval, store_for
        from evalwheel.runs.spec import load_spec

        spec = load_spec(self.spec_path)
        store = store_for(spec, self.options.getoption("--evalwheel-store"))
        result = _run_sync(
            run_eval(
                spec,
                arm=self.arm,
                store=store,
                judges=not self.options.getoption("--evalwheel-no-judges"),
                baseline=self.options.getoption("--evalwheel-baseline"),
            )
        )
        for r in store.iter_results(result.run_id, with_output=False):
            self.by_sample.setdefault(r.sample_id, []).append(r)
        return result


class _SpecItem(pytest.Item):
    """A test read from a spec's run: failures print the reasons only, located at the spec file."""

    run: SpecRun

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, AssertionError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.run.spec_path, None, self.name


class SampleItem(_SpecItem):
    """One sample of a spec: passes when every epoch passed; unscored skips; errors fail."""

    def __init__(self, *, run: SpecRun, sample_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run = run
        self.sample_id = sample_id

    def runtest(self) -> None:
        result = self.run.result()
        rows = self.run.by_sample.get(self.sample_id, [])
        if not rows:
            raise AssertionError(f"sample {self.sample_id!r} has no result in run {result.run_id}")
        problems = []
        for r in rows:
            if r.status == "error":
                problems.append(f"epoch {r.epoch}: error: {r.error}")
            elif r.status == "failed":
                problems.append(f"epoch {r.epoch}: failed\n" + explain([s for s in r.scores if s.passed is False]))
        if problems:
            raise AssertionError(f"{self.sample_id} (run {result.run_id}):\n" + "\n".join(problems))
        if all(r.status == "unscored" for r in rows):
            pytest.skip("unscored: " + explain(rows[0].scores).replace("\n", " | "))


class GateItem(_SpecItem):
    """One gate of a spec's run: failed gates fail, skipped and report-only gates skip with their message."""

    def __init__(self, *, run: SpecRun, gate: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run = run
        self.gate = gate

    def runtest(self) -> None:
        report = self.run.result().report
        gate = next((g for g in report.gates if g.name == self.gate), None)
        if gate is None:
            pytest.skip(f"gate {self.gate} was not evaluated in this run")
        if gate.status in ("skipped", "report-only"):
            pytest.skip(f"{gate.status}: {gate.message}")
        if gate.passed is False:
            listed = f" (failing samples: {', '.join(gate.failing_samples)})" if gate.failing_samples else ""
            raise AssertionError(f"gate {gate.name} failed: {gate.message}{listed}")


def _gate_names(spec: Any) -> list[str]:
    """Gates a run of this spec reports, known before it runs (so they can be collected as tests)."""
    from evalwheel.gates import gates_from_spec

    config, judge_reqs = gates_from_spec(spec.model_dump(mode="json", exclude_none=True), "spec", spec.base_dir)
    names = ["error_rate"]
    for part in ("golden", "adversarial", "distribution"):
        if getattr(config, part, None) is not None:
            names.append(part)
    if config.baseline is not None:
        names.append("baseline")
    if config.max_unscored_rate is not None:
        names.append("unscored_rate")
    names.extend(f"judge:{r.grader}" for r in judge_reqs)
    return names


def _spec_items(session: pytest.Session, spec_path: Path) -> Iterator[pytest.Item]:
    from evalwheel.runs.dataset_source import prepare_dataset
    from evalwheel.runs.spec import load_spec

    spec = load_spec(spec_path)
    dataset = prepare_dataset(spec.dataset_path, spec.lock_path, require_lock=spec.dataset.require_lock)
    arms: list[str | None] = list(spec.solver.arms) if spec.solver.type == "replay" else [None]
    gates = _gate_names(spec)
    for arm in arms:
        run = SpecRun(spec_path, arm, session.config)
        prefix = spec.name + (f"[{arm}]" if arm else "")
        for sample, _ in dataset.iter_samples():
            name = f"{prefix}::{sample.partition}::{sample.id}"
            yield SampleItem.from_parent(session, name=name, nodeid=name, run=run, sample_id=sample.id)
        for gate in gates:
            name = f"{prefix}::gate::{gate}"
            yield GateItem.from_parent(session, name=name, nodeid=name, run=run, gate=gate)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    specs: list[str] = config.getoption("--evalwheel-spec") or []
    for raw in specs:
        path = Path(raw)
        if not path.is_file():
            raise pytest.UsageError(f"--evalwheel-spec {raw}: spec file not found")
        try:
            items.extend(_spec_items(session, path))
        except (ValueError, OSError) as exc:  # SpecError, InvalidDatasetError, ...: the message names the cause
            raise pytest.UsageError(f"--evalwheel-spec {raw}: {exc}") from None
