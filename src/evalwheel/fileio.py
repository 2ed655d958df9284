"""File I/O every command shares: one reader that turns unreadable files into one error, atomic writes.

Why one reader: a binary or non-UTF-8 spec, grader config, calibration record or recorded-outputs file (or a
directory given where a file belongs) used to crash each call site with its own traceback. `read_text`
turns every such case into `FileReadError` naming the file, what it was meant to be, and the cause; the
CLIs map that one type to exit code 2. `confined` is the other half of reading data safely: a path taken
from a data file must stay inside the folder the data came from.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

_SNIFF = 8192  # bytes checked for NUL: text files never contain one, nearly every binary format does


class FileReadError(ValueError):
    """A file that cannot be read as text: missing, a directory, unreadable, binary or not UTF-8 (exit 2).

    The message is `<what>: <path>: <cause>` (or `<path>: <cause>`), so every command reports it alike.
    """

    def __init__(self, path: Path | str, cause: str, what: str | None = None) -> None:
        self.path = str(path)
        self.cause = cause
        self.what = what
        super().__init__(f"{what}: {self.path}: {cause}" if what else f"{self.path}: {cause}")


class FileWriteError(FileReadError):
    """An output file that cannot be written: the path is a directory, its folder cannot be made, no permission.

    A subclass of FileReadError on purpose: every CLI already maps that one type to exit 2 with its message, so
    an unwritable --out / --lock / --junit path is bad input there too, never a traceback.
    """


def write_cause(exc: OSError) -> str:
    """Why an output path could not be written, in words (mkdir says "File exists" when a file is in the way)."""
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return "cannot write: a file is in the way of its folder"
    if isinstance(exc, PermissionError):
        return "cannot write: permission denied"
    return f"cannot write: {exc.strerror or exc}"


def refuse_overwriting_input(out: Path | str, inputs: Iterable[Path | str], *, option: str) -> None:
    """FileWriteError when the output path `out` is one of the `inputs` (the same file, by inode, so a relative
    path, a symlink or `./x` are caught too). Why: `evaluate s.json --out s.json`, `grade logs.jsonl --out
    logs.jsonl` and `dataset lock d.jsonl --lock d.jsonl` replaced the very file they had just read, exit 0.
    Call it before anything is written."""
    target = Path(out)
    if not target.is_file():
        return
    for src in inputs:
        try:
            same = Path(src).is_file() and os.path.samefile(target, src)
        except OSError:
            same = False
        if same:
            cause = f"{option} names the input file itself, which would be overwritten; choose another path"
            raise FileWriteError(target, cause)


def refuse_writing_into_input(out_dir: Path | str, inputs: Iterable[Path | str], *, option: str) -> None:
    """FileWriteError when the output folder `out_dir` is an input folder or inside one. Why: `replay sess --out
    sess` wrote its artifacts and report.json among the sessions it had read, and every later command reading
    that folder (recursively) failed on them as invalid sessions. Call it before anything is written."""
    target = Path(out_dir).resolve()
    for src in inputs:
        folder = Path(src).resolve()
        if Path(src).is_dir() and (target == folder or folder in target.parents):
            cause = (
                f"{option} is the input folder {src} or inside it, where its files would be read back as inputs; "
                "choose another folder"
            )
            raise FileWriteError(out_dir, cause)


def parse_error_text(exc: Exception) -> str:
    """A YAML parser error in one line: its problem and 1-based position (PyYAML's own text spans several lines
    with a caret drawing, which broke the one-line error every command prints)."""
    mark = getattr(exc, "problem_mark", None)
    at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    return f"{problem}{at}"


def _os_cause(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file does not exist"
    if isinstance(exc, IsADirectoryError):
        return "not a file (a directory)"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"cannot read: {exc.strerror or exc}"


def read_bytes(path: Path | str, *, what: str | None = None) -> bytes:
    """The file's bytes; FileReadError for a missing file, a directory, or an OS error."""
    p = Path(path)
    if p.is_dir():  # open() on a directory raises IsADirectoryError on Linux but PermissionError on Windows
        raise FileReadError(p, "not a file (a directory)", what)
    try:
        return p.read_bytes()
    except OSError as exc:
        raise FileReadError(p, _os_cause(exc), what) from None


