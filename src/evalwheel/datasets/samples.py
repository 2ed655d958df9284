"""Partitioned sample datasets (JSONL / YAML / JSON) with content hashes.

A dataset is a file of `Sample`s. Formats:

- `.jsonl`: one sample object per line. Blank lines and lines whose first non-blank characters are `//`
  are skipped, so a hand-curated file can carry comments; `save_dataset` never writes them, so files it
  produces stay plain JSONL for other tools. Line numbers in errors are physical (1-based) lines.
- `.yaml` / `.yml` / `.json`: a list of samples, or a mapping `{samples: [...], name?, description?}`.
  Errors name the item by 0-based index (as in `$[3]`) plus its line for YAML.

A sample may give `input_file: "relative/path.json"` instead of `input`: the Study Mode session in that
file (relative to the dataset file) becomes the sample's `input`, so long transcripts need not be inlined.

Hashes are over meaning, not bytes: a sample's hash is sha256 of the canonical JSON (sorted keys, no
whitespace, defaults filled in, `input_file` replaced by the loaded session) of the validated sample. So
re-indenting a session file or spelling out `"tags": []` changes nothing, while any edit to what a grader
would see (including the referenced session file) changes the hash. The dataset version hash is sha256 over
the sorted (id, hash) pairs, so it ignores sample order.

Everything streams: `iter_samples` / `scan_dataset` read a JSONL file line by line and keep only ids,
positions and hashes, so a run over a large dataset keeps memory flat (YAML / JSON files are parsed whole;
they are meant for small hand-curated sets). Every bad line is collected and reported together in one
`InvalidDatasetError` rather than one crash per fix.

Beyond the `Sample` schema, `datasets.checks` holds the rules for the raw text (strict JSON without NaN /
Infinity, no lone surrogates, printable ids that stay distinct after Unicode normalisation), and
`metadata.human_label`, which the cost model reads, must be true, false or absent.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import ConfigDict, Field, ValidationError

from evalwheel.basemodel import EvalwheelModel
from evalwheel.datasets.checks import (
    NotJSONError,
    duplicate_cause,
    id_key,
    id_problem,
    loads_strict,
    lone_surrogate,
    surrogate_cause,
)
from evalwheel.datasets.sessions import SessionLoadError, json_path, load_session_file
from evalwheel.fileio import FileReadError, check_text_file, confined, parse_error_text, read_text, write_text_atomic
from evalwheel.types import Partition, Sample

PARTITIONS: tuple[Partition, ...] = get_args(Partition)
DATASET_SUFFIXES = (".jsonl", ".yaml", ".yml", ".json")
SHORT = 16
_MAX_LISTED = 30  # errors spelled out in an InvalidDatasetError message; `.errors` always has them all
_HEADER_KEYS = {"samples", "name", "description"}
_UNION_FIELDS = {
    "input": "a string, a list of turns or a session object",
    "context": "a string, a list of strings or null",
}


class DatasetLoadError(ValueError):
    """One unusable sample or file; the message names file, position, field path and cause.

    `where` is `line N` (JSONL), `item I (line N)` (YAML) or `item I` (JSON); empty for file-level errors.
    """

    def __init__(self, path: Path | str, where: str, field: str, cause: str) -> None:
        self.path = str(path)
        self.where = where
        self.field = field
        self.cause = cause
        parts = [self.path, where, field, cause] if where else [self.path, field, cause]
        super().__init__(": ".join(parts))

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "where": self.where, "field": self.field, "cause": self.cause}


class InvalidDatasetError(ValueError):
    """Every problem found in a dataset file, raised once after the whole file was read."""

    def __init__(self, path: Path | str, errors: list[DatasetLoadError]) -> None:
        self.path = str(path)
        self.errors = errors
        shown = "\n".join(f"  {e}" for e in errors[:_MAX_LISTED])
        more = f"\n  ... and {len(errors) - _MAX_LISTED} more" if len(errors) > _MAX_LISTED else ""
        super().__init__(f"{self.path}: {len(errors)} problem(s):\n{shown}{more}")


@dataclass(frozen=True)
class HashedSample:
    """A validated sample with its content hash and where it came from (for messages)."""

    sample: Sample
    hash: str
    where: str


class DatasetSummary(EvalwheelModel):
    """What a streaming pass learns about a dataset without keeping its samples: enough to lock and verify."""

    model_config = ConfigDict(extra="forbid")

    path: str
    name: str | None = None
    description: str | None = None
    version_hash: str
    sample_hashes: dict[str, str]
    golden: dict[str, str] = Field(default_factory=dict, description="golden sample id -> hash")
    counts: dict[str, int]

    @property
    def short_version(self) -> str:
        return short_hash(self.version_hash)

    @property
    def total(self) -> int:
        return len(self.sample_hashes)


class Dataset(DatasetSummary):
    """A dataset held in memory; use `iter_samples` instead when it is large."""

    samples: list[Sample]

    def by_partition(self) -> dict[Partition, list[Sample]]:
        out: dict[Partition, list[Sample]] = {p: [] for p in PARTITIONS}
        for s in self.samples:
            out[s.partition].append(s)
        return out

    def partition(self, name: Partition) -> list[Sample]:
        return [s for s in self.samples if s.partition == name]


# --- hashing -------------------------------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    """The one serialisation every hash is taken over: sorted keys, no whitespace, UTF-8 kept."""
    return _CANONICAL_ENCODER.encode(value)


# One encoder for every hash: json.dumps with non-default options would build a new one per call.
_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sample_hash(sample: Sample) -> str:
    """Full sha256 hex of a validated sample (with any `input_file` already resolved into `input`)."""
    return hashlib.sha256(canonical_json(sample.model_dump(mode="json")).encode("utf-8")).hexdigest()


def dataset_version_hash(sample_hashes: Mapping[str, str]) -> str:
    """sha256 over the sorted (id, hash) pairs: order-independent, changes when any sample does."""
    pairs = sorted(sample_hashes.items())
    return hashlib.sha256(canonical_json(pairs).encode("utf-8")).hexdigest()


def short_hash(full: str) -> str:
    """The first 16 hex digits, for display; locks and stores keep the full hash."""
    return full[:SHORT]


# --- reading raw items ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bad:
    """A line that could not even be decoded; carried through the item stream so it is reported in order."""

    field: str
    cause: str


@dataclass
class _Source:
    name: str | None
    description: str | None
    items: Iterator[tuple[str, Any]]


def _jsonl_items(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"line {lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield where, _Bad("$", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
                continue
            if lineno == 1:
                line = line.removeprefix("\ufeff")
            stripped = line.strip()
            if not stripped or stripped.startswith("//"):
                continue
            try:
                yield where, loads_strict(stripped)
            except json.JSONDecodeError as exc:
                yield where, _Bad("$", f"invalid JSON: {exc.msg} (column {exc.colno})")
            except NotJSONError as exc:
                yield where, _Bad("$", str(exc))


def _yaml_document(path: Path, text: str) -> tuple[Any, dict[int, int]]:
    """Parse YAML and remember the 1-based line of each top-level sample item, for error messages."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise DatasetLoadError(path, "", "$", f"invalid YAML: {parse_error_text(exc)}") from None
    finally:
        loader.dispose()
    seq = node
    if isinstance(node, yaml.MappingNode):
        seq = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == "samples"), None)
    lines = (
        {i: item.start_mark.line + 1 for i, item in enumerate(seq.value)} if isinstance(seq, yaml.SequenceNode) else {}
    )
    return data, lines


