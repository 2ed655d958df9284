"""Sample datasets: formats, error messages naming line / item / field, input_file sessions, content hashes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalwheel.datasets.samples import (
    InvalidDatasetError,
    dataset_version_hash,
    iter_hashed_samples,
    iter_samples,
    load_dataset,
    sample_hash,
    save_dataset,
    scan_dataset,
    short_hash,
)
from evalwheel.types import Sample, Session

DATA = Path(__file__).parent / "data" / "datasets"
IDS = {"refund-window", "slicing-session", "refund-typo", "ignore-instructions", "shipping-eu"}


def write_lines(path: Path, *objs: object | str) -> Path:
    """Write a JSONL file; str items are written verbatim (for comments and broken lines)."""
    path.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs), encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(InvalidDatasetError) as info:
        load_dataset(path)
    return [str(e) for e in info.value.errors]


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    shutil.copytree(DATA, tmp_path / "ds")
    return tmp_path / "ds"


def test_jsonl_fixture_loads_with_partitions_and_session_input() -> None:
    ds = load_dataset(DATA / "mixed.jsonl")
    assert {s.id for s in ds.samples} == IDS
    assert ds.counts == {"golden": 2, "regression": 1, "adversarial": 1, "distribution": 1}
    assert [s.id for s in ds.by_partition()["golden"]] == ["refund-window", "slicing-session"]
    assert set(ds.golden) == {"refund-window", "slicing-session"}
    session = next(s for s in ds.samples if s.id == "slicing-session").input
    assert isinstance(session, Session) and session.session_id == "fixture.slicing.001"
    assert len(session.trajectory) == 4
    first = ds.samples[0]
    assert first.metadata == {"source": "faq", "difficulty": 1} and first.tags == ["returns"]
    assert all(len(h) == 64 for h in ds.sample_hashes.values())
    assert ds.version_hash == dataset_version_hash(ds.sample_hashes)
    assert ds.short_version == ds.version_hash[:16] == short_hash(ds.version_hash)
    assert ds.sample_hashes["refund-window"] == sample_hash(first)


def test_yaml_and_jsonl_give_identical_hashes() -> None:
    a = load_dataset(DATA / "mixed.jsonl")
    b = load_dataset(DATA / "mixed.yaml")
    assert b.name == "mixed fixture" and a.name is None
    assert a.sample_hashes == b.sample_hashes  # order, explicit defaults and key order do not matter
    assert a.version_hash == b.version_hash


def test_json_list_form_matches(tmp_path: Path) -> None:
    ds = load_dataset(DATA / "mixed.jsonl")
    records = [s.model_dump(mode="json") for s in ds.samples]
    (tmp_path / "same.json").write_text(json.dumps(records[::-1], indent=2), encoding="utf-8")
    assert load_dataset(tmp_path / "same.json").version_hash == ds.version_hash


def test_hash_follows_content_not_form() -> None:
    base = Sample(id="x", input="q", reference="a")
    explicit = Sample.model_validate({"id": "x", "partition": "golden", "input": "q", "reference": "a", "tags": []})
    assert sample_hash(base) == sample_hash(explicit)
    assert sample_hash(base) != sample_hash(base.model_copy(update={"reference": "b"}))
    assert sample_hash(base) != sample_hash(base.model_copy(update={"partition": "regression"}))
    # the version hash ignores order but not content
    assert dataset_version_hash({"a": "1", "b": "2"}) == dataset_version_hash({"b": "2", "a": "1"})
    assert dataset_version_hash({"a": "1", "b": "2"}) != dataset_version_hash({"a": "1", "b": "3"})


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "dup.jsonl",
        {"id": "a", "input": "one"},
        "",
        {"id": "b", "input": "two"},
        {"id": "a", "input": "three"},
    )
    errors = errors_of(path)
    assert errors == [f"{path}: line 4: $.id: duplicate id 'a' (first at line 1)"]


def test_every_bad_line_is_reported_at_once(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "bad.jsonl",
        "// a comment line is skipped, but still counts for line numbers",
        {"id": "ok-1", "input": "fine"},
        '{"id": "broken", "input": ',
        {"id": "p", "partition": "gold", "input": "x"},
        {"id": "ok-2", "input": "fine"},
        '["not", "an", "object"]',
        {"id": "t", "input": 5},
        {"id": "u", "input": "x", "expected": "y"},
    )
    errors = errors_of(path)
    assert len(errors) == 5
    assert errors[0].startswith(f"{path}: line 3: $: invalid JSON:")
    assert errors[1] == (
        f"{path}: line 4: $.partition: Input should be 'golden', 'regression', 'adversarial' or 'distribution'"
        " (got 'gold')"
    )
    assert errors[2] == f"{path}: line 6: $: expected a sample object, got list"
    assert errors[3] == f"{path}: line 7: $.input: expected a string, a list of turns or a session object (got 5)"
    assert errors[4].startswith(f"{path}: line 8: $.expected: unknown field")


def test_nested_session_error_names_the_session_field(tmp_path: Path) -> None:
    bad_session = {"session_id": "s", "domain": "d", "prompt": "p", "trajectory": [{"role": "bot", "content": "c"}]}
    path = write_lines(tmp_path / "nested.jsonl", {"id": "s", "input": bad_session})
    [error] = errors_of(path)
    assert (
        error
        == f"{path}: line 1: $.input.trajectory[0].role: Input should be 'user', 'assistant' or 'system' (got 'bot')"
    )


def test_yaml_errors_name_item_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("- id: a\n  input: x\n- id: b\n  partition: nope\n  input: y\n", encoding="utf-8")
    [error] = errors_of(path)
    assert error.startswith(f"{path}: item 1 (line 3): $.partition: Input should be")
    path.write_text("samples:\n  - id: a\n    input: [unclosed\n", encoding="utf-8")
    [error] = errors_of(path)
    assert error.startswith(f"{path}: $: invalid YAML:") and "line" in error
    path.write_text("sample: []\n", encoding="utf-8")
    [error] = errors_of(path)
    assert error.startswith(f"{path}: $.sample: unknown top-level key")


def test_file_level_errors(tmp_path: Path) -> None:
    assert errors_of(tmp_path / "nope.jsonl") == [f"{tmp_path / 'nope.jsonl'}: $: file does not exist"]
    (tmp_path / "data.csv").write_text("id,input\n", encoding="utf-8")
    [error] = errors_of(tmp_path / "data.csv")
    assert "unsupported file type '.csv'" in error


def test_input_file_hash_tracks_the_session_file(data_copy: Path) -> None:
    before = load_dataset(data_copy / "mixed.jsonl")
    session_file = data_copy / "sessions" / "slicing.json"
    data = json.loads(session_file.read_text(encoding="utf-8"))
    # re-indenting the session file changes bytes but not content: same hash
    session_file.write_text(json.dumps(data, indent=8), encoding="utf-8")
    assert load_dataset(data_copy / "mixed.jsonl").sample_hashes == before.sample_hashes
    data["trajectory"][1]["content"] = "xs[-2:] gives the last two."
    session_file.write_text(json.dumps(data), encoding="utf-8")
    after = load_dataset(data_copy / "mixed.jsonl")
    changed = {i for i in IDS if after.sample_hashes[i] != before.sample_hashes[i]}
    assert changed == {"slicing-session"}
    assert after.version_hash != before.version_hash
    # the YAML dataset points at the same session file, so it follows too
    assert load_dataset(data_copy / "mixed.yaml").sample_hashes == after.sample_hashes


def test_input_file_errors_name_dataset_line_and_session_file(data_copy: Path) -> None:
    session_file = data_copy / "sessions" / "slicing.json"
    data = json.loads(session_file.read_text(encoding="utf-8"))
    data["trajectory"][2]["role"] = "learner"
    session_file.write_text(json.dumps(data), encoding="utf-8")
    errors = errors_of(data_copy / "mixed.jsonl")
    assert len(errors) == 1
    assert errors[0].startswith(
        f"{data_copy / 'mixed.jsonl'}: line 3: $.input_file: {session_file}: $.trajectory[2].role:"
    )
    path = write_lines(
        data_copy / "more.jsonl",
        {"id": "m", "input_file": "sessions/missing.json"},
        {"id": "both", "input": "x", "input_file": "sessions/slicing.json"},
    )
    errors = errors_of(path)
    assert (
        errors[0]
        == f"{path}: line 1: $.input_file: session file {data_copy / 'sessions' / 'missing.json'} does not exist"
    )
    assert errors[1] == f"{path}: line 2: $.input_file: give either input or input_file, not both"


def test_iter_samples_streams_then_raises(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "s.jsonl", {"id": "a", "input": "1"}, {"id": "b", "input": "2"}, "{oops")
    stream = iter_samples(path)
    assert next(stream).id == "a"  # lazily yielded before the rest of the file is read
    assert next(stream).id == "b"
    with pytest.raises(InvalidDatasetError, match="line 3"):
        next(stream)
    with pytest.raises(InvalidDatasetError):  # scan_dataset validates the whole file up front
        scan_dataset(path)


def test_scan_matches_load_and_hashed_stream() -> None:
    summary = scan_dataset(DATA / "mixed.jsonl")
    loaded = load_dataset(DATA / "mixed.jsonl")
    assert summary.version_hash == loaded.version_hash and summary.counts == loaded.counts
    hashed = {h.sample.id: (h.hash, h.where) for h in iter_hashed_samples(DATA / "mixed.jsonl")}
    assert {k: v[0] for k, v in hashed.items()} == summary.sample_hashes
    assert hashed["slicing-session"][1] == "line 3"


def test_save_round_trip_and_append(tmp_path: Path) -> None:
    ds = load_dataset(DATA / "mixed.jsonl")
    out = tmp_path / "saved" / "copy.jsonl"
    assert save_dataset(ds.samples, out) == 5
    again = load_dataset(out)
    assert again.sample_hashes == ds.sample_hashes
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert list(first)[:2] == ["id", "partition"] and "input_file" not in out.read_text(encoding="utf-8")
    new = Sample(id="refund-late", partition="regression", input="I am past 30 days", tags=["from-prod"])
    assert save_dataset([new], out, append=True) == 1
    appended = load_dataset(out)
    assert appended.counts["regression"] == 2 and appended.sample_hashes["refund-late"] == sample_hash(new)
    with pytest.raises(ValueError, match="'refund-late' already exists at line 6"):
        save_dataset([new], out, append=True)
    with pytest.raises(ValueError, match="duplicate id 'z'"):
        save_dataset([Sample(id="z", input="1"), Sample(id="z", input="2")], tmp_path / "z.jsonl")
    assert not (tmp_path / "z.jsonl").exists()


def test_append_to_file_without_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": "a", "input": "x"}', encoding="utf-8")
    save_dataset([Sample(id="b", input="y")], path, append=True)
    assert [s.id for s in iter_samples(path)] == ["a", "b"]
