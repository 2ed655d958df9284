"""Where graded rows go: a Parquet or JSONL file (streamed), or the run store as a run of its own.

In the store, a graded file is an ordinary run (spec name `grade:<file name>`, one result per row keyed by its
request or session id), so `runs show`, `compare` and the review workspace read it like any other run.

A refused file (bad rows without `--skip-invalid`, exit 2) leaves no trace: a file output is written under a
temporary name and renamed into place only when the sink is closed with another status, so an earlier
output of the same name survives; the store's run row is created with the first rows (or at a successful
close), so no empty run is left behind. A grade stopped by Ctrl-C or an unexpected error (close status
`aborted`) replaces no output either; the store keeps the rows it committed, as an `interrupted` run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol

from evalwheel.fileio import write_cause
from evalwheel.grade.batch import Graded
from evalwheel.grade.logs import LogsError

OUT_SUFFIXES = (".parquet", ".jsonl")


class Sink(Protocol):
    written: int  # rows accepted so far: a stop after the first row keeps them instead of refusing

    def write(self, rows: Sequence[Graded]) -> None: ...

    def close(self, status: str) -> None: ...


REFUSED = "refused"  # the close status of a file refused before any row was written: nothing is kept
# Ctrl-C or an unexpected error: a file output is dropped (an earlier --out is kept, never a prefix of the rows),
# the store keeps the rows it committed as an `interrupted` run (as any stopped run)
ABORTED = "aborted"


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def _publish(tmp: Path, path: Path, status: str) -> None:
    """Rename the finished (or stopped) output into place; drop it when the file was refused or aborted."""
    if status in (REFUSED, ABORTED):
        tmp.unlink(missing_ok=True)
    else:
        tmp.replace(path)


def _finish(close: Callable[[], None], tmp: Path, path: Path, status: str) -> None:
    """Close the temporary output, then publish or drop it. A close that fails (a full disk while the last
    buffer or the Parquet footer is written) drops it too: LogsError naming --out, an earlier file kept."""
    try:
        close()
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LogsError(f"--out {path}: {write_cause(exc)}") from None
    _publish(tmp, path, status)


class JsonlSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = _temporary(path)
        self._fh = self._tmp.open("w", encoding="utf-8")
        self.written = 0

    def write(self, rows: Sequence[Graded]) -> None:
        self._fh.write("".join(r.model_dump_json() + "\n" for r in rows))
        self.written += len(rows)

    def close(self, status: str) -> None:
        _finish(self._fh.close, self._tmp, self.path, status)


class ParquetSink:
    """One row group per written chunk; `scores` is a JSON string column (its shape differs per grader)."""

    def __init__(self, path: Path) -> None:
        try:
            import pyarrow.parquet as pq
        except ImportError:  # pragma: no cover - depends on the environment
            raise LogsError(f"{path}: writing Parquet needs pyarrow: pip install 'evalwheel[parquet]'") from None
        from evalwheel.grade.shards import graded_schema

        self.path = path
        self._tmp = _temporary(path)
        self.schema = graded_schema()
        self._writer = pq.ParquetWriter(self._tmp, self.schema)
        self.written = 0

    def write(self, rows: Sequence[Graded]) -> None:
        from evalwheel.grade.shards import graded_table

        if rows:
            self._writer.write_table(graded_table(list(rows)))
            self.written += len(rows)

    def write_table(self, table: Any) -> None:
        """A Ray shard's part, copied as is (no per-row work on the driver)."""
        if table.num_rows:
            self._writer.write_table(table)
            self.written += table.num_rows

    def close(self, status: str) -> None:
        _finish(self._writer.close, self._tmp, self.path, status)


class StoreSink:
    """A run in the store; rows committed per chunk (retried like the run engine's commits)."""

    def __init__(self, url: str, logs: Path) -> None:
        from evalwheel.runs.engine import new_run_id
        from evalwheel.runs.writer import DEFAULT_POLICY, retry_store
        from evalwheel.store import Store
        from evalwheel.store.errors import now_iso
        from evalwheel.types import RunInfo

        self.store = Store(url)
        self._retry = retry_store
        self._policy = DEFAULT_POLICY
        self.info = RunInfo(
            run_id=new_run_id(),
            spec_name=f"grade:{logs.name}",
            started_at=now_iso(),
            metadata={"logs": str(logs), "executor": "grade"},
        )
        self._created = False  # the run row is created with the first rows: a refused file leaves no run
        self.written = 0

    def _create(self) -> None:
        if not self._created:
            self._retry(self.store, "creating the run", lambda: self.store.create_run(self.info), policy=self._policy)
            self._created = True

    @property
    def run_id(self) -> str:
        return self.info.run_id

    def write(self, rows: Sequence[Graded]) -> None:
        from evalwheel.types import SampleResult, Score

        batch = [
            SampleResult(
                run_id=self.info.run_id,
                sample_id=str(r.id),
                partition="distribution",
                status=r.status,  # invalid rows never reach a sink
                value=r.value,
                scores=[Score.model_validate(s) for s in r.scores],
                error=r.error,
                tags=[f"line:{r.line}"],
            )
            for r in rows
        ]
        if batch:
            self._create()
            self._retry(
                self.store,
                f"a batch of {len(batch)} results",
                lambda: self.store.add_results(batch),
                policy=self._policy,
            )
            self.written += len(batch)

    def close(self, status: str) -> None:
        """Record the run's status and close the store (the CLI skips the final collection: evalwheel.closing)."""
        with closing(self.store):
            if status in (REFUSED, ABORTED):
                if not self._created:  # no row reached the store: no run is left behind
                    return
                status = "interrupted"  # a run row exists (rows committed, or a write failed after creating it)
            self._create()
            self._retry(
                self.store,
                "recording the run's status",
                lambda: self.store.set_run_status(self.run_id, status),
                policy=self._policy,
            )


def open_sink(out: Path | None, store: str | None, logs: Path) -> list[Sink]:
    sinks: list[Sink] = []
    if out is not None and out.suffix.lower() not in OUT_SUFFIXES:
        raise LogsError(f"--out {out}: expected a .parquet or .jsonl file")
    if store is not None:  # first: a store that cannot be opened must not leave a temporary file behind
        sinks.append(StoreSink(store, logs))
    if out is not None:
        try:
            sinks.append(_file_sink(out))
        except LogsError:
            for sink in sinks:  # the store opened above: closed, with no run created
                sink.close(REFUSED)
            raise
    return sinks


def _file_sink(out: Path) -> Sink:
    if out.is_dir():
        raise LogsError(f"--out {out}: is a directory; give a .parquet or .jsonl file name")
    try:  # a missing folder is created (as write_text_atomic does); an unwritable one is exit 2
        out.parent.mkdir(parents=True, exist_ok=True)
        return ParquetSink(out) if out.suffix.lower() == ".parquet" else JsonlSink(out)
    except OSError as exc:
        raise LogsError(f"--out {out}: {write_cause(exc)}") from None
