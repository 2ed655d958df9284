"""Reading and writing the review tables (reviewers, queue items, assignments, labels, golden approvals).

The review store shares the run store's database and engine: one URL, and a label is committed in the
same durable way as a result (SQLite WAL, or the team's PostgreSQL).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from evalwheel.review.models import Label, LabelInput, QueueCandidate, ReviewItem
from evalwheel.review.schema import assignments, golden, items, labels, review_metadata, reviewers
from evalwheel.store import Store, StoreError
from evalwheel.store.store import now_iso

_MAX_ITEM_ID = 2**31 - 1  # review_items.item_id is an Integer: int4 on PostgreSQL
_REVIEWER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class ReviewError(ValueError):
    """A review operation on bad input (unknown item or reviewer, bad name): exit code 2 / HTTP 4xx."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ReviewStore:
    """The review tables on a run store's database (created on first use)."""

    def __init__(self, target: str | Path | Store | None = None, *, must_exist: bool = False) -> None:
        self.runs = target if isinstance(target, Store) else Store(target, must_exist=must_exist)
        self.engine = self.runs.engine
        try:
            review_metadata.create_all(self.engine)
            _add_missing_columns(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot create the review tables in {self.runs.safe_url}: {exc}") from exc

    def close(self) -> None:
        self.runs.close()

    # ------------------------------------------------------------------------------------- reviewers

    def add_reviewer(self, name: str) -> str:
        """Create a named reviewer and return their token (shown once; only its hash is stored)."""
        if not _REVIEWER_NAME.match(name):
            raise ReviewError(f"reviewer name {name!r}: use letters, digits, '.', '_' or '-' (max 100)")
        token = "ewr_" + secrets.token_urlsafe(24)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(reviewers).values(name=name, token_sha256=token_hash(token), created_at=now_iso()))
        except IntegrityError:
            raise ReviewError(f"reviewer {name!r} already exists") from None
        return token

    def reviewer_for_token(self, token: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(reviewers.c.name).where(reviewers.c.token_sha256 == token_hash(token))).first()
        return None if row is None else str(row[0])

    def knows_run(self, run_id: str) -> bool:
        """A run of the store, or the run id of queued items (monitoring items carry `monitor:APP`)."""
        with self.engine.connect() as conn:
            if conn.execute(select(items.c.item_id).where(items.c.run_id == run_id).limit(1)).first() is not None:
                return True
        try:
            self.runs.get_run(run_id)
        except StoreError:
            return False
        return True

    def list_reviewers(self) -> list[str]:
        with self.engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(select(reviewers.c.name).order_by(reviewers.c.name))]

    # ----------------------------------------------------------------------------------------- queue

    def enqueue(self, candidates: Iterable[QueueCandidate]) -> int:
        """Add candidates; an item already queued keeps its labels and gets the higher priority and all reasons.
        Returns how many new items were added."""
        added = 0
        with self.engine.begin() as conn:
            for c in candidates:
                key = and_(items.c.run_id == c.run_id, items.c.sample_id == c.sample_id, items.c.epoch == c.epoch)
                row = conn.execute(select(items.c.item_id, items.c.reasons_json, items.c.priority).where(key)).first()
                if row is not None:
                    reasons = list(dict.fromkeys([*json.loads(row[1]), *c.reasons]))
                    conn.execute(
                        update(items)
                        .where(items.c.item_id == row[0])
                        .values(reasons_json=json.dumps(reasons), priority=max(float(row[2]), c.priority))
                    )
                    continue
                conn.execute(
                    insert(items).values(
                        run_id=c.run_id,
                        sample_id=c.sample_id,
                        epoch=c.epoch,
                        spec_name=c.spec_name,
                        arm=c.arm,
                        partition=c.partition,
                        kind=c.kind,
                        reasons_json=json.dumps(c.reasons),
                        priority=c.priority,
                        sample_json=None if c.sample is None else json.dumps(c.sample),
                        output_json=None if c.output is None else json.dumps(c.output),
                        scores_json=json.dumps(c.scores),
                        status="open",
                        created_at=now_iso(),
                    )
                )
                added += 1
        return added

    def get_item(self, item_id: int) -> ReviewItem:
        if not 0 < item_id <= _MAX_ITEM_ID:  # past the column's range the driver raised OverflowError / DataError
            raise ReviewError(f"no review item {item_id}")
        with self.engine.connect() as conn:
            row = conn.execute(select(items).where(items.c.item_id == item_id)).mappings().first()
            if row is None:
                raise ReviewError(f"no review item {item_id}")
            extra = self._people(conn, [item_id])
        return _item(row, *extra.get(item_id, ([], [])))

    def item_for_result(self, run_id: str, sample_id: str) -> int | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(items.c.item_id).where(items.c.run_id == run_id, items.c.sample_id == sample_id).limit(1)
            ).first()
        return None if row is None else int(row[0])

    def queue(
        self, *, reviewer: str | None = None, status: str = "open", limit: int = 50, offset: int = 0
    ) -> tuple[list[ReviewItem], int]:
        """Items by expected value of a label (highest first). For a reviewer: items assigned to them that
        they have not labelled, then unassigned ones. Returns (page, total)."""
        query = select(items).where(items.c.status == status)
        count = select(func.count()).select_from(items).where(items.c.status == status)
        if reviewer is not None:
            mine = select(assignments.c.item_id).where(assignments.c.reviewer == reviewer)
            anyone = select(assignments.c.item_id)
            done = select(labels.c.item_id).where(labels.c.reviewer == reviewer)
            visible = and_(or_(items.c.item_id.in_(mine), items.c.item_id.not_in(anyone)), items.c.item_id.not_in(done))
            query, count = query.where(visible), count.where(visible)
            query = query.order_by(items.c.item_id.in_(mine).desc())
        query = query.order_by(items.c.priority.desc(), items.c.item_id).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query).mappings())
            total = int(conn.execute(count).scalar_one())
            people = self._people(conn, [int(r["item_id"]) for r in rows])
        return [_item(r, *people.get(int(r["item_id"]), ([], []))) for r in rows], total

    def next_item(self, reviewer: str, after: int | None = None) -> int | None:
        page, _ = self.queue(reviewer=reviewer, limit=2)
        ids = [i.item_id for i in page if i.item_id != after]
        return ids[0] if ids else None

    def _people(self, conn: Any, ids: Sequence[int]) -> dict[int, tuple[list[str], list[str]]]:
        if not ids:
            return {}
        out: dict[int, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
        for item_id, who in conn.execute(
            select(assignments.c.item_id, assignments.c.reviewer).where(assignments.c.item_id.in_(ids))
        ):
            out[int(item_id)][0].append(str(who))
        for item_id, who in conn.execute(select(labels.c.item_id, labels.c.reviewer).where(labels.c.item_id.in_(ids))):
            out[int(item_id)][1].append(str(who))
        return out

    def assign(self, item_id: int, names: Sequence[str]) -> None:
        """Assign an item to one or two reviewers (replacing earlier assignments)."""
        if not 1 <= len(set(names)) <= 2 or len(set(names)) != len(names):
            raise ReviewError("assign an item to one or two different reviewers")
        self._require_reviewers(names)
        self.get_item(item_id)
        with self.engine.begin() as conn:
            conn.execute(delete(assignments).where(assignments.c.item_id == item_id))
            for n in names:
                conn.execute(insert(assignments).values(item_id=item_id, reviewer=n, assigned_at=now_iso()))

    def _require_reviewers(self, names: Sequence[str]) -> None:
        known = set(self.list_reviewers())
        for n in names:
            if n not in known:
                raise ReviewError(f"unknown reviewer {n!r} (add one with `evalwheel review add-reviewer`)")

    def assign_pairs(self, names: Sequence[str], limit: int = 100) -> int:
        """Give the top unassigned open items to two reviewers each, rotating through `names`."""
        if len(set(names)) < 2:
            raise ReviewError("two-reviewer assignment needs at least two reviewers")
        self._require_reviewers(names)  # also with an empty queue: a typo used to report "assigned 0" (exit 0)
        with self.engine.connect() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    select(items.c.item_id)
                    .where(items.c.status == "open", items.c.item_id.not_in(select(assignments.c.item_id)))
                    .order_by(items.c.priority.desc(), items.c.item_id)
                    .limit(limit)
                )
            ]
        people = list(dict.fromkeys(names))
        for k, item_id in enumerate(ids):
            self.assign(item_id, [people[k % len(people)], people[(k + 1) % len(people)]])
        return len(ids)

    # ---------------------------------------------------------------------------------------- labels

    def save_label(self, item_id: int, reviewer: str, label: LabelInput) -> Label:
        """Store (or replace) a reviewer's label, with the grader verdicts they were shown."""
        item = self.get_item(item_id)
        if reviewer not in self.list_reviewers():
            raise ReviewError(f"unknown reviewer {reviewer!r}")
        seen = {str(s["name"]): s.get("passed") for s in item.scores}
        versions = grader_versions(item, self.runs)
        row = {
            "checks_json": json.dumps(label.checks, sort_keys=True),
            "dimensions_json": json.dumps(label.dimensions, sort_keys=True),
            "taxonomy_json": json.dumps([m.value for m in label.taxonomy]),
            "escalate": label.escalate,
            "notes": label.notes,
            "corrected_reply": label.corrected_reply or None,
            "graders_seen_json": json.dumps(seen, sort_keys=True),
            "grader_versions_json": json.dumps(versions, sort_keys=True),
            "created_at": now_iso(),
        }
        with self.engine.begin() as conn:
            # The item's row is locked first (PostgreSQL; SQLite runs one writer at a time anyway): two saves of
            # the same label at once (a double-clicked Save) then run one after the other. Without it both
            # deleted nothing, both inserted, and the second died on the unique key.
            conn.execute(select(items.c.item_id).where(items.c.item_id == item_id).with_for_update())
            conn.execute(delete(labels).where(labels.c.item_id == item_id, labels.c.reviewer == reviewer))
            conn.execute(insert(labels).values(item_id=item_id, reviewer=reviewer, **row))
            n = conn.execute(select(func.count()).where(labels.c.item_id == item_id)).scalar_one()
            wanted = conn.execute(select(func.count()).where(assignments.c.item_id == item_id)).scalar_one()
            if item.status == "open" and int(n) >= max(1, int(wanted)):
                conn.execute(update(items).where(items.c.item_id == item_id).values(status="done"))
        return self.labels_for(item_id)[reviewer]

    def labels_for(self, item_id: int) -> dict[str, Label]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(labels).where(labels.c.item_id == item_id).order_by(labels.c.reviewer))
            return {str(r["reviewer"]): _label(r) for r in rows.mappings()}

    def labels_version(self) -> tuple[int, int]:
        """(number of labels, newest label id): changes whenever a label is added or replaced."""
        with self.engine.connect() as conn:
            n, newest = conn.execute(select(func.count(), func.max(labels.c.label_id))).one()
        return int(n), int(newest or 0)

    def labelled_items(
        self, run_id: str | None = None, *, with_content: bool = True
    ) -> list[tuple[ReviewItem, list[Label]]]:
        """Every item with at least one label (optionally of one run), with its labels. `with_content=False`
        leaves out the sample and output snapshots (agreement figures need only verdicts)."""
        cols = [c for c in items.c if with_content or c.name not in ("sample_json", "output_json")]
        query = select(*cols).where(items.c.item_id.in_(select(labels.c.item_id))).order_by(items.c.item_id)
        if run_id is not None:
            query = query.where(items.c.run_id == run_id)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query).mappings())
            ids = [int(r["item_id"]) for r in rows]
            by_item: dict[int, list[Label]] = defaultdict(list)
            for chunk in range(0, len(ids), 500):
                part = ids[chunk : chunk + 500]
                for lr in conn.execute(select(labels).where(labels.c.item_id.in_(part))).mappings():
                    by_item[int(lr["item_id"])].append(_label(lr))
        out = []
        for r in rows:
            found = by_item[int(r["item_id"])]
            out.append((_item(r, [], [lb.reviewer for lb in found]), found))
        return out

    def check_names(self) -> set[str]:
        """Every check name the store knows: those reviewers labelled and the grader scores shown on queued items
        (a check nobody has labelled yet is still a check). Why: `review export --check TYPO` wrote an empty
        labels file with exit 0 instead of saying the name matches nothing."""
        names: set[str] = set()
        with self.engine.connect() as conn:
            for (checks_json,) in conn.execute(select(labels.c.checks_json)):
                names.update(json.loads(checks_json))
            for (scores_json,) in conn.execute(select(items.c.scores_json)):
                names.update(str(s["name"]) for s in json.loads(scores_json) if isinstance(s, dict) and "name" in s)
        return names

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            by_status: dict[str, int] = dict(
                conn.execute(select(items.c.status, func.count()).group_by(items.c.status)).all()
            )
            n_labels = conn.execute(select(func.count()).select_from(labels)).scalar_one()
        return {
            "open": int(by_status.get("open", 0)),
            "done": int(by_status.get("done", 0)),
            "golden": int(by_status.get("golden", 0)),
            "labels": int(n_labels),
        }

    # ---------------------------------------------------------------------------------------- golden

    def record_golden(
        self, item_id: int, dataset: str, sample_id: str, approvers: list[str], approval: dict[str, Any]
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(golden).values(
                    item_id=item_id,
                    dataset=dataset,
                    golden_sample_id=sample_id,
                    approved_by_json=json.dumps(approvers),
                    approval_json=json.dumps(approval, sort_keys=True),
                    approved_at=str(approval["approved_at"]),
                )
            )
            conn.execute(update(items).where(items.c.item_id == item_id).values(status="golden"))

    def golden_record(self, item_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(golden.c.approval_json).where(golden.c.item_id == item_id)).first()
        return None if row is None else dict(json.loads(row[0]))


