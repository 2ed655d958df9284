"""Audit of `compare`, non-dataset inputs and the markdown writers: each test is a defect found by hand.

1. `compare` paired samples by id even when the sample's content changed between the two runs' dataset versions.
2. A lone UTF-16 surrogate ("\\ud83d": half of a cut emoji) in a session file, a recorded-outputs file or an
   ingested event crashed downstream (hashing, SQLite, printing) instead of being refused as bad input.
3. A backtick in an id broke the inline code span of the markdown PR summary.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.datasets.sessions import SessionLoadError, load_session_file
from evalwheel.gates import evaluate_gates, markdown_summary, parse_gate_config, summarize
from evalwheel.monitor.config import MonitorConfig
from evalwheel.monitor.queue import MonitorStore
from evalwheel.monitor.server import create_app
from evalwheel.runs.compare_cli import comparison_markdown
from evalwheel.stats.compare import Outcome, compare_runs
from evalwheel.store import Store
from evalwheel.types import RunInfo, SampleResult, Score
from recorded_project import write_recorded_project

runner = CliRunner()
CUT_EMOJI = "\ud83d"  # what json.loads makes of the JSON text "\ud83d"


# --- 1. compare leaves out samples whose content changed ------------------------------------------------------


def _run(store: Store, run_id: str, rows: list[tuple[str, bool, str]]) -> None:
    store.create_run(RunInfo(run_id=run_id, spec_name="s", status="finished"))
    store.add_results(
        [
            SampleResult(
                run_id=run_id,
                sample_id=sid,
                partition="distribution",
                status="passed" if ok else "failed",
                value=1.0 if ok else 0.0,
                sample_hash=digest,
            )
            for sid, ok, digest in rows
        ]
    )


def _changed_store(tmp_path: Path) -> str:
    """A and B agree on 70 unchanged samples; the 30 whose content changed pass in A and fail in B."""
    store = Store(tmp_path / "r.sqlite")
    same = [(f"x{i:03d}", i % 2 == 0, f"h{i}") for i in range(70)]
    _run(store, "A", [*same, *((f"c{i:03d}", True, f"old{i}") for i in range(30))])
    _run(store, "B", [*same, *((f"c{i:03d}", False, f"new{i}") for i in range(30))])
    store.close()
    return str(tmp_path / "r.sqlite")


def test_compare_leaves_out_samples_whose_content_changed(tmp_path: Path) -> None:
    """Pairing c001 (old question) with c001 (new question) made 30 'regressions' out of a dataset edit."""
    url = _changed_store(tmp_path)
    md = tmp_path / "c.md"
    res = runner.invoke(app, ["compare", "A", "B", "--store", url, "--json", "--markdown", str(md)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["changed_content"] == 30
    assert data["n_paired"] == 70 and data["paired"] is True
    assert data["pass_fail"]["discordant"]["a_only"] == 0
    assert data["verdict"] == "no_change"
    assert "30 sample ids left out because their content changed" in data["pairing_note"]
    assert "30 sample ids left out because their content changed" in md.read_text()
    term = runner.invoke(app, ["compare", "A", "B", "--store", url])
    assert term.exit_code == 0, term.output
    assert "30 sample ids left out because their content changed" in " ".join(term.output.split())


def test_web_compare_lists_no_changed_sample_as_a_flip(tmp_path: Path) -> None:
    from evalwheel.web.compare import _build

    with closing(Store(_changed_store(tmp_path))) as store:
        view = _build(store, store.get_run("A"), store.get_run("B"))
    assert view.comparison.changed_content == 30 and view.broke_total == 0


def test_compare_with_every_shared_sample_changed_has_nothing_comparable(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.sqlite")
    _run(store, "A", [(f"x{i}", True, f"old{i}") for i in range(40)])
    _run(store, "B", [(f"x{i}", False, f"new{i}") for i in range(40)])
    store.close()
    res = runner.invoke(app, ["compare", "A", "B", "--store", str(tmp_path / "r.sqlite"), "--json"])
    assert res.exit_code == 2, res.output
    out = " ".join(res.output.split())
    assert "nothing comparable" in out and "all 40 sample ids" in out and "regression" not in out
    # the library says so too (the web compare page uses it), and runs no test
    a = [Outcome(sample_id=f"x{i}", passed=True, sample_hash=f"old{i}") for i in range(40)]
    b = [Outcome(sample_id=f"x{i}", passed=False, sample_hash=f"new{i}") for i in range(40)]
    cmp = compare_runs(a, b)
    assert cmp.verdict == "insufficient_data" and cmp.changed_content == 40
    assert cmp.recommendation.startswith("nothing comparable")
    assert cmp.pass_fail.test.p_value is None and cmp.pass_fail.n_a == 0


def test_an_unknown_hash_is_not_a_change() -> None:
    """Results stored before hashes were kept have sample_hash "": unknown, as for the baseline gate."""
    a = [Outcome(sample_id=f"x{i}", passed=True, sample_hash="") for i in range(30)]
    b = [Outcome(sample_id=f"x{i}", passed=True, sample_hash=f"h{i}") for i in range(30)]
    cmp = compare_runs(a, b)
    assert cmp.changed_content == 0 and cmp.n_paired == 30


# --- 2. lone surrogates in input files and events ----------------------------------------------------------


def _session(**extra: object) -> dict[str, object]:
    return {
        "session_id": "s1",
        "domain": "math",
        "prompt": "what is 6*7",
        "trajectory": [
            {"role": "user", "content": "what is 6*7"},
            {"role": "assistant", "content": f"The answer is 42 {CUT_EMOJI}. Full solution: 6*7=42."},
        ],
        **extra,
    }


def test_session_file_with_a_lone_surrogate_is_bad_input(tmp_path: Path) -> None:
    """`evaluate --json`, `--out` and `--explain` died with UnicodeEncodeError / PydanticSerializationError."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps(_session()))  # json.dumps writes the surrogate as the escape "\ud83d"
    with pytest.raises(SessionLoadError) as info:
        load_session_file(path)
    assert info.value.json_path == "$.trajectory[1].content" and "lone UTF-16 surrogate" in info.value.cause
    for extra in ([], ["--json"], ["--out", str(tmp_path / "o.jsonl")], ["--explain", "s1"]):
        res = runner.invoke(app, ["evaluate", str(path), *extra])
        assert res.exit_code == 2, (extra, res.output, res.exception)
        out = " ".join(res.output.split())
        assert f"{path}: $.trajectory[1].content: lone UTF-16 surrogate" in out
    lines = tmp_path / "s.jsonl"
    clean = {**_session(), "trajectory": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hi?"}]}
    lines.write_text(json.dumps(clean) + "\n" + json.dumps({**clean, "metadata": {"k": "v" + CUT_EMOJI}}) + "\n")
    with pytest.raises(SessionLoadError, match=r"line 2: \$\.metadata\.k: lone UTF-16 surrogate"):
        load_session_file(lines)


def test_recorded_outputs_with_a_lone_surrogate_exit_2(tmp_path: Path) -> None:
    """The run died with a PydanticSerializationError traceback while writing the result (exit 1)."""
    samples = [{"id": "a", "input": "q", "reference": "q"}]
    spec = write_recorded_project(tmp_path, samples, [{"id": "a", "output": "q " + CUT_EMOJI}], "rec")
    res = runner.invoke(app, ["run", str(spec), "--no-progress"])
    assert res.exit_code == 2, (res.output, res.exception)
    out = " ".join(res.output.split())
    assert f"{tmp_path / 'rec.jsonl'}:1: output: lone UTF-16 surrogate" in out


def test_ingested_event_with_a_lone_surrogate_is_422_naming_the_field(tmp_path: Path) -> None:
    """`metadata` (free-form) took the surrogate past validation: 503 "store unavailable" for the whole batch,
    which the SDK retries for minutes."""
    store = MonitorStore(str(tmp_path / "m.sqlite"))
    good = {"request_id": "r1", "app": "shop", "input": "q"}
    bad = {"request_id": "r2", "app": "shop", "input": "q", "metadata": {"k": "v" + CUT_EMOJI}}
    with TestClient(create_app(store, MonitorConfig(), worker=False)) as client:
        for body, field in [(bad, "metadata.k"), ({"events": [good, bad]}, "events[1].metadata.k")]:
            reply = client.post("/v1/events", content=json.dumps(body), headers={"content-type": "application/json"})
            assert reply.status_code == 422, reply.text
            [problem] = reply.json()["detail"]
            assert problem["field"] == field and "lone UTF-16 surrogate" in problem["error"]
        ok = client.post("/v1/events", content=json.dumps(good), headers={"content-type": "application/json"})
        assert ok.status_code == 202
    store.close()


# --- 3. ids in markdown code spans -------------------------------------------------------------------------

_MD = MarkdownIt("commonmark").enable("table")


@pytest.mark.parametrize(
    ("text", "table", "span"),
    [
        ("x1", True, "`x1`"),
        ("a`b", False, "`` a`b ``"),
        ("``", False, "``` `` ```"),
        ("`a|b", True, "`` `a\\|b ``"),
        ("a|b", False, "`a|b`"),
    ],
)
def test_code_span_keeps_any_text_in_one_span(text: str, table: bool, span: str) -> None:
    from evalwheel.markdown_text import code_span  # the one helper every markdown writer uses

    assert code_span(text, table=table) == span
    html = _MD.render(f"| h |\n|---|\n| {span} |\n" if table else f"id {span} here")
    assert html.count("<code>") == 1 and f"<code>{text}</code>" in html.replace("&quot;", '"')


def _rendered_codes(md: str) -> list[str]:
    return [
        t.content
        for tok in _MD.parse(md)
        if tok.type == "inline"
        for t in tok.children or []
        if t.type == "code_inline"
    ]


def test_markdown_summary_keeps_hostile_ids_in_their_code_span() -> None:
    sid = "q`1|x"

    def result(run: str, status: str) -> SampleResult:
        ok = status == "passed"
        return SampleResult(
            run_id=run,
            sample_id=sid,
            partition="golden",
            status=status,
            scores=[Score(name="exact", passed=ok, reason="" if ok else "wrong")],
        )

    summary = summarize([result("run`new", "failed")])
    config = parse_gate_config({"regression": {"max_drop": 0.0}}, "spec.yaml")
    report = evaluate_gates(summary, config, baseline=summarize([result("base", "passed")]))
    report = report.model_copy(update={"run_id": "run`new"})
    md = markdown_summary(report, summary)
    codes = _rendered_codes(md)
    assert "run`new" in codes  # the meta line
    assert codes.count(sid) == 2, codes  # the pass → fail list and the failing-samples table
    assert "`` q`1\\|x ``" in md  # in the table: the pipe escaped, the span fenced


def test_compare_markdown_keeps_run_ids_in_their_code_span() -> None:
    a = [Outcome(sample_id=f"x{i}", passed=True) for i in range(30)]
    cmp = compare_runs(a, a)
    md = comparison_markdown(cmp, "a`1", "b|2", None)
    assert {"a`1", "b|2"} <= set(_rendered_codes(md)), md
