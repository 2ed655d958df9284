"""The pytest plugin, driven by pytester: grading fixtures with readable failures, and a spec run as tests
(`spec::partition::sample` and `spec::gate::name` ids, results in the store like `evalwheel run`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalwheel.store import Store


@pytest.fixture(autouse=True)
def _inner_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def _spec(root: Path, *, broken: bool = False) -> Path:
    rows = [("g1", "golden", "Paris"), ("g2", "golden", "Rome"), ("d1", "distribution", "Oslo")]
    (root / "data.jsonl").write_text(
        "".join(
            json.dumps({"id": i, "partition": p, "input": f"capital? {a}", "reference": a}) + "\n" for i, p, a in rows
        )
    )
    outputs = {"g1": "It is Paris.", "g2": "It is Rome.", "d1": "It is Oslo."}
    if broken:
        outputs["g2"] = "It is Milan."
    (root / "rec.jsonl").write_text("".join(json.dumps({"id": k, "output": v}) + "\n" for k, v in outputs.items()))
    spec = root / "spec.yaml"
    spec.write_text(
        "name: capitals\ndataset: data.jsonl\nsolver: {type: recorded, path: rec.jsonl}\n"
        "graders:\n  - name: contains\n"
        "gates:\n  golden: {min_pass_rate: 1.0}\n  distribution: {min_pass_rate: 0.5}\n"
    )
    return spec


def test_spec_runs_as_tests(pytester: pytest.Pytester) -> None:
    spec = _spec(pytester.path)
    store = pytester.path / "runs.sqlite"
    result = pytester.runpytest(
        "--evalwheel-spec", str(spec), "--evalwheel-store", str(store), "-v", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=6)  # 3 samples + the error_rate, golden and distribution gates
    result.stdout.fnmatch_lines(
        ["*capitals::golden::g1 PASSED*", "*capitals::distribution::d1 PASSED*", "*capitals::gate::golden PASSED*"]
    )
    [run] = Store(store).list_runs()
    assert run.spec_name == "capitals" and Store(store).count_results(run.run_id) == 3


def test_failing_sample_and_gate_report_reasons(pytester: pytest.Pytester) -> None:
    spec = _spec(pytester.path, broken=True)
    result = pytester.runpytest("--evalwheel-spec", str(spec), "--evalwheel-store", str(pytester.path / "r.sqlite"))
    result.assert_outcomes(passed=4, failed=2)
    result.stdout.fnmatch_lines(["*g2 (run *", "*contains: FAILED*", "*gate golden failed*failing samples: g2*"])
    assert result.ret == 1


def test_grading_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_passes(evalwheel_check):
            [score] = evalwheel_check("contains", "The capital is Paris.", value="Paris")
            assert score.passed is True

        def test_fails_readably(evalwheel_check):
            evalwheel_check("contains", "The capital is Lyon.", value="Paris")

        def test_grade_returns_scores(evalwheel_grade):
            scores = evalwheel_grade("constraints", "Hello there", max_words=1)
            assert any(s.passed is False for s in scores)

        def test_unscored_skips(evalwheel_check):
            evalwheel_check("exact", "anything")  # no reference: unscored, never a silent fail

        def test_async_form(evalwheel_agrade):
            import asyncio
            [score] = asyncio.run(evalwheel_agrade("contains", "x", value="x"))
            assert score.passed
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*evalwheel grader failed:*", "*contains: FAILED (value 0): *"])


def test_bad_spec_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--evalwheel-spec", str(pytester.path / "missing.yaml"))
    result.stderr.fnmatch_lines(["*--evalwheel-spec*spec file not found*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR
