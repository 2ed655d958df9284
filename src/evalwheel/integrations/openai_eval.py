"""Import a hosted OpenAI Evals definition (`evals.create` payload + a run's data source) as an evalwheel spec.

The hosted Evals API shut down on 2026-11-30. A team's eval lives on as three files in one folder:

- `spec.yaml`: one `openai.grader` per testing criterion (the criterion JSON kept verbatim under
  `config.grader`, so it stays readable and diffable against the original), and a solver: `recorded` for
  JSONL items (the `sample` namespace's `output_text`, or empty when the items carry none), or the
  `completions_solver` below when the data source asked a model to answer (`--model` picks which).
- `dataset.jsonl`: one sample per item; the item is the sample's `metadata`, so `{{ item.x }}` finds it.
- `recorded.jsonl` (recorded solver only) and `openai-eval.json` (the original definition, for provenance).

What cannot be run offline (python / endpoint graders, `file_id` sources, stored-completions sources) is an
`OpenAIImportError` naming the criterion or field and saying why, never a silently smaller eval.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.fileio import FileReadError, make_dir, read_text
from evalwheel.graders.openai_evals import OpenAIGraderError, content_text, import_openai_grader, render_template
from evalwheel.models.base import GenerateConfig, Message
from evalwheel.solvers.base import SolverContext
from evalwheel.types import Output, Sample

SOLVER_REF = "evalwheel.integrations.openai_eval:completions_solver"
WHY_NOT: dict[str, str] = {
    "python": (
        "python graders ran your code in OpenAI's sandbox; evalwheel does not execute code found in an imported "
        'JSON file. Port the function to a registered grader (`@grader("my.name")` in your own module) and add '
        "it to spec.yaml by name"
    ),
    "endpoint": "endpoint graders called a URL from OpenAI's servers; write a registered grader that calls it",
}


class OpenAIImportError(ValueError):
    """An eval definition or data source that cannot be imported; names the file, field and cause (exit 2)."""


class ImportReport(EvalwheelModel):
    """What `import_openai_eval` wrote and what it had to approximate or leave out."""

    name: str
    out_dir: str
    spec: str
    dataset: str
    items: int
    solver: str
    graders: list[str]
    approximations: dict[str, list[str]] = Field(default_factory=dict)
    skipped: dict[str, str] = Field(default_factory=dict)


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(read_text(path))
    except FileReadError as exc:  # missing, a directory, binary or not UTF-8: one message, never a traceback
        raise OpenAIImportError(f"{what}: {path}: {exc.cause}") from None
    except json.JSONDecodeError as exc:
        raise OpenAIImportError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno})") from None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    try:
        lines = read_text(path).splitlines()
    except FileReadError as exc:
        raise OpenAIImportError(f"data file: {path}: {exc.cause}") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise OpenAIImportError(f"{path}:{n}: not valid JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise OpenAIImportError(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    """`value` when it is a JSON object; else an OpenAIImportError naming the field and what it got instead.
    Why: a string or a list where the Evals API has an object was an AttributeError traceback (exit 1)."""
    if not isinstance(value, Mapping):
        raise OpenAIImportError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def _rows_from_source(source: Any, where: str) -> list[dict[str, Any]]:
    kind = _mapping(source, where).get("type")
    if kind == "file_content":
        content = source.get("content")
        if not isinstance(content, list):
            raise OpenAIImportError(f"{where}.content: expected a list of {{item, sample}} objects")
        return [dict(_mapping(r, f"{where}.content[{i}]")) for i, r in enumerate(content)]
    if kind == "file_id":
        raise OpenAIImportError(
            f"{where}: file_id {source.get('id')!r} refers to a file on OpenAI's servers; download its JSONL and "
            "pass it with --data FILE.jsonl"
        )
    raise OpenAIImportError(f"{where}.type: {kind!r} is not supported (file_content, or --data FILE.jsonl)")


def _data_source(eval_def: Mapping[str, Any], data: Path | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """(rows, completions settings or None) from --data (JSONL items, or a runs.create JSON) or the eval file."""
    source: Any = None
    where = "data_source"
    if data is not None and data.suffix.lower() in (".jsonl", ".ndjson"):  # `.JSONL` was read as one JSON
        return _read_jsonl(data), None
    if data is not None:
        loaded = _read_json(data, "data file")
        if not isinstance(loaded, dict):  # was "no data: pass --data ...", to someone who had passed --data
            raise OpenAIImportError(
                f"{data}: expected a runs.create JSON object with data_source (or items as .jsonl), "
                f"got {type(loaded).__name__}"
            )
        source = loaded.get("data_source", loaded)
        where = f"{data}: data_source"
    else:
        source = eval_def.get("data_source")
    if not isinstance(source, Mapping):
        raise OpenAIImportError(
            'no data: pass --data ITEMS.jsonl (lines of {"item": ...}) or a runs.create JSON with data_source'
        )
    kind = source.get("type")
    if kind == "jsonl":
        return _rows_from_source(source.get("source") or {}, f"{where}.source"), None
    if kind == "completions":
        rows = _rows_from_source(source.get("source") or {}, f"{where}.source")
        messages = _mapping(source.get("input_messages") or {}, f"{where}.input_messages")
        if messages.get("type") == "template":
            template = messages.get("template")
            if not isinstance(template, list) or not template:
                raise OpenAIImportError(f"{where}.input_messages.template: expected a list of messages")
            settings: dict[str, Any] = {"input_messages": [_message(m, where) for m in template]}
        elif messages.get("type") == "item_reference":
            settings = {"item_reference": str(messages.get("item_reference", ""))}
        else:
            raise OpenAIImportError(f"{where}.input_messages.type: expected template or item_reference")
        settings["model"] = source.get("model")
        settings["sampling_params"] = dict(_mapping(source.get("sampling_params") or {}, f"{where}.sampling_params"))
        return rows, settings
    raise OpenAIImportError(
        f"{where}.type: {kind!r} is not supported offline (jsonl or completions; stored completions live on "
        "OpenAI's servers: export them to JSONL first)"
    )


def _message(m: Any, where: str) -> dict[str, str]:
    try:  # the API returned contents as `{"type": "input_text", "text": ...}` parts: their text is the message
        content = content_text(m.get("content")) if isinstance(m, Mapping) else None
    except ValueError as exc:
        raise OpenAIImportError(f"{where}.input_messages.template: {exc}") from None
    if not isinstance(content, str):
        raise OpenAIImportError(f"{where}.input_messages.template: each message needs a role and a text content")
    role = str(m.get("role", "user"))
    return {"role": "system" if role == "developer" else role, "content": content}


def _validate_items(rows: list[dict[str, Any]], config: Mapping[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    """(item, sample-namespace) pairs, every item checked against the eval's item_schema."""
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
    from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]

    schema = config.get("item_schema") or {"type": "object"}
    try:  # a schema that is not one (a string, `"type": "nonsense"`) was a jsonschema traceback
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise OpenAIImportError(f"data_source_config.item_schema: not a valid JSON Schema: {exc.message}") from None
    validator = Draft202012Validator(schema)
    pairs: list[tuple[dict[str, Any], Any]] = []
    problems: list[str] = []
    for i, row in enumerate(rows):
        item = row.get("item", row)
        if not isinstance(item, dict):  # whatever the schema allows: `{{ item.x }}` needs an object
            problems.append(f"item {i}: (item): expected a JSON object, got {type(item).__name__}")
            continue
        for e in validator.iter_errors(item):
            field = ".".join(str(p) for p in e.absolute_path) or "(item)"
            problems.append(f"item {i}: {field}: {e.message}")
        sample = row.get("sample")  # was silently an empty (or a Python-repr) recorded output
        if sample is not None and not isinstance(sample, Mapping):
            problems.append(f"item {i}: sample: expected an object with output_text, got {type(sample).__name__}")
        elif sample is not None and not isinstance(sample.get("output_text", ""), str | None):
            problems.append(f"item {i}: sample.output_text: expected a string")
        pairs.append((item, sample))
    if problems:
        raise OpenAIImportError("items do not match data_source_config.item_schema:\n  " + "\n  ".join(problems[:30]))
    return pairs


