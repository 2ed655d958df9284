"""Audit of the integrations as a hostile user: `evalwheel import openai-eval` fed wrong JSON types and what real
OpenAI Evals exports look like (the retrieved eval object: `data_source_config.schema`, message contents as
`input_text` parts, `null` optional fields; `completions` sampling params), and the pytest plugin when the spec's
run cannot start (a bad store or baseline)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from evalwheel.cli import app

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from scripted_judge import ScriptedJudge  # noqa: E402

runner = CliRunner()

STRING_CHECK = {
    "type": "string_check", "name": "exact", "input": "{{ sample.output_text }}", "reference": "{{ item.a }}",
    "operation": "eq",
}  # fmt: skip
ROWS = {"type": "file_content", "content": [{"item": {"q": "2+2", "a": "4"}, "sample": {"output_text": "4"}}]}


def _import(tmp_path: Path, eval_def: Any, *extra: str) -> Any:
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(eval_def))
    return runner.invoke(app, ["import", "openai-eval", str(path), "--out", str(tmp_path / "out"), *extra])


# ------------------------------------------------------------------------------------------- wrong JSON types

WRONG_TYPES: dict[str, tuple[dict[str, Any], str]] = {
    "data_source_config is a string": (
        {
            "data_source_config": "custom",
            "testing_criteria": [STRING_CHECK],
            "data_source": {"type": "jsonl", "source": ROWS},
        },
        "data_source_config",
    ),
    "item_schema is a string": (
        {
            "data_source_config": {"type": "custom", "item_schema": "nope"},
            "testing_criteria": [STRING_CHECK],
            "data_source": {"type": "jsonl", "source": ROWS},
        },
        "item_schema",
    ),
    "item_schema is not a JSON Schema": (
        {
            "data_source_config": {"type": "custom", "item_schema": {"type": "nonsense"}},
            "testing_criteria": [STRING_CHECK],
            "data_source": {"type": "jsonl", "source": ROWS},
        },
        "item_schema",
    ),
    "source is a string": (
        {"testing_criteria": [STRING_CHECK], "data_source": {"type": "jsonl", "source": "items.jsonl"}},
        "data_source.source",
    ),
    "content rows are not objects": (
        {
            "testing_criteria": [STRING_CHECK],
            "data_source": {"type": "jsonl", "source": {"type": "file_content", "content": ["a", 3]}},
        },
        "content[0]",
    ),
    "input_messages is a list": (
        {
            "testing_criteria": [STRING_CHECK],
            "data_source": {"type": "completions", "source": ROWS, "input_messages": ["hi"]},
        },
        "input_messages",
    ),
    "sampling_params is a string": (
        {
            "testing_criteria": [STRING_CHECK],
            "data_source": {
                "type": "completions",
                "source": ROWS,
                "sampling_params": "hot",
                "input_messages": {"type": "template", "template": [{"role": "user", "content": "q"}]},
            },
        },
        "sampling_params",
    ),
    "sample namespace is a string": (
        {
            "testing_criteria": [STRING_CHECK],
            "data_source": {
                "type": "jsonl",
                "source": {"type": "file_content", "content": [{"item": {"q": "1"}, "sample": "4"}]},
            },
        },
        "sample",
    ),
    "sample.output_text is an object": (
        {
            "testing_criteria": [STRING_CHECK],
            "data_source": {
                "type": "jsonl",
                "source": {
                    "type": "file_content",
                    "content": [{"item": {"q": "1"}, "sample": {"output_text": {"a": 1}}}],
                },
            },
        },
        "output_text",
    ),
}


@pytest.mark.parametrize("case", list(WRONG_TYPES))
def test_import_wrong_json_types_are_one_line_errors(tmp_path: Path, case: str) -> None:
    """Each of these was a Python traceback (exit 1), or (the sample namespace) silently became an empty or
    Python-repr recorded output."""
    eval_def, field = WRONG_TYPES[case]
    result = _import(tmp_path, eval_def)
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert field in result.output
    assert not (tmp_path / "out").exists()  # nothing half-written


# ------------------------------------------------------------------------------------------- real exports

LABEL_GRADER = {
    "name": "Example label grader",
    "type": "label_model",
    "model": "o3-mini",
    "input": [
        {"type": "message", "role": "developer",
         "content": {"type": "input_text", "text": "Classify the sentiment as positive, neutral or negative"}},
        {"type": "message", "role": "user", "content": {"type": "input_text", "text": "Statement: {{item.input}}"}},
    ],
    "passing_labels": ["positive"],
    "labels": ["positive", "neutral", "negative"],
}  # fmt: skip


def _retrieved_eval(criteria: list[dict[str, Any]]) -> dict[str, Any]:
    """An eval as GET /evals/{id} returned it: the item schema wrapped in `schema.properties.item`."""
    item = {"type": "object", "properties": {"ticket_id": {"type": "string"}, "input": {"type": "string"}},
            "required": ["ticket_id", "input"]}  # fmt: skip
    return {
        "object": "eval", "id": "eval_67b7fa9a81a88190ab4aa417e397ea21", "name": "Sentiment",
        "created_at": 1740110490, "metadata": {}, "share_with_openai": False,
        "data_source_config": {"type": "custom", "schema": {
            "type": "object", "properties": {"item": item, "sample": {"type": "object"}}, "required": ["item"]}},
        "testing_criteria": criteria,
    }  # fmt: skip


def _items(tmp_path: Path, items: list[dict[str, Any]]) -> Path:
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps({"item": it, "sample": {"output_text": "positive"}}) + "\n" for it in items))
    return data


async def _cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evalwheel.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ),
    )  # fmt: skip
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_retrieved_eval_with_input_text_parts_imports_and_the_judge_sees_the_text(tmp_path: Path) -> None:
    """Message contents came back from the Evals API as `{"type": "input_text", "text": ...}` parts: the import
    refused them ("Input should be a valid string"), so no exported model grader could be brought home."""
    eval_path = tmp_path / "eval.json"
    eval_path.write_text(json.dumps(_retrieved_eval([LABEL_GRADER])))
    data = _items(tmp_path, [{"ticket_id": "t-1", "input": "I love it"}, {"ticket_id": "t-2", "input": "meh"}])
    out = tmp_path / "out"
    async with ScriptedJudge(fn=lambda body: json.dumps({"reason": "scripted", "label": "positive"})) as srv:
        code, stdout, stderr = await _cli(
            "import", "openai-eval", str(eval_path), "--data", str(data), "--out", str(out),
            "--judge-model", f"{srv.base_url}#judge",
        )  # fmt: skip
        assert code == 0, stderr
        assert "2 items, 1 graders" in stdout
        code, stdout, stderr = await _cli(
            "run", str(out / "spec.yaml"), "--no-progress", "--no-cache", "--store", str(tmp_path / "r.sqlite")
        )
        bodies = [b for b in srv.bodies if b["messages"] != [{"role": "user", "content": "ping"}]]
    assert code == 0, stderr + stdout
    assert len(bodies) == 2
    seen = [b["messages"][1:] for b in bodies]  # after the reply-format system line
    assert seen[0] == [
        {"role": "system", "content": "Classify the sentiment as positive, neutral or negative"},
        {"role": "user", "content": "Statement: I love it"},
    ]
    # the criterion JSON is still kept verbatim in spec.yaml
    spec = yaml.safe_load((out / "spec.yaml").read_text())
    assert spec["graders"][0]["config"]["grader"] == LABEL_GRADER


def test_image_content_parts_are_refused_by_name(tmp_path: Path) -> None:
    grader = json.loads(json.dumps(LABEL_GRADER))
    grader["input"][1]["content"] = {"type": "input_image", "image_url": "https://example.com/x.png"}
    eval_path = tmp_path / "eval.json"
    eval_path.write_text(json.dumps(_retrieved_eval([grader])))
    data = _items(tmp_path, [{"ticket_id": "t-1", "input": "x"}])
    result = runner.invoke(
        app, ["import", "openai-eval", str(eval_path), "--data", str(data), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2, result.output
    assert "input_image" in result.output and "input.1.content" in result.output


def test_retrieved_eval_schema_validates_items_and_names_ids(tmp_path: Path) -> None:
    """`data_source_config.schema` (the retrieved form) was ignored: items were not validated at all (a number
    where the schema says string was imported) and the item's own `ticket_id` was not used as the sample id."""
    eval_path = tmp_path / "eval.json"
    eval_path.write_text(json.dumps(_retrieved_eval([STRING_CHECK])))
    bad = _items(tmp_path, [{"ticket_id": "t-1", "input": 5}])
    result = runner.invoke(
        app, ["import", "openai-eval", str(eval_path), "--data", str(bad), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2, result.output
    assert "item 0: input: 5 is not of type 'string'" in result.output
    good = _items(tmp_path, [{"ticket_id": "t-1", "input": "a"}, {"ticket_id": "t-2", "input": "b"}])
    result = runner.invoke(
        app, ["import", "openai-eval", str(eval_path), "--data", str(good), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    ids = [json.loads(line)["id"] for line in (tmp_path / "o" / "dataset.jsonl").read_text().splitlines()]
    assert ids == ["t-1", "t-2"]


def test_null_optional_fields_mean_not_given(tmp_path: Path) -> None:
    """An export with every optional field written out as null (`"range": null`) was refused."""
    score = {
        "type": "score_model", "name": "s", "model": "o3-mini", "range": None, "pass_threshold": None,
        "sampling_params": None, "input": [{"role": "user", "content": "{{ sample.output_text }}", "type": None}],
    }  # fmt: skip
    result = _import(tmp_path, {"testing_criteria": [score], "data_source": {"type": "jsonl", "source": ROWS}})
    assert result.exit_code == 0, result.output
    assert "no pass_threshold" in result.output  # the range defaulted to [0, 1], as on the hosted service


def test_completions_max_completion_tokens_is_kept(tmp_path: Path) -> None:
    """The completions data source spells it `max_completion_tokens` (graders: `max_completions_tokens`); the
    import read only the grader spelling, so the token limit of every real completions run was dropped."""
    source = {
        "type": "completions", "source": ROWS, "model": "gpt-4o-mini",
        "input_messages": {"type": "template", "template": [{"role": "user", "content": "{{ item.q }}"}]},
        "sampling_params": {"temperature": 0.2, "max_completion_tokens": 77, "seed": 3},
    }  # fmt: skip
    result = _import(tmp_path, {"testing_criteria": [STRING_CHECK], "data_source": source})
    assert result.exit_code == 0, result.output
    solver = yaml.safe_load((tmp_path / "out" / "spec.yaml").read_text())["solver"]
    assert (solver["max_tokens"], solver["temperature"], solver["seed"]) == (77, 0.2, 3)


def test_completions_template_with_input_text_parts(tmp_path: Path) -> None:
    source = {
        "type": "completions", "source": ROWS,
        "input_messages": {"type": "template", "template": [
            {"type": "message", "role": "user", "content": {"type": "input_text", "text": "{{ item.q }}"}}]},
    }  # fmt: skip
    result = _import(tmp_path, {"testing_criteria": [STRING_CHECK], "data_source": source})
    assert result.exit_code == 0, result.output
    solver = yaml.safe_load((tmp_path / "out" / "spec.yaml").read_text())["solver"]
    assert solver["options"]["input_messages"] == [{"role": "user", "content": "{{ item.q }}"}]


# ------------------------------------------------------------------------------------------- pytest plugin


@pytest.fixture
def _inner_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


@pytest.mark.usefixtures("_inner_ini")
@pytest.mark.parametrize("option", [["--evalwheel-baseline", "nosuchrun"], ["--evalwheel-store", "DIR"]])
def test_spec_run_that_cannot_start_fails_each_test_in_one_line(pytester: pytest.Pytester, option: list[str]) -> None:
    """A bad baseline or store failed every sample and gate test with the whole traceback (tens of thousands of
    lines for a small spec), the cause buried in it."""
    (pytester.path / "data.jsonl").write_text(
        json.dumps({"id": "g1", "partition": "golden", "input": "capital?", "reference": "Paris"}) + "\n"
    )
    (pytester.path / "rec.jsonl").write_text(json.dumps({"id": "g1", "output": "Paris"}) + "\n")
    spec = pytester.path / "spec.yaml"
    spec.write_text("name: capitals\ndataset: data.jsonl\nsolver: {type: recorded, path: rec.jsonl}\n"
                    "graders:\n  - name: contains\n")  # fmt: skip
    args = [str(pytester.path) if a == "DIR" else a for a in option]
    if option[0] == "--evalwheel-baseline":
        args += ["--evalwheel-store", str(pytester.path / "r.sqlite")]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--evalwheel-spec", str(spec), *args)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 2 and "passed" not in outcomes
    text = result.stdout.str()
    assert "Traceback" not in text and "sqlalchemy" not in text
    cause = "no run 'nosuchrun'" if option[0] == "--evalwheel-baseline" else "a directory, not a SQLite file"
    assert text.count(cause) >= 2
    assert len(text.splitlines()) < 80


def test_repeated_criterion_names_stay_unique(tmp_path: Path) -> None:
    """A repeated name was renamed "x (2)" even when a criterion already had that name: two scores of one name."""
    renamed = dict(STRING_CHECK, name="exact (2)")
    eval_def = {
        "testing_criteria": [STRING_CHECK, STRING_CHECK, renamed],
        "data_source": {"type": "jsonl", "source": ROWS},
    }
    result = _import(tmp_path, eval_def, "--json")
    assert result.exit_code == 0, result.output
    names = json.loads(result.output)["graders"]
    assert len(set(names)) == 3, names


@pytest.mark.parametrize("suffix", [".JSONL", ".ndjson"])
def test_jsonl_data_under_other_suffixes(tmp_path: Path, suffix: str) -> None:
    """`--data items.JSONL` was read as one JSON document: "not valid JSON: Extra data (line 2)"."""
    data = tmp_path / f"items{suffix}"
    data.write_text("".join(json.dumps({"item": {"q": q, "a": q}}) + "\n" for q in ("1", "2")))
    result = _import(tmp_path, {"testing_criteria": [STRING_CHECK]}, "--data", str(data))
    assert result.exit_code == 0, result.output
    assert "2 items" in result.output


# ------------------------------------------------------------------------------------------- init


def test_init_workflow_comment_names_what_to_change(tmp_path: Path) -> None:
    """The scaffolded workflow said "Set EVALWHEEL_ACTION to the evalwheel repository": there is no such variable
    anywhere (the action is the `uses:` line, which `--action` fills in)."""
    result = runner.invoke(app, ["init", str(tmp_path / "p"), "--action", "acme/evalwheel@v1"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "p" / ".github/workflows/evalwheel.yml").read_text()
    assert "EVALWHEEL_ACTION" not in text
    assert "--action" in text and "uses: acme/evalwheel@v1" in text