# Columns added after the review tables first shipped: (table, column, SQL type and default). Opening an
# older store adds them, so its labels stay readable.
_ADDED_COLUMNS = [("review_labels", "grader_versions_json", "TEXT NOT NULL DEFAULT '{}'")]


def _add_missing_columns(engine: Any) -> None:
    from sqlalchemy import inspect, text

    inspector = inspect(engine)
    for table, column, ddl in _ADDED_COLUMNS:
        if column not in {c["name"] for c in inspector.get_columns(table)}:
            with engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))


def _item(row: Any, assigned: list[str], labelled_by: list[str]) -> ReviewItem:
    return ReviewItem(
        item_id=int(row["item_id"]),
        run_id=row["run_id"],
        sample_id=row["sample_id"],
        epoch=int(row["epoch"]),
        spec_name=row["spec_name"],
        arm=row["arm"],
        partition=row["partition"],
        kind=row["kind"],
        reasons=json.loads(row["reasons_json"]),
        priority=float(row["priority"]),
        sample=None if row.get("sample_json") is None else json.loads(row["sample_json"]),
        output=None if row.get("output_json") is None else json.loads(row["output_json"]),
        scores=json.loads(row["scores_json"]),
        status=row["status"],
        created_at=row["created_at"],
        assigned=sorted(assigned),
        labelled_by=sorted(labelled_by),
    )


