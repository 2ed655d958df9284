"""Reading and writing runs and results.

Durability is the point: the engine hands every finished sample to `add_results` at once, and a result that
is committed is never recomputed by `--resume`. SQLite runs in WAL mode with `synchronous=NORMAL`: a commit
survives the process being killed (kill -9) — only a power cut can lose the last commits — and costs
microseconds rather than an fsync per sample, which keeps the per-sample overhead far below a millisecond.
Any SQLAlchemy URL works (e.g. `postgresql+psycopg://...`) for a team-shared store.
"""

from __future__ import annotations

import functools
import json
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Engine, and_, bindparam, create_engine, event, func, insert, inspect, or_, select, text, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError

from evalwheel.closing import track, untrack
from evalwheel.fileio import write_cause
from evalwheel.store.errors import StoreError as StoreError  # re-exported: callers import both from here
from evalwheel.store.errors import now_iso as now_iso
from evalwheel.store.errors import redact_url
from evalwheel.store.schema import MIGRATIONS, SCHEMA_VERSION, meta, metadata, results, runs
from evalwheel.types import Output, RunInfo, SampleResult, Score

DEFAULT_STORE = ".evalwheel/runs.sqlite"  # relative to the project root (evalwheel.project), else the cwd
DEFAULT_BUSY_TIMEOUT_S = 5.0