def decode_text(data: bytes, path: Path | str, *, what: str | None = None) -> str:
    """UTF-8 text (a leading BOM dropped); FileReadError naming the byte offset for binary or non-UTF-8 data."""
    nul = data.find(b"\x00", 0, _SNIFF)
    if nul != -1:
        raise FileReadError(path, f"binary file, not text (NUL byte at offset {nul})", what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileReadError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})", what) from None


def read_text(path: Path | str, *, what: str | None = None, nonempty: bool = False) -> str:
    """Read a UTF-8 text file; every failure is a FileReadError (`what` says what the file was for).

    `nonempty`: a file holding nothing but whitespace is an error too. Config loaders pass it: a zero-byte
    config named on the command line is a failed write or the wrong file far more often than "all defaults"
    (a config whose keys are all commented out is not empty, and still means the defaults).
    """
    text = decode_text(read_bytes(path, what=what), path, what=what)
    if nonempty and not text.strip():
        raise FileReadError(path, "the file is empty", what)
    return text


def check_text_file(path: Path | str, *, what: str | None = None) -> None:
    """Fail early, as `read_text` would, for a file that is read later as a stream (JSONL datasets)."""
    p = Path(path)
    if p.is_dir():
        raise FileReadError(p, "not a file (a directory)", what)
    try:
        with p.open("rb") as fh:
            head = fh.read(_SNIFF)
    except OSError as exc:
        raise FileReadError(p, _os_cause(exc), what) from None
    nul = head.find(b"\x00")
    if nul != -1:
        raise FileReadError(p, f"binary file, not text (NUL byte at offset {nul})", what)


def confined(base: Path | str, relative: str, *, start: Path | str | None = None) -> Path | None:
    """`start / relative` (start defaults to `base`) if it stays inside `base` (symlinks resolved), else None.

    Absolute paths, `..` escapes and symlinks pointing out are all refused the same way, and the answer
    does not depend on whether the target exists, so a refusal reveals nothing about files outside.
    """
    if not relative or "\x00" in relative:
        return None
    rel = Path(relative)
    if rel.is_absolute() or rel.drive or relative.startswith("~"):
        return None
    root = Path(base).resolve()
    target = (Path(start).resolve() if start is not None else root).joinpath(rel).resolve()
    if target != root and root not in target.parents:
        return None
    return target


def check_writable(path: Path | str, *, what: str | None = None) -> None:
    """Fail early, as `write_text_atomic` would, for an output written only after the work (creates nothing).

    Why: `chat --out DIR` used to run the whole conversation and then fail to save it; the check is the
    nearest existing folder on the path (a file in the way, no write permission) and the path itself.
    """
    p = Path(path)
    if p.is_dir():
        raise FileWriteError(p, "cannot write: it is a directory", what)
    for parent in p.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise FileWriteError(p, "cannot write: a file is in the way of its folder", what)
            if not os.access(parent, os.W_OK | os.X_OK):
                raise FileWriteError(p, "cannot write: permission denied", what)
            return


def make_dir(path: Path | str, *, what: str | None = None) -> Path:
    """Create an output folder (and its parents); FileWriteError naming it when a file is in the way or the
    folder cannot be made, so `replay --out FILE` is exit 2 with one line, not a FileExistsError traceback."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise FileWriteError(p, "cannot write: a file, not a folder", what)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileWriteError(p, write_cause(exc), what) from None
    return p


def write_text_atomic(path: Path | str, text: str | Iterable[str]) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path` (created world-readable).

    An iterable of chunks (e.g. a JUnit report) is streamed, so memory stays flat. Every OS failure is a
    FileWriteError naming the path: a CLI shows it as exit 2, and an earlier file at `path` is left as it was.
    """
    target = Path(path)
    if target.is_dir():
        raise FileWriteError(target, "cannot write: it is a directory")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:  # the folder is a file, or not writable
        raise FileWriteError(target, write_cause(exc)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.writelines([text] if isinstance(text, str) else text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; these files are meant to be shared and re-read
        os.replace(tmp, target)
    except OSError as exc:  # a full disk, a rename refused
        Path(tmp).unlink(missing_ok=True)
        raise FileWriteError(target, write_cause(exc)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