def _label(row: Any) -> Label:
    return Label(
        label_id=int(row["label_id"]),
        item_id=int(row["item_id"]),
        reviewer=row["reviewer"],
        created_at=row["created_at"],
        checks=json.loads(row["checks_json"]),
        dimensions=json.loads(row["dimensions_json"]),
        taxonomy=json.loads(row["taxonomy_json"]),
        escalate=row["escalate"],
        notes=row["notes"] or "",
        corrected_reply=row["corrected_reply"],
        graders_seen=json.loads(row["graders_seen_json"]),
        grader_versions=json.loads(row["grader_versions_json"] or "{}"),
    )


def grader_versions(item: ReviewItem, runs: Store) -> dict[str, str]:
    """Which version of each grader produced the verdicts shown: the evalwheel version and the spec hash of
    the run (a spec hash covers the grader configuration), or the monitoring app for production items."""
    from evalwheel import __version__

    spec_hash = ""
    if not item.run_id.startswith("monitor:"):
        try:
            spec_hash = runs.get_run(item.run_id).spec_hash
        except StoreError:
            spec_hash = ""
    names = {str(s.get("metadata", {}).get("grader") or str(s["name"]).split(".")[0]) for s in item.scores}
    tag = f"evalwheel {__version__}" + (f", spec {spec_hash}" if spec_hash else f", {item.run_id}")
    return {n: tag for n in sorted(names)}
