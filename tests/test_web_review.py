"""The review store and queue on both backends (SQLite, and the real PostgreSQL server in CI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalwheel.datasets.lock import read_lock
from evalwheel.datasets.samples import scan_dataset
from evalwheel.review import (
    LabelInput,
    ReviewError,
    ReviewStore,
    build_candidates,
    export_labels,
    grader_vs_human,
    inter_annotator,
    load_store_labels,
    promote_to_golden,
)
from evalwheel.review.queue import binary_entropy
from evalwheel.stats.krippendorff import krippendorff_alpha
from evalwheel.store import Store
from evalwheel.types import Evidence, Output, RunInfo, SampleResult, Score


def _score(name: str, passed: bool, *, grader: str = "g", confidence: float | None = None, **meta: object) -> Score:
    return Score(
        name=name,
        value=1.0 if passed else 0.0,
        passed=passed,
        confidence=confidence,
        metadata={"grader": grader, **meta},
    )


def _result(run: str, sid: str, status: str, scores: list[Score], partition: str = "distribution") -> SampleResult:
    return SampleResult(
        run_id=run,
        sample_id=sid,
        partition=partition,
        status=status,
        scores=scores,  # type: ignore[arg-type]
        output=Output(text=f"answer to {sid}"),
    )


def _fill(store: Store, tmp_path: Path) -> None:
    """Two arms of one spec over a small dataset file; every kind of queue reason appears once."""
    dataset = tmp_path / "data.jsonl"
    dataset.write_text(
        "".join(
            json.dumps({"id": f"s{i}", "partition": "distribution", "input": f"question {i}", "reference": f"ref {i}"})
            + "\n"
            for i in range(30)
        )
    )
    for run, arm in (("run-a", "a"), ("run-b", "b")):
        store.create_run(RunInfo(run_id=run, spec_name="spec", arm=arm, metadata={"dataset": str(dataset)}))
    rows_a = [
        _result("run-a", "s0", "failed", [_score("fid", False, escalate=True)]),  # escalated
        _result("run-a", "s1", "failed", [_score("x", True, grader="g1"), _score("y", False, grader="g2")]),
        _result("run-a", "s2", "passed", [_score("j", True, votes={"pass": 2, "fail": 1})]),  # judge panel split
        _result("run-a", "s3", "passed", [_score("x", True)]),  # arms disagree (fails in b)
    ] + [_result("run-a", f"s{i}", "passed", [_score("x", True, confidence=0.99)]) for i in range(4, 30)]
    rows_b = [_result("run-b", f"s{i}", "failed" if i == 3 else "passed", [_score("x", i != 3)]) for i in range(30)]
    store.add_results(rows_a)
    store.add_results(rows_b)
    store.set_run_status("run-a", "finished")
    store.set_run_status("run-b", "finished")


@pytest.fixture
def review(store_url: str, tmp_path: Path) -> ReviewStore:
    rs = ReviewStore(store_url)
    _fill(rs.runs, tmp_path)
    return rs


def test_queue_reasons_and_expected_value_order(review: ReviewStore) -> None:
    cands = {c.sample_id: c for c in build_candidates(review.runs, ["run-a"], spot_checks=3, seed=1)}
    assert cands["s0"].kind == "escalated"
    assert any("graders disagree" in r for r in cands["s1"].reasons)
    assert any("judge panel split" in r for r in cands["s2"].reasons)
    assert any("failed in b" in r for r in cands["s3"].reasons), cands["s3"].reasons
    spot = [c for c in cands.values() if c.kind == "spot_check"]
    assert len(spot) == 3 and all(c.sample_id not in {"s0", "s1", "s2", "s3"} for c in spot)
    # the dataset sample (input + reference) is snapshotted with the item
    assert cands["s1"].sample is not None
    assert {k: cands["s1"].sample[k] for k in ("id", "input", "reference")} == {
        "id": "s1",
        "input": "question 1",
        "reference": "ref 1",
    }
    assert review.enqueue(cands.values()) == 7
    assert review.enqueue(cands.values()) == 0  # idempotent
    page, total = review.queue(limit=10)
    assert total == 7
    priorities = [i.priority for i in page]
    assert priorities == sorted(priorities, reverse=True)
    # s0: escalated, fails here (p=0.1) but passes in arm b (p=1): entropy of the mean + the escalation floor
    assert page[0].sample_id == "s0" and page[0].priority == pytest.approx(binary_entropy(0.55) + 0.5, abs=1e-5)
    # s1: graders split (0.9, 0.1), own verdict fail (0.1), arm b pass (1.0)
    assert page[1].sample_id == "s1" and page[1].priority == pytest.approx(binary_entropy(2.1 / 4), abs=1e-5)
    assert [i.kind for i in page[-3:]] == ["spot_check"] * 3


def test_binary_entropy() -> None:
    assert binary_entropy(0.5) == pytest.approx(1.0)
    assert binary_entropy(0.0) == 0.0 == binary_entropy(1.0)
    assert binary_entropy(0.1) == pytest.approx(0.469, abs=1e-3)


def test_reviewers_tokens_assignment_and_labels(review: ReviewStore) -> None:
    review.enqueue(build_candidates(review.runs, ["run-a"], spot_checks=0))
    tok_ana = review.add_reviewer("ana")
    review.add_reviewer("ben")
    review.add_reviewer("cy")
    assert review.reviewer_for_token(tok_ana) == "ana"
    assert review.reviewer_for_token("ewr_wrong") is None
    with pytest.raises(ReviewError, match="already exists"):
        review.add_reviewer("ana")
    with pytest.raises(ReviewError, match="reviewer name"):
        review.add_reviewer("bad name;")
    assert review.assign_pairs(["ana", "ben", "cy"], limit=10) == 4
    first = review.queue(limit=1)[0][0]
    assert len(first.assigned) == 2
    with pytest.raises(ReviewError, match="unknown reviewer"):
        review.assign(first.item_id, ["ana", "zed"])
    # a reviewer sees their assigned items first, and not the ones they labelled
    mine, _ = review.queue(reviewer=first.assigned[0])
    assert mine[0].item_id == first.item_id
    review.save_label(first.item_id, first.assigned[0], LabelInput(checks={"fid": "fail"}))
    again, _ = review.queue(reviewer=first.assigned[0])
    assert first.item_id not in [i.item_id for i in again]
    assert review.get_item(first.item_id).status == "open"  # one of two assigned reviewers labelled
    review.save_label(first.item_id, first.assigned[1], LabelInput(checks={"fid": "fail"}))
    assert review.get_item(first.item_id).status == "done"
    stored = review.labels_for(first.item_id)[first.assigned[1]]
    assert stored.graders_seen == {s["name"]: s.get("passed") for s in first.scores}


def test_label_validation() -> None:
    with pytest.raises(ValueError, match="0-2"):
        LabelInput(dimensions={"accuracy": 4})
    with pytest.raises(ValueError, match="unknown dimension"):
        LabelInput(dimensions={"charisma": 1})
    with pytest.raises(ValueError):
        LabelInput(checks={"x": "maybe"})  # type: ignore[dict-item]


def test_agreement_export_and_calibration_items(review: ReviewStore, tmp_path: Path) -> None:
    review.enqueue(build_candidates(review.runs, ["run-a"], spot_checks=0))
    review.add_reviewer("ana")
    review.add_reviewer("ben")
    items = review.queue(limit=10)[0]
    # s0 (grader fail): both say fail; s1: x passes per grader, humans split; s2: j pass, both pass; s3: x pass, both fail
    verdicts = {
        "s0": ("fid", "fail", "fail"),
        "s1": ("x", "pass", "fail"),
        "s2": ("j", "pass", "pass"),
        "s3": ("x", "fail", "fail"),
    }
    for it in items:
        check, a, b = verdicts[it.sample_id]
        review.save_label(it.item_id, "ana", LabelInput(checks={check: a}, dimensions={"clarity": 2}))
        review.save_label(it.item_id, "ben", LabelInput(checks={check: b}, dimensions={"clarity": 1}))
    labelled = review.labelled_items()
    raters = {r.name: r for r in inter_annotator(labelled)}
    assert raters["x"].items == 2 and raters["x"].percent == 0.5
    assert raters["clarity"].krippendorff_alpha is not None and raters["clarity"].krippendorff_alpha < 0
    humans = {h.name: h for h in grader_vs_human(labelled)}
    assert humans["x"].n == 1 and humans["x"].accuracy == 0.0  # s3: grader pass, humans fail; s1 disputed
    assert humans["fid"].accuracy == 1.0 and humans["j"].accuracy == 1.0
    out = tmp_path / "labels.jsonl"
    written, skipped = export_labels(review, "x", out)
    assert (written, skipped) == (1, 1)
    line = json.loads(out.read_text())
    assert line["label"] is False and line["input"] == "question 3" and line["reference"] == "ref 3"
    assert line["output"]["text"] == "answer to s3"
    from evalwheel.calibration.labels import load_labels

    assert [i.id for i in load_labels(out)] == ["run-a/s3"]
    assert [i.id for i in load_store_labels("store:" + review.runs.url, "x")] == ["run-a/s3"]


def test_golden_only_when_two_reviewers_agree(review: ReviewStore, tmp_path: Path) -> None:
    review.enqueue(build_candidates(review.runs, ["run-a"], spot_checks=0))
    review.add_reviewer("ana")
    review.add_reviewer("ben")
    item = next(i for i in review.queue(limit=10)[0] if i.sample_id == "s3")
    golden = tmp_path / "golden" / "reviewed.jsonl"
    golden.parent.mkdir()
    review.save_label(item.item_id, "ana", LabelInput(checks={"x": "fail"}, corrected_reply="the right answer"))
    with pytest.raises(ReviewError, match="two reviewers"):
        promote_to_golden(review, item.item_id, golden, "ana")
    review.save_label(item.item_id, "ben", LabelInput(checks={"x": "pass"}))
    with pytest.raises(ReviewError, match="x: fail vs pass"):
        promote_to_golden(review, item.item_id, golden, "ana")
    review.save_label(item.item_id, "ben", LabelInput(checks={"x": "fail"}))
    record = promote_to_golden(review, item.item_id, golden, "ana")
    summary = scan_dataset(golden)
    assert list(summary.golden) == ["s3"]
    assert read_lock(golden.with_name("reviewed.jsonl.lock.json")).golden == summary.golden
    sample = json.loads(golden.read_text())
    assert sample["reference"] == "the right answer" and sample["partition"] == "golden"
    approvals = [json.loads(x) for x in golden.with_name("reviewed.jsonl.approvals.jsonl").read_text().splitlines()]
    assert approvals[0]["reviewers"] == ["ana", "ben"] and approvals[0]["approved_by"] == "ana"
    assert review.golden_record(item.item_id) == record
    assert review.get_item(item.item_id).status == "golden"
    with pytest.raises(ReviewError, match="already golden"):
        promote_to_golden(review, item.item_id, golden, "ana")


def test_krippendorff_alpha_reference_values() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 4 coders x 12 units example
    data = [
        [1, 1, None, 1],
        [2, 2, 3, 2],
        [3, 3, 3, 3],
        [3, 3, 3, 3],
        [2, 2, 2, 2],
        [1, 2, 3, 4],
        [4, 4, 4, 4],
        [1, 1, 2, 1],
        [2, 2, 2, 2],
        [None, 5, 5, 5],
        [None, None, 1, 1],
        [None, None, 3, None],
    ]
    assert krippendorff_alpha(data, "nominal") == pytest.approx(0.743, abs=1e-3)
    assert krippendorff_alpha(data, "interval") == pytest.approx(0.849, abs=1e-3)
    assert krippendorff_alpha([[1, 1], [1, 1]]) is None  # no variation: undefined, not 1.0
    assert krippendorff_alpha([[1], [2]]) is None


def test_evidence_model_roundtrip_kept_in_snapshot(review: ReviewStore) -> None:
    r = _result(
        "run-a",
        "ev",
        "failed",
        [Score(name="fid", passed=False, evidence=[Evidence(turn_index=1, snippet="x")], metadata={"escalate": True})],
    )
    review.runs.add_results([r])
    cands = [c for c in build_candidates(review.runs, ["run-a"], spot_checks=0) if c.sample_id == "ev"]
    assert cands[0].scores[0]["evidence"] == [{"turn_index": 1, "snippet": "x"}]


def test_labels_record_grader_versions(review: ReviewStore) -> None:
    review.enqueue(build_candidates(review.runs, ["run-a"], spot_checks=0))
    review.add_reviewer("ana")
    item = review.queue(limit=1)[0][0]
    label = review.save_label(item.item_id, "ana", LabelInput(checks={"fid": "fail"}))
    from evalwheel import __version__

    assert label.grader_versions and all(
        v.startswith(f"evalwheel {__version__}") for v in label.grader_versions.values()
    )
    assert label.created_at and label.reviewer == "ana"


def test_review_cli(review: ReviewStore, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from evalwheel.review.cli import review_app

    runner = CliRunner()
    url = review.runs.url
    bad = runner.invoke(review_app, ["add-reviewer", "no spaces", "--store", url])
    assert bad.exit_code == 2 and "reviewer name" in bad.output
    for name in ("ana", "ben"):
        res = runner.invoke(review_app, ["add-reviewer", name, "--store", url])
        assert res.exit_code == 0 and res.output.strip().startswith("ewr_")
    res = runner.invoke(review_app, ["sync", "--store", url, "--run", "run-a", "--spot-checks", "0"])
    assert res.exit_code == 0 and "queued 4 new item(s)" in res.output, res.output
    assert runner.invoke(review_app, ["assign", "ana", "--store", url]).exit_code == 2  # needs two reviewers
    res = runner.invoke(review_app, ["assign", "ana", "ben", "--store", url])
    assert res.exit_code == 0 and "assigned 4 item(s)" in res.output
    item = review.queue(limit=1)[0][0]
    for who in ("ana", "ben"):
        review.save_label(item.item_id, who, LabelInput(checks={"fid": "fail"}, escalate=True))
    res = runner.invoke(review_app, ["agreement", "--store", url, "--json"])
    figures = json.loads(res.output)
    assert figures["grader_vs_human"][0]["name"] == "fid"
    out = tmp_path / "fid.jsonl"
    res = runner.invoke(review_app, ["export", "--check", "fid", "--out", str(out), "--store", url])
    assert res.exit_code == 0 and "wrote 1 label(s)" in res.output and out.read_text().count("\n") == 1
    golden = tmp_path / "golden.jsonl"
    res = runner.invoke(
        review_app, ["promote", str(item.item_id), "--dataset", str(golden), "--approver", "ana", "--store", url]
    )
    assert res.exit_code == 0, res.output
    again = runner.invoke(
        review_app, ["promote", str(item.item_id), "--dataset", str(golden), "--approver", "ana", "--store", url]
    )
    assert again.exit_code == 2 and "already golden" in again.output


async def test_monitoring_failures_are_queued(tmp_path: Path) -> None:
    from evalwheel.graders.registry import grader
    from evalwheel.monitor.config import MonitorConfig
    from evalwheel.monitor.events import Event
    from evalwheel.monitor.queue import Decision, MonitorStore
    from evalwheel.monitor.worker import Worker
    from evalwheel.review.queue import monitor_candidates

    @grader("test.web_says_no")
    async def _says_no(sample, output, ctx):  # type: ignore[no-untyped-def]
        ok = "sorry" not in str(output.text)
        return Score(name="helpful", value=float(ok), passed=ok, reason="ok" if ok else "apologises instead")

    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    st = MonitorStore(url)
    texts = ["here you go", "sorry, I cannot", "done"]
    st.enqueue(
        [
            (
                Event(request_id=f"r{i}", app="tutor", input=f"q{i}", output=t, timestamp=1000.0 + i),
                Decision("tutor", True, 1.0, "test"),
            )
            for i, t in enumerate(texts)
        ]
    )
    await Worker(st, MonitorConfig.model_validate({"graders": [{"name": "test.web_says_no"}]})).drain()
    cands = monitor_candidates(url)
    assert [(c.kind, c.sample_id, c.run_id) for c in cands] == [("monitor", "r1", "monitor:tutor")]
    assert "helpful" in cands[0].reasons[0] and cands[0].sample == {"id": "r1", "input": "q1"}
    rs = ReviewStore(url)
    assert rs.enqueue(cands) == 1
    item = rs.queue()[0][0]
    rs.add_reviewer("ana")
    label = rs.save_label(item.item_id, "ana", LabelInput(checks={"helpful": "fail"}))
    from evalwheel import __version__

    assert label.grader_versions == {"helpful": f"evalwheel {__version__}, monitor:tutor"}


def test_an_older_review_schema_is_upgraded_on_open(store_url: str) -> None:
    from sqlalchemy import text

    rs = ReviewStore(store_url)
    with rs.engine.begin() as conn:  # the labels table as first shipped, without grader versions
        conn.execute(text("ALTER TABLE review_labels DROP COLUMN grader_versions_json"))
    rs = ReviewStore(store_url)
    rs.runs.create_run(RunInfo(run_id="r", spec_name="s"))
    rs.runs.add_results([_result("r", "a", "failed", [_score("fid", False, escalate=True)])])
    rs.enqueue(build_candidates(rs.runs, ["r"], spot_checks=0))
    rs.add_reviewer("ana")
    label = rs.save_label(rs.queue()[0][0].item_id, "ana", LabelInput(checks={"fid": "fail"}))
    assert label.grader_versions
