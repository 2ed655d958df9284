"""`evalwheel import openai-eval` end to end: the seed's full Study Mode tutoring eval (7 score_model graders over
an item schema with a trajectory array) imported, then run by `evalwheel run` against the scripted judge (an
HTTP-protocol test double); plus completions sources, the `sample` namespace, and what is refused and why."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.integrations import OpenAIImportError, import_openai_eval
from evalwheel.store import Store

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "openai_evals"
sys.path.insert(0, str(ROOT / "tests"))

from scripted_judge import ScriptedJudge  # noqa: E402

runner = CliRunner()


def _score_from_prompt(body: dict[str, Any]) -> str:
    """Pass 'Clarity' (threshold 2 of 0..2) only for the first session; everything else gets the top score."""
    system = body["messages"][0]["content"]
    hi = float(re.search(r"from [\d.]+ to ([\d.]+)", system).group(1))  # type: ignore[union-attr]
    text = "\n".join(m["content"] for m in body["messages"])
    score = hi
    if "explain clearly" in text and "internal coding agent" not in text:
        score = hi - 1
    return json.dumps({"reason": "scripted", "score": score})


async def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evalwheel.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})},
    )  # fmt: skip
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_seed_tutoring_eval_imports_and_runs_end_to_end(tmp_path: Path) -> None:
    out_dir = tmp_path / "tutoring"
    async with ScriptedJudge(fn=_score_from_prompt) as srv:
        judge_name = f"{srv.base_url}#gpt-4-stand-in"
        code, stdout, stderr = await _cli(
            "import", "openai-eval", str(FIX / "tutoring_eval.json"), "--data", str(FIX / "tutoring_items.jsonl"),
            "--out", str(out_dir), "--judge-model", judge_name,
        )  # fmt: skip
        assert code == 0, stderr
        assert "3 items, 7 graders" in stdout
        store = tmp_path / "runs.sqlite"
        code, stdout, stderr = await _cli(
            "run", str(out_dir / "spec.yaml"), "--no-progress", "--no-cache", "--store", str(store), "--json"
        )
        probe = [{"role": "user", "content": "ping"}]  # the one preflight probe per run (runs/preflight.py)
        bodies = [b for b in srv.bodies if b["messages"] != probe]
    assert code == 0, stderr + stdout
    payload = json.loads(stdout)
    assert payload["executed"] == 3
    assert len(bodies) == 3 * 7  # one judge call per criterion per item, nothing else
    # templates render arrays as JSON (what the hosted grader showed), never Python reprs
    user_visible = [b["messages"][1]["content"] for b in bodies]
    assert all('"role": "user"' in t and "'role'" not in t for t in user_visible)
    assert all(len(b["messages"]) == 2 for b in bodies)  # the format rule + the grader's one system message
    results = list(Store(store).iter_results(payload["run_id"]))
    by_id = {r.sample_id: r for r in results}
    names = [s.name for s in results[0].scores]
    assert names == [c["name"] for c in json.loads((FIX / "tutoring_eval.json").read_text())["testing_criteria"]]
    passing = by_id["prompt_eng.agent_system_prompt.advanced.overlay.016"]
    assert passing.status == "passed"
    others = [r for sid, r in by_id.items() if sid != passing.sample_id]
    for r in others:
        clarity = next(s for s in r.scores if s.name == "Clarity of Explanation")
        assert clarity.value == 1.0 and clarity.passed is False  # 1 < pass_threshold 2, as hosted
        assert r.status == "failed"


def test_imported_spec_is_plain_yaml_usable_by_name(tmp_path: Path) -> None:
    report = import_openai_eval(
        FIX / "tutoring_eval.json", tmp_path, data=FIX / "tutoring_items.jsonl", judge_model="local-small"
    )
    spec = yaml.safe_load((tmp_path / "spec.yaml").read_text())
    assert {g["name"] for g in spec["graders"]} == {"openai.grader"}
    assert all(g["config"]["judge_model"] == "local-small" for g in spec["graders"])
    assert (
        spec["graders"][0]["config"]["grader"]
        == json.loads((FIX / "tutoring_eval.json").read_text())["testing_criteria"][0]
    )  # the criterion JSON is kept verbatim
    assert report.items == 3 and report.solver == "recorded"
    first = json.loads((tmp_path / "dataset.jsonl").read_text().splitlines()[0])
    assert first["id"] == "prompt_eng.agent_system_prompt.advanced.overlay.016"  # the item's own *_id
    assert isinstance(first["metadata"]["regenerated_trajectory"], list)


def _eval(tmp_path: Path, criteria: list[dict[str, Any]], **extra: Any) -> Path:
    path = tmp_path / "eval.json"
    schema = {"type": "object", "properties": {"q": {"type": "string"}, "a": {"type": "string"}}, "required": ["q"]}
    path.write_text(
        json.dumps(
            {
                "name": "qa",
                "data_source_config": {"type": "custom", "item_schema": schema},
                "testing_criteria": criteria,
                **extra,
            }
        )
    )
    return path


STRING_CHECK = {
    "type": "string_check", "name": "exact", "input": "{{ sample.output_text }}", "reference": "{{ item.a }}",
    "operation": "eq",
}  # fmt: skip


def test_sample_namespace_becomes_recorded_outputs_and_runs(tmp_path: Path) -> None:
    rows = [
        {"item": {"q": "2+2", "a": "4"}, "sample": {"output_text": "4"}},
        {"item": {"q": "3+3", "a": "6"}, "sample": {"output_text": "five"}},
    ]
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = runner.invoke(app, ["import", "openai-eval", str(_eval(tmp_path, [STRING_CHECK])), "--data", str(data),
                                 "--out", str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 0, result.output
    run = runner.invoke(
        app, ["run", str(tmp_path / "out" / "spec.yaml"), "--no-progress", "--json", "--store", str(tmp_path / "s.db")]
    )
    payload = json.loads(run.stdout)
    assert payload["summary"]["overall"]["passed"] == 1 and payload["summary"]["overall"]["failed"] == 1


def test_inline_file_content_and_completions_source(tmp_path: Path) -> None:
    source = {
        "type": "completions",
        "model": "gpt-4o-mini",
        "input_messages": {"type": "template", "template": [
            {"role": "developer", "content": "Answer with a number."},
            {"role": "user", "content": "{{ item.q }}"},
        ]},
        "source": {"type": "file_content", "content": [{"item": {"q": "2+2", "a": "4"}}]},
        "sampling_params": {"temperature": 0.3, "max_completions_tokens": 20},
    }  # fmt: skip
    report = import_openai_eval(_eval(tmp_path, [STRING_CHECK], data_source=source), tmp_path / "o", model="local")
    spec = yaml.safe_load((tmp_path / "o" / "spec.yaml").read_text())
    assert spec["solver"]["type"] == "python" and spec["solver"]["model"] == "local"
    assert spec["solver"]["function"] == "evalwheel.integrations.openai_eval:completions_solver"
    assert spec["solver"]["options"]["input_messages"][0] == {"role": "system", "content": "Answer with a number."}
    assert spec["solver"]["temperature"] == 0.3 and spec["solver"]["max_tokens"] == 20
    assert report.items == 1


async def test_completions_solver_calls_the_target_model(tmp_path: Path) -> None:
    from evalwheel.integrations import completions_solver
    from evalwheel.models.http import OpenAIModel
    from evalwheel.solvers.base import SolverContext
    from evalwheel.types import Sample

    async with ScriptedJudge(["4"]) as srv:
        model = OpenAIModel("fake", srv.base_url, name="fake")
        try:
            ctx = SolverContext(model=model, config={"input_messages": [
                {"role": "system", "content": "Answer."}, {"role": "user", "content": "Q: {{ item.q }}"}]})  # fmt: skip
            output = await completions_solver(Sample(id="x", input="", metadata={"q": "2+2"}), ctx)
        finally:
            await model.aclose()
        sent = srv.bodies[0]["messages"]
    assert output.text == "4" and sent == [
        {"role": "system", "content": "Answer."},
        {"role": "user", "content": "Q: 2+2"},
    ]


@pytest.mark.parametrize(
    ("criteria", "extra", "match"),
    [
        ([{"type": "python", "name": "custom", "source": "def grade(s, i): return 1"}], {}, "does not execute code"),
        ([STRING_CHECK], {"data_source": {"type": "jsonl", "source": {"type": "file_id", "id": "file-1"}}},
         "download its JSONL"),
        ([STRING_CHECK], {"data_source": {"type": "jsonl", "source": {"type": "file_content",
                                                                      "content": [{"item": {"a": "x"}}]}}},
         "item 0: \\(item\\): 'q' is a required property"),
        ([{**STRING_CHECK, "operation": "regex"}], {}, "testing_criteria\\[0\\] \\('exact'\\)"),
        ([STRING_CHECK], {}, "no data"),
    ],
)  # fmt: skip
def test_refusals_name_the_cause(
    tmp_path: Path, criteria: list[dict[str, Any]], extra: dict[str, Any], match: str
) -> None:
    path = _eval(tmp_path, criteria, **extra)
    with pytest.raises(OpenAIImportError, match=match):
        import_openai_eval(path, tmp_path / "o")
    result = runner.invoke(app, ["import", "openai-eval", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2


def test_skip_unsupported_imports_the_rest(tmp_path: Path) -> None:
    criteria = [{"type": "python", "name": "custom", "source": "x"}, STRING_CHECK]
    source = {"type": "jsonl", "source": {"type": "file_content", "content": [{"item": {"q": "a", "a": "b"}}]}}
    report = import_openai_eval(_eval(tmp_path, criteria, data_source=source), tmp_path / "o", skip_unsupported=True)
    assert report.graders == ["exact"] and "custom" in report.skipped


@pytest.mark.slow
async def test_seed_eval_on_the_embedded_model(tmp_path: Path) -> None:
    """The same import on `local`: shapes and contracts only (the 1.5B judge's verdicts are near chance)."""
    out_dir = tmp_path / "tutoring"
    eval_def = json.loads((FIX / "tutoring_eval.json").read_text())
    # CI budget: the three "basic support" criteria, short verdicts (~20 s per judge call on 2 idle cores;
    # the full seven passed here too, 2026-12-02, but took 19 min on the shared machine)
    eval_def["testing_criteria"] = eval_def["testing_criteria"][:3]
    for criterion in eval_def["testing_criteria"]:
        criterion["sampling_params"] = {"max_completions_tokens": 96, "temperature": 0.0}
    (tmp_path / "eval.json").write_text(json.dumps(eval_def))
    code, _, stderr = await _cli("import", "openai-eval", str(tmp_path / "eval.json"), "--data",
                                 str(FIX / "tutoring_items.jsonl"), "--out", str(out_dir))  # fmt: skip
    assert code == 0, stderr
    code, stdout, stderr = await _cli("run", str(out_dir / "spec.yaml"), "--no-progress", "--limit", "1", "--json",
                                      "--store", str(tmp_path / "s.db"))  # fmt: skip
    assert code in (0, 1), stderr
    payload = json.loads(stdout)
    results = list(Store(tmp_path / "s.db").iter_results(payload["run_id"]))
    assert len(results) == 1 and len(results[0].scores) == 3
    for s in results[0].scores:
        assert s.passed is None or (s.value is not None and 0 <= s.value <= 10)
