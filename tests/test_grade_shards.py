"""Batch grading internals without Ray: shard planning reads every row exactly once with the file's own line
numbers, and the batched response graders give the same verdicts as one reply at a time."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest

from evalwheel.grade.batch import Graded, grade_rows
from evalwheel.grade.logs import NotJSON, raw_rows
from evalwheel.grade.shards import plan_shards, shard_rows
from evalwheel.monitor.config import MonitorConfig


def _lines(tmp: Path) -> Path:
    rows = [json.dumps({"request_id": f"r{i}", "app": "a", "input": "x" * (i % 37), "output": "y"}) for i in range(300)]
    rows[17] = "{not json"
    rows[40] = ""  # a blank line still counts for numbering
    rows[41] = "   "
    path = tmp / "logs.jsonl"
    path.write_text("\n".join(rows))  # no newline at the end: the last shard ends at EOF
    return path


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, NotJSON) and isinstance(b, NotJSON):
        return True
    return bool(a == b)


@pytest.mark.parametrize("shard_bytes", [1, 97, 1000, 10**9])
def test_jsonl_shards_cover_every_row_once_with_file_line_numbers(tmp_path: Path, shard_bytes: int) -> None:
    path = _lines(tmp_path)
    shards = plan_shards(path, shard_bytes)
    assert shards[0].start == 0 and shards[-1].end == path.stat().st_size
    assert all(a.end == b.start for a, b in itertools.pairwise(shards))
    got = [row for s in shards for row in shard_rows(s)]
    want = list(raw_rows(path))
    assert [n for n, _ in got] == [n for n, _ in want] and len(want) == 298
    assert all(_same(a, b) for (_, a), (_, b) in zip(got, want, strict=True))
    if shard_bytes == 1:
        assert len(shards) >= 290  # about one line per shard (a blank line shares its shard with the next)


def test_parquet_shards_are_row_groups_numbered_as_in_the_file(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [{"request_id": f"r{i}", "app": "a", "input": f"q{i}", "output": None if i % 5 == 0 else "y"}
            for i in range(250)]  # fmt: skip
    path = tmp_path / "logs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=40)
    shards = plan_shards(path, shard_bytes=1)  # one row group per shard
    assert [s.row_groups for s in shards] == [[g] for g in range(7)]
    assert [row for s in shards for row in shard_rows(s)] == list(raw_rows(path))


RESPONSE_CONFIG = {
    "graders": [
        {"name": "pedagogy.providing_guidance"},  # best tier: linear (MiniLM embeddings)
        {"name": "pedagogy.mistake_identification", "config": {"tier": "encoder"}},  # the int8 ONNX cross-encoder
        {"name": "pedagogy.revealing_of_the_answer"},  # rules
    ]
}
REPLIES = [
    "What do you get if you count again?",
    "Nope, it is wrong.",
    "Good try! Check the last step: what is 3 more than that?",
    "The answer is 7.",
    "Let's look at the units digit first. What is 4 + 3?",
]


def _close(a: Graded, b: Graded) -> None:
    """Same row, status, labels and reasons; values equal to 1e-6. The encoder computes in float32, and a padded
    batch goes through different matrix kernels than a single reply, so the last float32 bits may differ
    (measured: ~4e-8); no verdict, label or reason may."""
    assert (a.line, a.id, a.status, a.error) == (b.line, b.id, b.status, b.error)
    assert math.isclose(a.value or 0.0, b.value or 0.0, abs_tol=1e-6)
    assert len(a.scores) == len(b.scores)
    for x, y in zip(a.scores, b.scores, strict=True):
        assert (x["name"], x.get("passed"), x.get("reason"), x["metadata"].get("label")) == (
            y["name"], y.get("passed"), y.get("reason"), y["metadata"].get("label"))  # fmt: skip
        assert math.isclose(x.get("value") or 0.0, y.get("value") or 0.0, abs_tol=1e-6)
        px, py = x["metadata"].get("proba") or {}, y["metadata"].get("proba") or {}
        assert px.keys() == py.keys() and all(abs(px[k] - py[k]) <= 1.01e-4 for k in px)  # rounded to 4 places


def test_batched_response_graders_match_one_reply_at_a_time() -> None:
    from evalwheel.graders.pedagogy.response.tiers import tier_unavailable

    if reason := tier_unavailable("encoder", "Mistake_Identification") or tier_unavailable("linear", "Coherence"):
        pytest.skip(reason)
    config = MonitorConfig.model_validate(RESPONSE_CONFIG)
    rows: list[tuple[int, Any]] = [
        (i + 1, {"request_id": f"r{i}", "app": "t", "input": f"I think {i} + 3 is {i + 5}.", "output": REPLIES[i % 5]})
        for i in range(12)
    ]
    rows.append((13, {"request_id": "no-output", "app": "t", "input": "hi"}))  # unscored, never sent to a batch
    rows.append((14, {"request_id": "bad", "app": "t"}))  # invalid
    batched = asyncio.run(grade_rows(config, True, rows, 4, batched=True))
    single = asyncio.run(grade_rows(config, True, rows, 4, batched=False))
    assert [g.status for g in batched][-2:] == ["unscored", "invalid"]
    assert {g.scores[1]["metadata"]["tier"] for g in batched[:12]} == {"encoder"}
    for a, b in zip(batched, single, strict=True):
        _close(a, b)


def test_a_failing_batch_falls_back_to_per_row_grading(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the batched call raises, the chunk is graded row by row, so only the bad row is an error."""
    from evalwheel.graders.pedagogy.response import graders as response

    fn = response.RESPONSE_GRADERS["pedagogy.revealing_of_the_answer"]

    async def broken(*args: Any) -> Any:
        raise RuntimeError("batch down")

    monkeypatch.setattr(fn, "batch", broken)
    config = MonitorConfig.model_validate({"graders": [{"name": "pedagogy.revealing_of_the_answer"}]})
    rows = [(i + 1, {"request_id": f"r{i}", "app": "t", "input": "2+2?", "output": REPLIES[i]}) for i in range(5)]
    graded = asyncio.run(grade_rows(config, True, rows, 4, batched=True))
    assert [g.status for g in graded] == [
        g.status for g in asyncio.run(grade_rows(config, True, rows, 4, batched=False))
    ]
    assert all(g.status in ("passed", "failed") for g in graded)
