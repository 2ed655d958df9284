"""The registered async Study Mode grader and the registry contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalwheel import GraderContext, Output, Sample, get_grader, grader, load_session_file, registered_graders
from evalwheel.types import Score, Turn

SESSION = Path(__file__).resolve().parents[1] / "examples/studymode/sessions/python.recursion.beginner.human_tutor.005.json"


async def test_studymode_fidelity_grades_the_sample_session() -> None:
    [session] = load_session_file(SESSION)
    scores = await get_grader("studymode.fidelity")(Sample(id="s", input=session), Output(), GraderContext())
    assert isinstance(scores, list)
    names = [s.name for s in scores]
    assert names[-1] == "pedagogical_fidelity" and "diagnosis_first" in names
    fid = scores[-1]
    scored = [s for s in scores[:-1] if s.passed is not None]
    assert fid.value == pytest.approx(sum(bool(s.passed) for s in scored) / len(scored))


async def test_solver_trajectory_replaces_the_recorded_one() -> None:
    [session] = load_session_file(SESSION)
    dump = [
        Turn(role="user", content=session.trajectory[0].content),
        Turn(role="assistant", content="The answer is: here's the complete solution.\n```python\ndef f(n):\n    if n == 0:\n        return 1\n    return n * f(n - 1)\n```"),
    ]
    scores = await get_grader("studymode.fidelity")(Sample(id="s", input=session), Output(trajectory=dump), GraderContext())
    by_name = {s.name: s for s in scores}
    assert by_name["no_direct_answer_initially"].passed is False
    assert by_name["diagnosis_first"].passed is False


async def test_config_reaches_the_grader() -> None:
    [session] = load_session_file(SESSION)
    ctx = GraderContext(config={"studymode": {"checks": ["conciseness"]}})
    scores = await get_grader("studymode.fidelity")(Sample(id="s", input=session), Output(), ctx)
    assert [s.name for s in scores] == ["conciseness", "pedagogical_fidelity"]


def test_registry_rejects_duplicates_and_names_unknown() -> None:
    assert "studymode.fidelity" in registered_graders()

    async def other(sample: Sample, output: Output, ctx: GraderContext) -> Score:
        return Score(name="x")

    with pytest.raises(ValueError, match="already registered"):
        grader("studymode.fidelity")(other)
    with pytest.raises(KeyError, match="unknown grader 'nope'"):
        get_grader("nope")
