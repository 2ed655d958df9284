"""Human-labelled development data shipped in the package, so the README's `agree` / `calibrate` commands run
from a clean clone or an installed evalwheel with no download.

These are the *development* parts of public sets (a deterministic split; the held-out parts are not shipped):
MRBench v2 and the BEA 2025 4-dimension set (CC BY-SA 4.0), MathDial test dev (CC BY-SA 4.0), LLMBar Natural and
Adversarial-Neighbor (MIT), FaithBench dev (CC BY-NC-SA 4.0: non-commercial), conversational uptake (MIT). Each
folder carries its licence or licence note; anything derived from a set keeps that set's licence. They are data
files, not part of evalwheel's Apache-2.0 code.

`evalwheel data fetch [DEST]` copies them (with their licences) to a folder, default `data/`.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

# name -> files (relative to the shipped folder), licence
DATASETS: dict[str, tuple[tuple[str, ...], str]] = {
    "mrbench": (("mrbench/mrbench_v2_dev.json", "mrbench/mrbench_v3_4dim_dev.json"), "CC BY-SA 4.0"),
    "mathdial": (("mathdial/test_dev.jsonl",), "CC BY-SA 4.0"),
    "llmbar": (("llmbar/LLMBar_Natural.json", "llmbar/LLMBar_Adversarial_Neighbor.json"), "MIT"),
    "faithbench": (("faithbench/faithbench_dev.csv",), "CC BY-NC-SA 4.0 (non-commercial)"),
    "uptake": (("uptake/uptake_data.csv",), "MIT"),
}


class DataError(ValueError):
    """An unknown data set name or an unusable destination (bad input: exit code 2)."""


def shipped_root() -> Path:
    """The folder the data files are installed in."""
    return Path(str(resources.files("evalwheel.data") / "files"))


def fetch(dest: Path, names: list[str] | None = None) -> list[Path]:
    """Copy the chosen sets (default: all) with their licence files into `dest/<set>/`; returns the data files."""
    chosen = names or list(DATASETS)
    unknown = [n for n in chosen if n not in DATASETS]
    if unknown:
        raise DataError(f"unknown data set {unknown[0]!r} (shipped: {', '.join(DATASETS)})")
    from evalwheel.fileio import make_dir

    make_dir(dest)  # a file in the way, or a folder that cannot be made: FileWriteError (exit 2), before copying
    root = shipped_root()
    written: list[Path] = []
    for name in chosen:
        files, _ = DATASETS[name]
        folder = make_dir(dest / name)  # why: a file named like the set used to end in a FileExistsError traceback
        for lic in (root / name).iterdir():
            if lic.name.startswith("LICENSE"):
                _copy(lic, folder / lic.name)
        for rel in files:
            target = dest / rel
            _copy(root / rel, target)
            written.append(target)
    return written


def _copy(src: Path, target: Path) -> None:
    """Copy one shipped file; a folder (or an unwritable file) at `target` is FileWriteError (exit 2), not a
    traceback."""
    from evalwheel.fileio import FileWriteError, write_cause

    if target.is_dir():
        raise FileWriteError(target, "cannot write: it is a directory")
    try:
        shutil.copyfile(src, target)
    except OSError as exc:
        raise FileWriteError(target, write_cause(exc)) from None
