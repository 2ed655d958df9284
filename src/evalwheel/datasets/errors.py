"""One error shape for every labelled-data importer: file, position (line or item) and cause.

Each importer subclasses it (so callers can catch a specific format), but the message is built in one
place, so every "cannot load this file" error reads the same way.
"""

from __future__ import annotations

from pathlib import Path


class DataFileError(ValueError):
    """A data file that cannot be loaded: `<file>: line N: cause` / `<file>: item N: cause` / `<file>: cause`."""

    position_word = "line"

    def __init__(self, path: Path | str, cause: str, position: int | None = None) -> None:
        self.path = str(path)
        self.cause = cause
        self.position = position
        where = self.path if position is None else f"{self.path}: {self.position_word} {position}"
        super().__init__(f"{where}: {cause}")

    @property
    def line(self) -> int | None:
        return self.position if self.position_word == "line" else None

    @property
    def index(self) -> int | None:
        return self.position if self.position_word == "item" else None


class ItemDataFileError(DataFileError):
    """For JSON files of items: positions are item indexes."""

    position_word = "item"