def _sample_ids(items: list[dict[str, Any]], schema: Mapping[str, Any]) -> list[str]:
    """The item's own id when it has a unique one (`id`, else a required `*_id` string field), else item-N."""
    item_schema = schema.get("item_schema")
    props = (item_schema.get("properties") if isinstance(item_schema, Mapping) else None) or {}
    candidates = ["id", *[k for k in props if k.endswith("_id") and k != "id"]]
    for key in candidates:
        values = [it.get(key) for it in items]
        if all(isinstance(v, str) and v for v in values) and len(set(values)) == len(values):
            return [str(v) for v in values]
    return [f"item-{i:04d}" for i in range(len(items))]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "eval"


class _BlockDumper(yaml.SafeDumper):  # type: ignore[misc]
    """Multi-line prompts stay readable in spec.yaml (`|` blocks instead of quoted strings with \\n)."""


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_BlockDumper.add_representer(str, _str_presenter)


def _criteria(eval_def: Mapping[str, Any], judge_model: str, skip_unsupported: bool) -> tuple[
    list[dict[str, Any]], dict[str, list[str]], dict[str, str]
]:  # fmt: skip
    criteria = eval_def.get("testing_criteria")
    if not isinstance(criteria, list) or not criteria:
        raise OpenAIImportError("testing_criteria: expected a non-empty list of graders")
    graders: list[dict[str, Any]] = []
    notes: dict[str, list[str]] = {}
    skipped: dict[str, str] = {}
    given = {str(c.get("name") or c.get("type")) for c in criteria if isinstance(c, Mapping)}
    used: set[str] = set()
    for i, raw in enumerate(criteria):
        if not isinstance(raw, Mapping):
            raise OpenAIImportError(f"testing_criteria[{i}]: expected a grader object")
        kind = raw.get("type")
        name = str(raw.get("name") or kind)
        if kind in WHY_NOT:
            message = f"testing_criteria[{i}] ({name!r}): {kind} graders are not supported: {WHY_NOT[kind]}"
            if not skip_unsupported:
                raise OpenAIImportError(message + " (or pass --skip-unsupported to import the rest)")
            skipped[name] = WHY_NOT[kind]
            continue
        criterion = dict(raw)
        if name in used:  # score names must be unique in a run: Evals allowed repeats
            n = 2  # and never the name another criterion has ("x (2)" given twice made two scores of one name)
            while f"{name} ({n})" in used or f"{name} ({n})" in given:
                n += 1
            name = f"{name} ({n})"
            criterion["name"] = name
        used.add(name)
        try:
            spec = import_openai_grader(criterion)
        except OpenAIGraderError as exc:
            raise OpenAIImportError(f"testing_criteria[{i}] ({name!r}): {exc}") from None
        config: dict[str, Any] = {"grader": criterion}
        if _uses_model(spec.openai_type, criterion):
            config["judge_model"] = judge_model
        graders.append({"name": "openai.grader", "config": config, "gate_scores": [spec.name]})
        if spec.approximations:
            notes[spec.name] = spec.approximations
    return graders, notes, skipped