def store_url(target: str | Path | None) -> str:
    """A SQLAlchemy URL from a URL, a file path, or None: `EVALWHEEL_STORE`, else the project's store found
    upward from the working directory (`evalwheel.project`), else DEFAULT_STORE in the working directory."""
    text = str(target) if target is not None else _default_target()
    if "://" in text:
        return text
    path = Path(text)
    if path.is_dir():  # SQLite's own word for it is "unable to open database file"
        raise StoreError(f"store {text}: a directory, not a SQLite file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"store {text}: {write_cause(exc)}") from None
    return f"sqlite:///{path}"


def _default_target() -> str:
    """The store used when none is named (evalwheel.project); a broken evalwheel.yaml is a StoreError."""
    from evalwheel.project import ProjectConfigError, default_store_target

    try:
        return default_store_target()
    except ProjectConfigError as exc:
        raise StoreError(str(exc)) from None


def _require_existing(target: str, *, named: bool = True) -> None:
    """StoreError for a `--store` SQLite file that does not exist. Why: read-only verbs (runs list/show, compare)
    would otherwise create an empty store at a mistyped path and report "no runs" with exit 0. `named=False`: the
    default store (none was named), which they would otherwise create in a folder that has none, making it look
    like a project root to every later command."""
    if "://" in target and not target.startswith("sqlite:///"):
        return  # a server database: reaching it is the check
    path = Path(target.removeprefix("sqlite:///")) if "://" in target else Path(target)
    if str(path) in ("", ":memory:") or (path.is_file() and path.stat().st_size > 0):
        return
    if not named and not path.exists():
        raise StoreError(
            f"no store here: {target} does not exist (`evalwheel run` and `evalwheel monitor serve` create it); "
            "name one with --store or EVALWHEEL_STORE"
        )
    if path.is_file():  # SQLite would silently turn an empty file into a new, empty store
        raise StoreError(f"--store {target}: an empty file, not a run store")
    cause = "a directory, not a SQLite file" if path.is_dir() else "no such file (runs are stored by `evalwheel run`)"
    raise StoreError(f"--store {target}: {cause}")


def require_existing_store(target: str | Path | None) -> str | Path:
    """`target`, or the default store when None, if a store exists there; else StoreError (see `_require_existing`).

    What `Store(..., must_exist=True)` checks, for commands that decide before opening: `serve` refuses a typo
    unless told to create the store."""
    resolved = target if target is not None else _default_target()
    _require_existing(str(resolved), named=target is not None)
    return resolved


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cur.close()

    return on_connect


def _postgres_lock_timeout(lock_timeout_ms: int) -> Any:
    """PostgreSQL's counterpart of SQLite's busy timeout: a statement waiting longer than this for a lock fails
    (and the run writer retries it) instead of waiting forever behind a stuck transaction."""

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        cur = dbapi_conn.cursor()
        cur.execute(f"SET lock_timeout = {lock_timeout_ms}")
        cur.close()
        dbapi_conn.autocommit = autocommit

    return on_connect


class Store:
    """A run store on any SQLAlchemy URL; cheap to open, safe to share between a run and a reader.

    `busy_timeout_s` (SQLite's busy timeout, PostgreSQL's `lock_timeout`) is how long one statement waits for
    another process's lock before failing; the run writer retries failed commits with backoff on top of it
    (runs/writer.py), so it is kept short enough that a stuck lock is noticed and reported, not waited on.
    """

    def __init__(
        self, target: str | Path | None = None, *, busy_timeout_s: float | None = None, must_exist: bool = False
    ) -> None:
        if must_exist:
            target = require_existing_store(target)
        self.url = store_url(target)
        busy_timeout_s = DEFAULT_BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
        try:
            self.safe_url = make_url(self.url).render_as_string(hide_password=True)
        except Exception:
            self.safe_url = redact_url(self.url)
        try:
            self.engine: Engine = create_engine(self.url)
            track(self)  # disposed at exit even if the CLI skips the final collection (evalwheel.closing)
            # ... and as soon as a store nobody closed is dropped: its engine outlives it in reference cycles that
            # a frozen heap never collects, which would keep SQLite's -wal / -shm files beside the database
            weakref.finalize(self, self.engine.dispose)
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas(int(busy_timeout_s * 1000)))
            elif self.engine.dialect.name == "postgresql":
                event.listen(self.engine, "connect", _postgres_lock_timeout(int(busy_timeout_s * 1000)))
            self._create_schema()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the run store {self.safe_url}: {exc.__class__.__name__}: {exc}") from exc

    def _create_schema(self, attempts: int = 5) -> None:
        """Create missing tables and record the version. Two processes opening a new store at once race here
        ("table already exists", a duplicate version row): the loser looks again and finds the winner's work."""
        for attempt in range(attempts):
            try:
                metadata.create_all(self.engine)
                self._check_version()
                return
            except (OperationalError, IntegrityError, ProgrammingError):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _check_version(self) -> None:
        with self.engine.begin() as conn:
            row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
            if row is None:
                conn.execute(insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
                return
            found = int(row[0])
        if found > SCHEMA_VERSION:
            raise StoreError(f"{self.safe_url}: store schema version {found}, this evalwheel reads {SCHEMA_VERSION}")
        if found < SCHEMA_VERSION:
            self._migrate(found)

    def _migrate(self, found: int) -> None:
        """Add the columns introduced after version `found`; safe when two processes open an old store at once."""
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for table, column in MIGRATIONS.get(version, []):
                existing = {c["name"] for c in inspect(self.engine).get_columns(table.name)}
                if column in existing:
                    continue
                col = table.c[column]
                ddl = f"ALTER TABLE {table.name} ADD COLUMN {column} {col.type.compile(dialect=self.engine.dialect)}"
                try:
                    with self.engine.begin() as conn:
                        conn.execute(text(ddl))
                except SQLAlchemyError:
                    if column not in {c["name"] for c in inspect(self.engine).get_columns(table.name)}:
                        raise
        with self.engine.begin() as conn:
            conn.execute(update(meta).where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))

    def close(self) -> None:
        untrack(self)
        self.engine.dispose()

    # ------------------------------------------------------------------------------------------ runs

    def create_run(self, info: RunInfo, *, lease_owner: str | None = None, lease_ttl_s: float = 0.0) -> None:
        """Insert a run row; with `lease_owner` the run is born leased to the process that executes it."""
        row = info.model_dump(exclude={"metadata"})
        row["started_at"] = row["started_at"] or now_iso()
        if lease_owner is not None:
            now = time.time()
            row.update(lease_owner=lease_owner, lease_expires_at=now + lease_ttl_s, lease_heartbeat_at=now)
        with self.engine.begin() as conn:
            conn.execute(insert(runs).values(**row, metadata_json=json.dumps(info.metadata, sort_keys=True)))

    # ------------------------------------------------------------------------------------------ leases

    def try_lease(self, run_id: str, owner: str, ttl_s: float, *, replacing: str | None = None) -> bool:
        """Take the run's lease if it is free, expired, ours, or still held by `replacing` (an owner known dead).

        One conditional UPDATE, so two processes racing for the same run cannot both win."""
        now = time.time()
        free = or_(
            runs.c.lease_owner.is_(None),
            runs.c.lease_expires_at < now,
            runs.c.lease_owner == owner,
            *([runs.c.lease_owner == replacing] if replacing else []),
        )
        query = (
            update(runs)
            .where(and_(runs.c.run_id == run_id, free))
            .values(lease_owner=owner, lease_expires_at=now + ttl_s, lease_heartbeat_at=now)
        )
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount == 1

    def renew_lease(self, run_id: str, owner: str, ttl_s: float) -> bool:
        """Heartbeat: push the expiry on; False when the lease is no longer ours (it expired and was taken)."""
        now = time.time()
        query = (
            update(runs)
            .where(runs.c.run_id == run_id, runs.c.lease_owner == owner)
            .values(lease_expires_at=now + ttl_s, lease_heartbeat_at=now)
        )
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount == 1

    def release_lease(self, run_id: str, owner: str) -> None:
        query = (
            update(runs)
            .where(runs.c.run_id == run_id, runs.c.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None, lease_heartbeat_at=None)
        )
        with self.engine.begin() as conn:
            conn.execute(query)

    def lease_of(self, run_id: str) -> tuple[str | None, float | None, float | None]:
        """(owner, expires_at, heartbeat_at) of a run's lease, in unix seconds."""
        cols = (runs.c.lease_owner, runs.c.lease_expires_at, runs.c.lease_heartbeat_at)
        with self.engine.connect() as conn:
            row = conn.execute(select(*cols).where(runs.c.run_id == run_id)).first()
        return (None, None, None) if row is None else (row[0], row[1], row[2])

    def get_run(self, run_id: str) -> RunInfo:
        with self.engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).mappings().first()
        if row is None:
            raise StoreError(f"no run {run_id!r} in {self.safe_url} (see `evalwheel runs list`)")
        return _run_info(row)

    def list_runs(self, spec_name: str | None = None, limit: int = 50) -> list[RunInfo]:
        query = select(runs).order_by(runs.c.started_at.desc(), runs.c.run_id.desc()).limit(limit)
        if spec_name is not None:
            query = query.where(runs.c.spec_name == spec_name)
        with self.engine.connect() as conn:
            return [_run_info(r) for r in conn.execute(query).mappings()]

    def latest_run(self, spec_name: str, arm: str | None, *, exclude: str | None = None) -> RunInfo | None:
        """The most recent finished run of a spec (and arm): the default regression baseline. Runs that are
        `partial` (cut short by `--limit`), interrupted or still running are never picked."""
        query = select(runs).where(runs.c.spec_name == spec_name, runs.c.status == "finished")
        query = query.where(runs.c.arm.is_(None) if arm is None else runs.c.arm == arm)
        if exclude is not None:
            query = query.where(runs.c.run_id != exclude)
        query = query.order_by(runs.c.finished_at.desc(), runs.c.run_id.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _run_info(row)

    def set_run_status(self, run_id: str, status: str, *, metadata_update: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = {"status": status}
        if status != "running":
            values["finished_at"] = now_iso()
        with self.engine.begin() as conn:
            if metadata_update:
                current = conn.execute(select(runs.c.metadata_json).where(runs.c.run_id == run_id)).scalar_one()
                merged = {**json.loads(current), **metadata_update}
                values["metadata_json"] = json.dumps(merged, sort_keys=True)
            conn.execute(update(runs).where(runs.c.run_id == run_id).values(**values))

    # --------------------------------------------------------------------------------------- results

    def add_results(
        self, batch: Sequence[SampleResult], costs: Sequence[float] | None = None, *, replace: bool = False
    ) -> None:
        """Commit a batch in one transaction. `replace=True` (retrying errors) first deletes the samples' earlier
        rows; otherwise a (run, sample, epoch) already stored is an integrity error, never a silent duplicate."""
        if not batch:
            return
        stamp = now_iso()
        sql, positional = self._insert_sql
        rows = [_result_row(r, stamp, costs[i] if costs else 0.0) for i, r in enumerate(batch)]
        params: list[Any] = rows if positional else [dict(zip(ROW_COLUMNS, row, strict=True)) for row in rows]
        with self.engine.begin() as conn:
            if replace:
                _delete_existing(conn, batch)
            conn.exec_driver_sql(sql, params)

    @functools.cached_property
    def _insert_sql(self) -> tuple[str, bool]:
        """The results INSERT as the driver's own SQL, compiled once per store: the write path then hands the
        driver one executemany of plain tuples, without SQLAlchemy building parameters row by row (issue 15:
        about a fifth of the writer's CPU per result). (sql, True) when the driver takes positional tuples."""
        stmt = insert(results).values({c: bindparam(c) for c in ROW_COLUMNS})
        compiled = stmt.compile(dialect=self.engine.dialect)
        positional = bool(compiled.positional)
        if positional and tuple(compiled.positiontup or ()) != ROW_COLUMNS:
            raise StoreError(f"unexpected parameter order in the results INSERT: {compiled.positiontup}")
        return str(compiled), positional

    def finished_keys(self, run_id: str, *, include_errors: bool = True) -> set[tuple[str, int]]:
        """(sample_id, epoch) already stored; with include_errors=False errored ones count as unfinished."""
        query = select(results.c.sample_id, results.c.epoch).where(results.c.run_id == run_id)
        if not include_errors:
            query = query.where(results.c.status != "error")
        with self.engine.connect() as conn:
            return {(r[0], r[1]) for r in conn.execute(query)}

    def iter_results(self, run_id: str, *, with_output: bool = True, batch: int = 500) -> Iterator[SampleResult]:
        """Stream a run's results in insertion order without loading them all (memory stays flat)."""
        cols = [c for c in results.c if with_output or c.name != "output_json"]
        query = select(*cols).where(results.c.run_id == run_id).order_by(results.c.id)
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=batch).execute(query).mappings():
                yield _sample_result(row)

    def run_cost(self, run_id: str) -> float:
        with self.engine.connect() as conn:
            total = conn.execute(select(func.sum(results.c.cost_usd)).where(results.c.run_id == run_id)).scalar()
        return float(total or 0.0)

    def count_results(self, run_id: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(results.c.run_id == run_id)).scalar_one())


