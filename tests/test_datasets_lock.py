"""The golden lock: golden edits fail until re-locked, other partitions move freely; the `dataset` sub-app."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalwheel.datasets.cli import dataset_app
from evalwheel.datasets.lock import (
    GoldenLockError,
    LockFileError,
    check_golden_lock,
    default_lock_path,
    read_lock,
    verify_golden_lock,
    write_lock,
)
from evalwheel.datasets.samples import load_dataset, scan_dataset, short_hash

DATA = Path(__file__).parent / "data" / "datasets"
runner = CliRunner()


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    """A writable copy of the mixed fixture (2 golden samples, one of them backed by a session file)."""
    shutil.copytree(DATA, tmp_path / "ds")
    return tmp_path / "ds" / "mixed.jsonl"


def rewrite(path: Path, edit: Any) -> None:
    """Apply `edit(list_of_records)` to a JSONL dataset (comment lines dropped)."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("{")]
    edit(records)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def by_id(records: list[dict[str, Any]], sample_id: str) -> dict[str, Any]:
    return next(r for r in records if r["id"] == sample_id)


def lock_error(ds: Path) -> GoldenLockError:
    with pytest.raises(GoldenLockError) as info:
        verify_golden_lock(ds)
    return info.value


def test_lock_file_contents_and_pass(ds: Path) -> None:
    path = write_lock(scan_dataset(ds))
    assert path == ds.with_name("mixed.jsonl.lock.json") == default_lock_path(ds)
    lock = read_lock(path)
    summary = scan_dataset(ds)
    assert lock.dataset == "mixed.jsonl" and lock.dataset_hash == summary.version_hash
    assert lock.golden == {k: summary.sample_hashes[k] for k in ("refund-window", "slicing-session")}
    verify_golden_lock(ds)  # no error
    verify_golden_lock(load_dataset(ds))  # a loaded Dataset works too
    before = path.read_bytes()
    write_lock(scan_dataset(ds))
    assert path.read_bytes() == before  # deterministic: re-locking an unchanged dataset shows no diff


def test_golden_change_names_the_sample_and_the_fix(ds: Path) -> None:
    write_lock(scan_dataset(ds))
    old = scan_dataset(ds).sample_hashes["refund-window"]
    rewrite(ds, lambda rs: by_id(rs, "refund-window").update(reference="45 days from delivery."))
    new = scan_dataset(ds).sample_hashes["refund-window"]
    err = lock_error(ds)
    msg = str(err)
    assert f"changed  refund-window: {short_hash(old)} -> {short_hash(new)}" in msg
    assert "1 changed, 0 added, 0 removed" in msg
    assert f"evalwheel dataset lock {ds}" in msg and "slicing-session" not in msg
    assert err.diff is not None and err.diff.changed == [("refund-window", old, new)]


def test_golden_session_file_edit_trips_the_lock(ds: Path) -> None:
    write_lock(scan_dataset(ds))
    session = ds.parent / "sessions" / "slicing.json"
    data = json.loads(session.read_text(encoding="utf-8"))
    data["trajectory"][3]["content"] = "Use xs[-2:]."
    session.write_text(json.dumps(data), encoding="utf-8")
    err = lock_error(ds)
    assert err.diff is not None and [c[0] for c in err.diff.changed] == ["slicing-session"]


def test_golden_add_and_remove(ds: Path) -> None:
    write_lock(scan_dataset(ds))

    def edit(rs: list[dict[str, Any]]) -> None:
        rs.remove(by_id(rs, "refund-window"))
        rs.append({"id": "new-golden", "input": "Can I exchange instead?"})

    rewrite(ds, edit)
    msg = str(lock_error(ds))
    assert "0 changed, 1 added, 1 removed" in msg
    assert "added    new-golden: (not locked) ->" in msg
    assert "removed  refund-window:" in msg and "-> (missing)" in msg


def test_moving_a_sample_out_of_golden_counts_as_removed(ds: Path) -> None:
    write_lock(scan_dataset(ds))
    rewrite(ds, lambda rs: by_id(rs, "refund-window").update(partition="regression"))
    err = lock_error(ds)
    assert err.diff is not None and [r[0] for r in err.diff.removed] == ["refund-window"] and not err.diff.changed


def test_non_golden_changes_do_not_trip_the_lock(ds: Path) -> None:
    write_lock(scan_dataset(ds))
    before = scan_dataset(ds).version_hash

    def edit(rs: list[dict[str, Any]]) -> None:
        by_id(rs, "refund-typo")["reference"] = "Thirty days."
        rs.remove(by_id(rs, "shipping-eu"))
        rs.append({"id": "from-prod-7", "partition": "regression", "input": "refund??"})

    rewrite(ds, edit)
    assert scan_dataset(ds).version_hash != before  # the dataset did change...
    verify_golden_lock(ds)  # ...but not its golden partition


def test_missing_lock(ds: Path, tmp_path: Path) -> None:
    with pytest.raises(GoldenLockError, match="2 golden sample\\(s\\) but no lock file") as info:
        verify_golden_lock(ds)
    assert info.value.diff is None
    verify_golden_lock(ds, require=False)
    no_golden = tmp_path / "ng.jsonl"
    no_golden.write_text('{"id": "a", "partition": "regression", "input": "x"}\n', encoding="utf-8")
    verify_golden_lock(no_golden)  # nothing to lock, nothing required


def test_custom_lock_path_and_malformed_lock(ds: Path, tmp_path: Path) -> None:
    custom = tmp_path / "locks" / "golden.json"
    write_lock(scan_dataset(ds), custom)
    assert read_lock(custom).dataset == "../ds/mixed.jsonl"
    verify_golden_lock(ds, custom)
    rewrite(ds, lambda rs: by_id(rs, "refund-window").update(tags=["changed"]))
    with pytest.raises(GoldenLockError, match=f"--lock {custom}"):
        verify_golden_lock(ds, custom)
    custom.write_text('{"lock_version": 1, "dataset": "x", "dataset_hash": "h", "golden": {"a": 3}}', encoding="utf-8")
    with pytest.raises(LockFileError, match=r"golden\.json: \$\.golden\.a: Input should be a valid string"):
        verify_golden_lock(ds, custom)
    custom.write_text("{", encoding="utf-8")
    with pytest.raises(LockFileError, match="invalid JSON"):
        check_golden_lock(scan_dataset(ds), custom)


# --- CLI -------------------------------------------------------------------------------------------------


def test_cli_validate_table_and_json(ds: Path) -> None:
    result = runner.invoke(dataset_app, ["validate", str(ds)])
    assert result.exit_code == 0, result.output
    assert "golden" in result.stdout and "total" in result.stdout and "no golden lock" in result.stdout
    assert f"version {scan_dataset(ds).short_version}" in result.stdout
    result = runner.invoke(dataset_app, ["validate", str(ds), "--json"])
    data = json.loads(result.stdout)
    assert data["valid"] is True and data["samples"] == 5
    assert data["counts"] == {"golden": 2, "regression": 1, "adversarial": 1, "distribution": 1}
    assert data["lock"]["status"] == "absent"
    result = runner.invoke(dataset_app, ["validate", str(ds), "--require-lock"])
    assert result.exit_code == 2 and "no lock file" in result.stderr


def test_cli_lock_then_change_then_relock(ds: Path) -> None:
    result = runner.invoke(dataset_app, ["lock", str(ds)])
    assert result.exit_code == 0, result.output
    assert "locked 2 golden sample(s)" in result.stdout and default_lock_path(ds).exists()
    assert runner.invoke(dataset_app, ["validate", str(ds)]).exit_code == 0
    rewrite(ds, lambda rs: by_id(rs, "slicing-session").update(tags=["studymode", "slicing"]))
    result = runner.invoke(dataset_app, ["validate", str(ds), "--json"])
    assert result.exit_code == 2
    assert "changed  slicing-session:" in result.stderr and "evalwheel dataset lock" in result.stderr
    data = json.loads(result.stdout)
    assert data["valid"] is False and data["lock"]["status"] == "mismatch"
    assert [c["id"] for c in data["lock"]["changed"]] == ["slicing-session"]
    result = runner.invoke(dataset_app, ["lock", str(ds)])
    assert result.exit_code == 0 and "changed  slicing-session:" in result.stdout  # shows what the re-lock accepts
    assert runner.invoke(dataset_app, ["validate", str(ds)]).exit_code == 0


def test_cli_bad_dataset_exits_2_listing_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "a", "input": "x"}\n{"id": "a", "input": "y"}\n{"id": "b", "partition": "g"}\n', encoding="utf-8"
    )
    result = runner.invoke(dataset_app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "line 2: $.id: duplicate id 'a' (first at line 1)" in result.stderr
    assert "line 3: $.partition:" in result.stderr and "line 3: $.input: required field is missing" in result.stderr
    assert "3 problem(s)" in result.stderr
    result = runner.invoke(dataset_app, ["validate", str(bad), "--json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 2 and data["valid"] is False
    assert [(e["where"], e["field"]) for e in data["errors"]] == [
        ("line 2", "$.id"),
        ("line 3", "$.partition"),
        ("line 3", "$.input"),
    ]
    result = runner.invoke(dataset_app, ["lock", str(bad)])
    assert result.exit_code == 2 and not default_lock_path(bad).exists()