def _uses_model(kind: str, criterion: Mapping[str, Any]) -> bool:
    if kind in ("score_model", "label_model"):
        return True
    subs = criterion.get("graders") if kind == "multi" else None
    return isinstance(subs, Mapping) and any(
        isinstance(s, Mapping) and s.get("type") in ("score_model", "label_model") for s in subs.values()
    )


_HEADER = "# Written by `evalwheel import openai-eval`;"
_WRITES = ("spec.yaml", "dataset.jsonl", "recorded.jsonl", "openai-eval.json")


def _check_out_dir(out_dir: Path) -> None:
    """Refuse an --out folder holding files import writes, unless an earlier import wrote them (re-importing
    replaces its own output). Why: `--out examples/support` silently replaced that project's spec and dataset."""
    spec = out_dir / "spec.yaml"
    ours = spec.is_file() and read_text(spec, what="--out spec.yaml").startswith(_HEADER)
    clash = [name for name in _WRITES if (out_dir / name).exists()]
    if clash and not ours:
        raise OpenAIImportError(
            f"--out {out_dir}: it already holds {', '.join(clash)} not written by an earlier import, which would be "
            "replaced; import into a new folder"
        )


def import_openai_eval(
    eval_path: Path,
    out_dir: Path,
    *,
    data: Path | None = None,
    judge_model: str = "local",
    model: str | None = None,
    skip_unsupported: bool = False,
) -> ImportReport:
    """Convert EVAL.json (+ its data) into `out_dir/spec.yaml` and `out_dir/dataset.jsonl`."""
    eval_def = _read_json(eval_path, "eval definition")
    if not isinstance(eval_def, dict):
        raise OpenAIImportError(f"{eval_path}: expected the evals.create JSON object")
    where = f"{eval_path}: data_source_config"
    config = dict(_mapping(eval_def.get("data_source_config") or {"type": "custom"}, where))
    if config.get("type") not in ("custom", None):
        raise OpenAIImportError(
            f"{where}.type {config.get('type')!r}: only `custom` (an item_schema) can be "
            "run offline; logs and stored completions live on OpenAI's servers"
        )
    wrapped = config.get("schema", config.get("schema_"))
    if "item_schema" not in config and wrapped is not None:
        # The eval as the API returned it (GET /evals/{id}, an export): `item_schema` comes back wrapped as
        # `schema.properties.item` (`schema_` from the Python SDK's model_dump). It was ignored: no item was checked.
        props = _mapping(wrapped, f"{where}.schema").get("properties")
        if not isinstance(props, Mapping) or "item" not in props:
            raise OpenAIImportError(f"{where}.schema: expected properties.item (the item schema)")
        config["item_schema"] = props["item"]
    try:
        graders, notes, skipped = _criteria(eval_def, judge_model, skip_unsupported)
    except OpenAIImportError as exc:  # name the file: "testing_criteria[2]: ..." alone does not say which
        raise OpenAIImportError(f"{eval_path}: {exc}") from None
    rows, completions = _data_source(eval_def, data)
    pairs = _validate_items(rows, config)
    if not pairs:
        raise OpenAIImportError("the data source has no items")
    ids = _sample_ids([it for it, _ in pairs], config)
    name = str(eval_def.get("name") or eval_path.stem)
    _check_out_dir(out_dir)
    make_dir(out_dir, what="--out")
    samples = [
        Sample(id=sid, partition="distribution", input=json.dumps(item, ensure_ascii=False), metadata=item)
        for sid, (item, _) in zip(ids, pairs, strict=True)
    ]
    dataset = out_dir / "dataset.jsonl"
    dataset.write_text("".join(s.model_dump_json(exclude_defaults=True) + "\n" for s in samples), encoding="utf-8")
    solver: dict[str, Any]
    if completions is not None:
        params = completions.pop("sampling_params")
        original = completions.pop("model", None)
        if original:
            completions["original_model"] = original  # kept for reference; --model chooses what runs
        solver = {"type": "python", "function": SOLVER_REF, "model": model or "local", "options": completions}
        if params.get("temperature") is not None:
            solver["temperature"] = params["temperature"]
        # The completions source spells it max_completion_tokens (graders: max_completions_tokens); reading only
        # the grader spelling dropped the token limit of every real completions run.
        max_tokens = params.get("max_completion_tokens", params.get("max_completions_tokens"))
        if max_tokens is not None:
            solver["max_tokens"] = max_tokens
        if params.get("seed") is not None:
            solver["seed"] = params["seed"]
    else:
        recorded = out_dir / "recorded.jsonl"
        with recorded.open("w", encoding="utf-8") as fh:
            for sid, (_, sample_ns) in zip(ids, pairs, strict=True):
                text = sample_ns.get("output_text", "") if isinstance(sample_ns, Mapping) else ""
                fh.write(json.dumps({"id": sid, "output": str(text or "")}, ensure_ascii=False) + "\n")
        solver = {"type": "recorded", "path": "recorded.jsonl"}
    spec = {
        "name": _slug(name),
        "description": f"Imported from the OpenAI Evals definition {eval_path.name!r} ({name}).",
        "dataset": {"path": "dataset.jsonl"},
        "solver": solver,
        "graders": graders,
        "concurrency": 4,
    }
    (out_dir / "openai-eval.json").write_text(json.dumps(eval_def, indent=2, ensure_ascii=False) + "\n", "utf-8")
    spec_path = out_dir / "spec.yaml"
    header = _HEADER + " each criterion's JSON is verbatim under config.grader.\n"
    spec_path.write_text(
        header + yaml.dump(spec, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=110), "utf-8"
    )
    return ImportReport(
        name=name, out_dir=str(out_dir), spec=str(spec_path), dataset=str(dataset), items=len(samples),
        solver=solver["type"] if completions is None else "completions (python solver)",
        graders=[g["gate_scores"][0] for g in graders], approximations=notes, skipped=skipped,
    )  # fmt: skip


async def completions_solver(sample: Sample, ctx: SolverContext) -> Output:
    """The `completions` data source: render the input messages from the item and ask the target model once."""
    if ctx.model is None:
        raise ValueError("the completions solver needs solver.model")
    c = ctx.config
    if "item_reference" in c:
        path = str(c["item_reference"]).removeprefix("item.")
        raw: Any = sample.metadata
        for part in path.split("."):
            raw = raw[part] if isinstance(raw, Mapping) and part in raw else None
        if not isinstance(raw, list):
            raise ValueError(f"item_reference {c['item_reference']!r}: sample {sample.id!r} has no message list there")
        templates = [_message(m, "item_reference") for m in raw]
    else:
        templates = c["input_messages"]
    empty = Output(text="")
    messages = [Message(role=m["role"], content=render_template(m["content"], sample, empty)) for m in templates]
    cfg = GenerateConfig(
        temperature=c.get("temperature", 0.0), max_tokens=c.get("max_tokens", 512), seed=c.get("seed", 0),
        epoch=c.get("epoch", 0),
    )  # fmt: skip
    completion = await ctx.model.generate(messages, cfg)
    return Output(
        text=completion.text, usage=completion.usage, latency_ms=completion.latency_ms, cached=completion.cached
    )
