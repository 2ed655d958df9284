"""Hostile-user audit of the review workspace: each test is a defect found by using the documented commands."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from evalwheel.datasets.lock import read_lock
from evalwheel.review import LabelInput, ReviewError, ReviewStore, build_candidates, promote_to_golden
from evalwheel.review.cli import review_app
from evalwheel.store import Store
from evalwheel.types import Output, RunInfo, SampleResult, Score
from evalwheel.web import create_app

runner = CliRunner()


def _fill(store: Store, tmp_path: Path) -> None:
    """One finished run of four escalated results over a small dataset file (each is queued)."""
    dataset = tmp_path / "data.jsonl"
    dataset.write_text(
        "".join(json.dumps({"id": f"s{i}", "input": f"question {i}"}) + "\n" for i in range(4)), encoding="utf-8"
    )
    store.create_run(RunInfo(run_id="run-a", spec_name="spec", arm="a", metadata={"dataset": str(dataset)}))
    store.add_results(
        [
            SampleResult(
                run_id="run-a",
                sample_id=f"s{i}",
                partition="distribution",
                status="failed",
                scores=[Score(name="fid", value=0.0, passed=False, metadata={"grader": "g", "escalate": True})],
                output=Output(text=f"answer {i}"),
            )
            for i in range(4)
        ]
    )
    store.set_run_status("run-a", "finished")


@pytest.fixture
def review(store_url: str, tmp_path: Path) -> ReviewStore:
    rs = ReviewStore(store_url)
    _fill(rs.runs, tmp_path)
    rs.enqueue(build_candidates(rs.runs, ["run-a"], spot_checks=0))
    for name in ("ana", "ben"):
        rs.add_reviewer(name)
    for item in rs.queue(limit=10)[0]:
        for who in ("ana", "ben"):
            rs.save_label(item.item_id, who, LabelInput(checks={"fid": "fail"}, escalate=True))
    return rs


def test_an_item_id_beyond_the_integer_column_is_no_such_item(review: ReviewStore, tmp_path: Path) -> None:
    """`review promote 99999999999999999999` was an OverflowError traceback (exit 1), and the item page a 500."""
    huge = "99999999999999999999"
    res = runner.invoke(
        review_app,
        ["promote", huge, "--dataset", str(tmp_path / "g.jsonl"), "--approver", "ana", "--store", review.runs.url],
    )
    assert res.exit_code == 2, res.output
    assert f"no review item {huge}" in res.output and "Traceback" not in res.output
    with pytest.raises(ReviewError, match="no review item"):
        review.get_item(2**31)  # the Integer column: PostgreSQL's int4 ends below this
    with TestClient(create_app(review)) as c:
        r = c.get(f"/review/items/{huge}")
        assert r.status_code == 404 and "no review item" in r.text


def test_a_blank_approver_is_refused(review: ReviewStore, tmp_path: Path) -> None:
    """`--approver ''` promoted the sample with `"approved_by": ""` in the approval record: no approval at all."""
    item = review.queue(status="done", limit=1)[0][0]
    golden = tmp_path / "golden.jsonl"
    for approver in ("", "   "):
        res = runner.invoke(
            review_app,
            [
                "promote",
                str(item.item_id),
                "--dataset",
                str(golden),
                "--approver",
                approver,
                "--store",
                review.runs.url,
            ],
        )
        assert res.exit_code == 2 and "--approver" in res.output, res.output
    assert not golden.exists() and review.get_item(item.item_id).status == "done"


def test_concurrent_promotions_into_one_dataset_keep_every_sample(review: ReviewStore, tmp_path: Path) -> None:
    """Promotions read the dataset, append and replace it: two at once (two reviewers clicking promote on the
    server, or a CLI promotion meanwhile) each wrote their own line over the other's. Every promotion was
    acknowledged and recorded as golden, but the dataset lost samples."""
    golden = tmp_path / "golden" / "reviewed.jsonl"
    ids = [i.item_id for i in review.queue(status="done", limit=10)[0]]
    assert len(ids) == 4
    errors: list[BaseException] = []
    start = threading.Barrier(len(ids))

    def promote(item_id: int) -> None:
        rs = ReviewStore(review.runs.url)
        try:
            start.wait()
            promote_to_golden(rs, item_id, golden, "ana")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            rs.close()

    threads = [threading.Thread(target=promote, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    lines = [json.loads(x) for x in golden.read_text(encoding="utf-8").splitlines()]
    assert sorted(x["id"] for x in lines) == ["s0", "s1", "s2", "s3"]
    assert sorted(read_lock(golden.with_name("reviewed.jsonl.lock.json")).golden) == ["s0", "s1", "s2", "s3"]
    approvals = golden.with_name("reviewed.jsonl.approvals.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(approvals) == 4


def test_a_promotion_killed_before_the_store_recorded_it_is_finished_by_a_retry(
    review: ReviewStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill between writing the dataset and recording the promotion left the sample in the dataset and the item
    not golden; promoting again said "already has a sample with id" for ever."""
    item = review.queue(status="done", limit=1)[0][0]
    golden = tmp_path / "golden.jsonl"

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the process dies here

    monkeypatch.setattr(review, "record_golden", killed)
    with pytest.raises(KeyboardInterrupt):
        promote_to_golden(review, item.item_id, golden, "ana")
    monkeypatch.undo()
    assert review.get_item(item.item_id).status == "done" and len(golden.read_text().splitlines()) == 1
    record = promote_to_golden(review, item.item_id, golden, "ana")
    assert review.get_item(item.item_id).status == "golden"
    assert [json.loads(x)["id"] for x in golden.read_text(encoding="utf-8").splitlines()] == [record["sample_id"]]
    approvals = golden.with_name("golden.jsonl.approvals.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(approvals) == 1
    with pytest.raises(ReviewError, match="already golden"):
        promote_to_golden(review, item.item_id, golden, "ana")


def test_export_of_an_unknown_run_is_refused_and_keeps_out(review: ReviewStore, tmp_path: Path) -> None:
    """`review export --run TYPO` replaced an existing --out with an empty file and exit 0."""
    out = tmp_path / "labels.jsonl"
    out.write_text("keep me\n", encoding="utf-8")
    url = review.runs.url
    res = runner.invoke(review_app, ["export", "--check", "fid", "--out", str(out), "--run", "nope", "--store", url])
    assert res.exit_code == 2 and "--run" in res.output and "'nope'" in res.output, res.output
    assert out.read_text(encoding="utf-8") == "keep me\n"
    res = runner.invoke(review_app, ["export", "--check", "fid", "--out", str(out), "--run", "run-a", "--store", url])
    assert res.exit_code == 0 and "wrote 4 label(s)" in res.output, res.output


def test_http_export_of_an_unknown_check_is_a_400(review: ReviewStore) -> None:
    """`/review/export.jsonl?check=TYPO` answered 200 with an empty labels file (the CLI refuses the same name)."""
    with TestClient(create_app(review)) as c:
        r = c.get("/review/export.jsonl", params={"check": "nope"})
        assert r.status_code == 400 and "unknown check" in r.text and "fid" in r.text
        ok = c.get("/review/export.jsonl", params={"check": "fid"})
        assert ok.status_code == 200 and ok.text.count("\n") == 4


def test_a_non_numeric_dimension_names_the_field(review: ReviewStore) -> None:
    """`dim:clarity=abc` answered "invalid literal for int() with base 10: 'abc'", naming neither field nor scale."""
    item = review.queue(status="done", limit=1)[0][0]
    token = review.add_reviewer("cy")
    with TestClient(create_app(review)) as c:
        c.get("/")
        csrf = c.cookies.get("ew_csrf")
        c.cookies.set("ew_token", token)
        r = c.post(f"/review/items/{item.item_id}/label", data={"csrf": csrf, "dim:clarity": "abc"})
        assert r.status_code == 400 and "dim:clarity" in r.text and "0, 1 or 2" in r.text, r.text
        assert "invalid literal" not in r.text
    assert "cy" not in review.labels_for(item.item_id)


def test_calibrate_from_a_mistyped_store_creates_nothing(tmp_path: Path) -> None:
    """`calibrate ... --labels store:TYPO.sqlite` created an empty SQLite store at the typo (the review verbs refuse
    a missing --store); now exit 2 naming --labels, and no file appears."""
    from evalwheel.cli import app

    typo = tmp_path / "typo.sqlite"
    res = runner.invoke(
        app, ["calibrate", "studymode.fidelity", "--score", "diagnosis_first", "--labels", f"store:{typo}", "--json"]
    )
    assert res.exit_code == 2, res.output
    assert f"--labels store:{typo}: no such file" in res.output and "--store" not in res.output
    assert not typo.exists()


def test_simultaneous_saves_of_one_label_keep_one_row(review: ReviewStore) -> None:
    """Save is delete-then-insert: on PostgreSQL two saves of the same reviewer's label at once both deleted
    nothing and both inserted, and the second died on the unique key (a 500 for a double-clicked Save)."""
    item = review.queue(status="done", limit=1)[0][0]
    errors: list[BaseException] = []
    start = threading.Barrier(12)

    def save(k: int) -> None:
        rs = ReviewStore(review.runs.url)
        try:
            start.wait()
            rs.save_label(item.item_id, "ana", LabelInput(checks={"fid": "fail"}, escalate=True, notes=f"take {k}"))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            rs.close()

    threads = [threading.Thread(target=save, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    labels = review.labels_for(item.item_id)
    assert sorted(labels) == ["ana", "ben"] and labels["ana"].notes.startswith("take ")