_DELETE_ONE = results.delete().where(
    results.c.run_id == bindparam("d_run"), results.c.sample_id == bindparam("d_sample"),
    results.c.epoch == bindparam("d_epoch"),
)  # fmt: skip


def _delete_existing(conn: Connection, batch: Iterable[SampleResult]) -> None:
    """The earlier rows of retried samples, in one executemany."""
    conn.execute(_DELETE_ONE, [{"d_run": r.run_id, "d_sample": r.sample_id, "d_epoch": r.epoch} for r in batch])


ROW_COLUMNS = (
    "run_id", "sample_id", "epoch", "partition", "status", "value", "sample_hash", "tags_json", "scores_json",
    "output_json", "error", "cost_usd", "created_at",
)  # fmt: skip


@functools.cache
def _scores_adapter() -> TypeAdapter[list[Score]]:
    return TypeAdapter(list[Score])


def _result_row(r: SampleResult, stamp: str, cost: float) -> tuple[Any, ...]:
    """One results row, in ROW_COLUMNS order. The scores are encoded by pydantic-core in one call: the same JSON
    values as a `model_dump(mode="json")` per score plus `json.dumps` (compact, UTF-8 kept), for about a quarter
    of the CPU; readers parse it the same."""
    scores = _scores_adapter().dump_json(r.scores, exclude_defaults=True).decode() if r.scores else "[]"
    return (
        r.run_id, r.sample_id, r.epoch, r.partition, r.status, r.value, r.sample_hash,
        json.dumps(r.tags) if r.tags else "[]", scores,
        None if r.output is None else r.output.model_dump_json(exclude_defaults=True),
        r.error, cost, stamp,
    )  # fmt: skip


def _sample_result(row: Any) -> SampleResult:
    output_json = row.get("output_json")
    return SampleResult(
        run_id=row["run_id"],
        sample_id=row["sample_id"],
        partition=row["partition"],
        epoch=row["epoch"],
        status=row["status"],
        value=row["value"],
        scores=[Score.model_validate(s) for s in json.loads(row["scores_json"])],
        output=None if output_json is None else Output.model_validate_json(output_json),
        error=row["error"],
        sample_hash=row["sample_hash"],
        tags=json.loads(row["tags_json"]),
    )


def _run_info(row: Any) -> RunInfo:
    data = {k: row[k] for k in RunInfo.model_fields if k != "metadata"}
    return RunInfo(**data, metadata=json.loads(row["metadata_json"] or "{}"))