def _open_source(path: Path) -> _Source:
    """Check the file and return its items lazily (JSONL) or from the parsed document (YAML / JSON)."""
    if path.suffix not in DATASET_SUFFIXES:
        raise DatasetLoadError(
            path, "", "$", f"unsupported file type {path.suffix!r} (use {', '.join(DATASET_SUFFIXES)})"
        )
    try:
        if path.suffix == ".jsonl":
            check_text_file(path)  # a binary file is one error, not one per "line"
            return _Source(None, None, _jsonl_items(path))
        text = read_text(path)
    except FileReadError as exc:
        raise DatasetLoadError(path, "", "$", exc.cause) from None
    lines: dict[int, int] = {}
    if path.suffix == ".json":
        try:
            data = loads_strict(text)
        except json.JSONDecodeError as exc:
            raise DatasetLoadError(
                path, "", "$", f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
        except NotJSONError as exc:
            raise DatasetLoadError(path, "", "$", str(exc)) from None
    else:
        data, lines = _yaml_document(path, text)
    name = description = None
    if isinstance(data, dict):
        unknown = sorted(str(k) for k in data if k not in _HEADER_KEYS)
        if unknown:
            raise DatasetLoadError(
                path, "", f"$.{unknown[0]}", f"unknown top-level key (allowed: {', '.join(sorted(_HEADER_KEYS))})"
            )
        if "samples" not in data:
            raise DatasetLoadError(path, "", "$.samples", "required key is missing")
        name, description = data.get("name"), data.get("description")
        for key, value in (("name", name), ("description", description)):
            if value is not None and not isinstance(value, str):
                raise DatasetLoadError(path, "", f"$.{key}", f"expected a string, got {type(value).__name__}")
        data = data["samples"]
    if data is None:  # an empty YAML file, or `samples:` with nothing under it
        data = []
    if not isinstance(data, list):
        raise DatasetLoadError(
            path, "", "$", f"expected a list of samples or {{samples: [...]}}, got {type(data).__name__}"
        )

    def items() -> Iterator[tuple[str, Any]]:
        for i, item in enumerate(data):
            yield (f"item {i} (line {lines[i]})" if i in lines else f"item {i}"), item

    return _Source(name, description, items())


# --- validating one item -------------------------------------------------------------------------------


def _got(value: Any) -> str:
    shown = repr(value) if isinstance(value, str | int | float | bool) or value is None else type(value).__name__
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _branch(raw: Any) -> str | None:
    if isinstance(raw, str):
        return "str"
    if isinstance(raw, list):
        return "list"
    if isinstance(raw, dict):
        return "model"
    return None


def _cause(err: Mapping[str, Any]) -> str:
    kind = err.get("type")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (a sample has id, partition, input or input_file, reference, context, metadata, tags)"
    return f"{err.get('msg', 'invalid')} (got {_got(err.get('input'))})"


def _problems(raw: dict[str, Any], exc: ValidationError) -> list[tuple[str, str]]:
    """(field path, cause) per validation error, keeping only the union branch that matches the input's type.

    Pydantic reports a bad `input` against every member of `str | list[Turn] | Session`; a user who wrote a
    session object wants to hear about the session's fields, not that it is "not a valid string". When no
    branch matches the type at all (say `input: 5`), one line says what is accepted.
    """
    out: list[tuple[str, str] | str] = []  # a bare str is a placeholder for a union field with no match
    matched: set[str] = set()
    for err in exc.errors():
        loc = tuple(err["loc"])
        field = str(loc[0]) if loc else ""
        if field in _UNION_FIELDS and len(loc) >= 2 and isinstance(loc[1], str):
            tag = loc[1]
            kind = "str" if tag == "str" else "list" if tag.startswith("list[") else "model"
            if kind == _branch(raw.get(field)):
                matched.add(field)
                out.append((json_path((field, *loc[2:])), _cause(err)))
            elif field not in out:
                out.append(field)
            continue
        out.append((json_path(loc), _cause(err)))
    result: list[tuple[str, str]] = []
    for item in out:
        if isinstance(item, tuple):
            result.append(item)
        elif item not in matched:
            result.append((f"$.{item}", f"expected {_UNION_FIELDS[item]} (got {_got(raw.get(item))})"))
    return result


def _resolve_input_file(raw: dict[str, Any], base: Path, root: Path) -> tuple[str, str] | None:
    """Replace `input_file` by the session it names, in place; return (field, cause) if that fails.

    The path is relative to `base` (the dataset file's folder) and must stay inside `root` (that same folder
    unless the spec's `dataset.data_root` widens it): a shared
    dataset must not be able to read `../../etc/passwd` or `/home/...` into a prompt sent to a model. The
    refusal is decided before touching the file system, so it says nothing about what exists outside.
    """
    ref = raw.pop("input_file")
    if "input" in raw:
        return "$.input_file", "give either input or input_file, not both"
    if not isinstance(ref, str) or not ref:
        return "$.input_file", f"expected a relative path to a session JSON file (got {_got(ref)})"
    target = confined(root, ref, start=base)
    if target is None:
        return "$.input_file", (
            f"{ref!r} is outside the data folder {root} (absolute paths and '..' escapes are refused; "
            "a spec can allow another folder with dataset.data_root)"
        )
    if not target.is_file():
        return "$.input_file", f"session file {base / ref} does not exist"
    try:
        sessions = load_session_file(target)
    except SessionLoadError as exc:
        return "$.input_file", str(exc)
    if len(sessions) != 1:
        return "$.input_file", f"{target}: expected exactly one session, found {len(sessions)}"
    raw["input"] = sessions[0]
    return None


def _validate(path: Path, where: str, raw: Any, root: Path) -> tuple[Sample | None, list[DatasetLoadError]]:
    if isinstance(raw, _Bad):
        return None, [DatasetLoadError(path, where, raw.field, raw.cause)]
    if not isinstance(raw, dict):
        return None, [DatasetLoadError(path, where, "$", f"expected a sample object, got {type(raw).__name__}")]
    raw = dict(raw)
    if "input_file" in raw:
        problem = _resolve_input_file(raw, path.parent, root)
        if problem is not None:
            return None, [DatasetLoadError(path, where, *problem)]
    try:
        sample = Sample.model_validate(raw)
    except ValidationError as exc:
        return None, [DatasetLoadError(path, where, field, cause) for field, cause in _problems(raw, exc)]
    label = sample.metadata.get("human_label")
    if label is not None and not isinstance(label, bool):  # "false" or 0 was skipped: the cost model lost the sample
        cause = f"expected true or false (got {_got(label)})"
        return None, [DatasetLoadError(path, where, "$.metadata.human_label", cause)]
    return sample, []


def _surrogate_error(path: Path, where: str, sample: Sample) -> DatasetLoadError:
    """The field holding an unpaired surrogate (`"\\ud83d"`: an emoji cut in half), which UTF-8 cannot encode."""
    loc, char = lone_surrogate(sample.model_dump(mode="json")) or ((), "")
    return DatasetLoadError(path, where, json_path(loc), surrogate_cause(char))


# --- public API ----------------------------------------------------------------------------------------


class _Scan:
    """One pass over a dataset file: yields good samples, collects every error, tracks ids for duplicates.

    Only ids and positions are kept (not samples), so the pass is streaming for JSONL.
    """

    def __init__(self, path: Path | str, root: Path | str | None = None) -> None:
        self.path = Path(path)
        self.root = Path(root) if root is not None else self.path.parent
        self.errors: list[DatasetLoadError] = []
        self.first_seen: dict[str, tuple[str, str]] = {}  # id_key -> (where, id as written)
        self.name: str | None = None
        self.description: str | None = None

    def __iter__(self) -> Iterator[HashedSample]:
        try:
            source = _open_source(self.path)
        except DatasetLoadError as exc:
            self.errors.append(exc)
            return
        self.name, self.description = source.name, source.description
        for where, raw in source.items:
            sample, errors = _validate(self.path, where, raw, self.root)
            if sample is None:
                self.errors.extend(errors)
                continue
            problem = id_problem(sample.id)
            if problem is not None:
                self.errors.append(DatasetLoadError(self.path, where, "$.id", problem))
                continue
            key = id_key(sample.id)
            first = self.first_seen.get(key)
            if first is not None:
                self.errors.append(DatasetLoadError(self.path, where, "$.id", duplicate_cause(sample.id, *first)))
                continue
            try:
                digest = sample_hash(sample)
            except UnicodeEncodeError:
                self.errors.append(_surrogate_error(self.path, where, sample))
                continue
            self.first_seen[key] = (where, sample.id)
            yield HashedSample(sample, digest, where)

    def raise_if_bad(self) -> None:
        if self.errors:
            raise InvalidDatasetError(self.path, self.errors)


def iter_hashed_samples(path: Path | str, *, root: Path | str | None = None) -> Iterator[HashedSample]:
    """Stream valid samples with their hashes; after the last one, raise `InvalidDatasetError` if any were bad.

    Because errors surface only at the end, a consumer that must not start work on a broken file calls
    `scan_dataset` first (also streaming) and then this. `root` is the folder `input_file` paths must stay
    in (default: the dataset file's folder).
    """
    scan = _Scan(path, root)
    yield from scan
    scan.raise_if_bad()


def iter_samples(path: Path | str, *, root: Path | str | None = None) -> Iterator[Sample]:
    """Stream the samples of a dataset file; see `iter_hashed_samples` for when errors are raised."""
    for item in iter_hashed_samples(path, root=root):
        yield item.sample


def _collect(path: Path | str, keep: list[Sample] | None, root: Path | str | None = None) -> dict[str, Any]:
    scan = _Scan(path, root)
    hashes: dict[str, str] = {}
    golden: dict[str, str] = {}
    counts: dict[str, int] = dict.fromkeys(PARTITIONS, 0)
    for item in scan:
        hashes[item.sample.id] = item.hash
        counts[item.sample.partition] += 1
        if item.sample.partition == "golden":
            golden[item.sample.id] = item.hash
        if keep is not None:
            keep.append(item.sample)
    if not hashes and not scan.errors:  # an empty dataset would "pass" every gate having graded nothing
        scan.errors.append(DatasetLoadError(scan.path, "", "$", "the dataset has no samples"))
    scan.raise_if_bad()
    return {
        "path": str(scan.path),
        "name": scan.name,
        "description": scan.description,
        "version_hash": dataset_version_hash(hashes),
        "sample_hashes": hashes,
        "golden": golden,
        "counts": counts,
    }


def scan_dataset(path: Path | str, *, root: Path | str | None = None) -> DatasetSummary:
    """Validate a whole dataset and hash it without holding its samples; raise `InvalidDatasetError` listing
    every problem (an empty dataset is one)."""
    return DatasetSummary(**_collect(path, None, root))


def load_dataset(path: Path | str, *, root: Path | str | None = None) -> Dataset:
    """Load, validate and hash a dataset file; raise `InvalidDatasetError` listing every problem."""
    samples: list[Sample] = []
    fields = _collect(path, samples, root)
    return Dataset(**fields, samples=samples)


def _record(sample: Sample) -> dict[str, Any]:
    """Compact JSON for one sample: defaults left out (they hash the same), but the partition always written."""
    data = sample.model_dump(mode="json", exclude_defaults=True)
    return {"id": sample.id, "partition": sample.partition, **data}


def save_dataset(samples: Iterable[Sample], path: Path | str, *, append: bool = False) -> int:
    """Write samples as JSONL and return how many were written.

    `append=True` adds to an existing file (how failures become regression samples); it first checks the new
    ids against the file's, so a duplicate is refused before anything is written. A fresh write goes through
    a temporary file, so an interrupted save never leaves half a dataset behind.
    """
    p = Path(path)
    if p.suffix != ".jsonl":
        raise ValueError(f"{p}: save_dataset writes JSONL; use a .jsonl file name")
    batch = list(samples)
    seen: dict[str, int] = {}
    for i, s in enumerate(batch):
        key = id_key(s.id)
        if key in seen:
            raise ValueError(f"{p}: duplicate id {s.id!r} in the samples to save (positions {seen[key]} and {i})")
        seen[key] = i
    lines = "".join(json.dumps(_record(s), ensure_ascii=False) + "\n" for s in batch)
    if append and p.exists():
        scan = _Scan(p)
        for item in scan:
            if id_key(item.sample.id) in seen:
                raise ValueError(f"{p}: id {item.sample.id!r} already exists at {item.where}")
        scan.raise_if_bad()
        with p.open("rb+") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")
            fh.write(lines.encode("utf-8"))
        return len(batch)
    write_text_atomic(p, lines)
    return len(batch)
