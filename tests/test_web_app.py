"""The workspace app in process (FastAPI TestClient) over a store filled by a real `evalwheel run`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from evalwheel.review import ReviewStore
from evalwheel.store import Store
from evalwheel.types import Evidence, Output, RunInfo, SampleResult, Score, Turn
from evalwheel.web import create_app

ROOT = Path(__file__).resolve().parents[1]
EVALWHEEL = [sys.executable, "-m", "evalwheel.cli"]
XSS = (
    '<script>window.__pwned = 1; alert("x")</script>\n'
    '<img src=x onerror="window.__pwned = 2">\n'
    "[click](javascript:window.__pwned=3) **bold** <b>raw</b> {{ 7*7 }} &amp; </textarea><svg onload=alert(1)>"
)


def run_studymode(store: Path) -> str:
    """A real `evalwheel run` of the Study Mode spec on its recorded human transcripts (offline, seconds).

    The example folder is copied and its golden lock rewritten in the copy, so this web test does not depend
    on the example's lock being current in a working tree (the lock check has its own tests)."""
    example = store.parent / "studymode"
    shutil.copytree(ROOT / "examples/studymode", example)
    lock = subprocess.run(
        [*EVALWHEEL, "dataset", "lock", str(example / "dataset.jsonl")], capture_output=True, text=True, timeout=120
    )
    assert lock.returncode == 0, lock.stderr[-2000:]
    proc = subprocess.run(
        [
            *EVALWHEEL,
            "run",
            str(example / "spec.yaml"),
            "--arm",
            "human",
            "--no-judges",
            "--store",
            str(store),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=store.parent,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return str(Store(store).list_runs(limit=1)[0].run_id)


def add_xss_result(store: Store) -> None:
    store.create_run(RunInfo(run_id="xss-run", spec_name="xss", status="finished"))
    turns = [Turn(role="user", content=XSS), Turn(role="assistant", content="Reply: " + XSS)]
    score = Score(
        name="check<script>",
        passed=False,
        reason=XSS,
        evidence=[Evidence(turn_index=1, snippet="<script>window.__pwned")],
        metadata={"escalate": True},
    )
    store.add_results(
        [
            SampleResult(
                run_id="xss-run",
                sample_id="evil<script>",
                partition="distribution",
                status="failed",
                scores=[score],
                output=Output(trajectory=turns),
            )
        ]
    )


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("web")
    db = folder / "runs.sqlite"
    run_id = run_studymode(db)
    add_xss_result(Store(db))
    yield db, run_id


@pytest.fixture
def client(filled: tuple[Path, str]) -> Iterator[TestClient]:
    with TestClient(create_app(filled[0])) as c:
        yield c


def _csrf(c: TestClient) -> str:
    c.get("/")
    token = c.cookies.get("ew_csrf")
    assert token
    return token


def test_every_page_renders(client: TestClient, filled: tuple[Path, str]) -> None:
    _, run_id = filled
    store = Store(filled[0])
    failing = next(r.sample_id for r in store.iter_results(run_id) if r.status == "failed")
    pages = {
        "/": [run_id, "studymode"],
        f"/runs/{run_id}": ["Gates", "pedagogical_fidelity", "Failing samples", failing],
        f"/runs/{run_id}/samples/{failing}": ["diagnosis_first", "Model calls", 'class="tag"'],
        f"/compare?a={run_id}&b={run_id}": ["pass rate", "MDE"],
        "/trends": ["trend-data", "/vendor/plotly.min.js"],
        "/monitor": ["Windows", "Failure candidates"],
        "/review": ["Review queue", "Inter-annotator agreement"],
        "/graders": ["Graders vs humans"],
        "/?spec=studymode&arm=human": [run_id],
    }
    for url, needles in pages.items():
        r = client.get(url)
        for _ in range(120):  # compare is computed in the background; its page says so and reloads
            if 'id="pending"' not in r.text:
                break
            time.sleep(0.5)
            r = client.get(url)
        assert r.status_code == 200, (url, r.text[:500])
        for n in needles:
            assert n in r.text, (url, n)
    assert client.get("/?spec=nope").text.count("/runs/") == 0
    js = client.get("/vendor/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000  # plotly.js served from the package


def test_evidence_is_highlighted_in_place(client: TestClient, filled: tuple[Path, str]) -> None:
    _, run_id = filled
    store = Store(filled[0])
    for r in store.iter_results(run_id):
        ev = [e for s in r.scores for e in s.evidence if e.turn_index is not None and len(e.snippet) > 20]
        if ev:
            page = client.get(f"/runs/{run_id}/samples/{r.sample_id}").text
            assert '<mark class="evidence">' in page
            return
    pytest.fail("no evidence snippet in the run")


@pytest.mark.parametrize(
    "url",
    [
        "/runs/nope",
        "/runs/nope/samples/x",
        "/review/items/999999",
        "/review/items/abc",
        "/nothing/here",
        "/runs/" + "x" * 500,
        "/compare?a=nope&b=nope",
    ],
)
def test_bad_ids_give_a_clear_404_page(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 404
    assert "<h1>" in r.text and "Traceback" not in r.text and 'File "' not in r.text


def test_transcript_tricks_render_inert(client: TestClient) -> None:
    page = client.get("/runs/xss-run/samples/evil<script>").text
    assert "<script>window.__pwned" not in page and "<img src=x" not in page and "<svg onload" not in page
    assert "&lt;script&gt;window.__pwned" in page
    assert 'href="javascript:' not in page and "<strong>" not in page  # markdown is not rendered
    assert "{{ 7*7 }}" in page  # no template evaluation of data
    assert "</textarea><svg" not in page
    csp = client.get("/runs/xss-run/samples/evil<script>").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_token_required_when_set(filled: tuple[Path, str]) -> None:
    rs = ReviewStore(filled[0])
    tok = rs.add_reviewer("tokentest")
    with TestClient(create_app(rs, token="s3cret-token")) as c:
        for url in ("/", "/review", "/static/app.css", "/vendor/plotly.min.js", "/v1/events"):
            assert c.get(url).status_code == 401, url
        assert c.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        assert c.get("/", headers={"Authorization": f"Bearer {tok}"}).status_code == 200
        # the 401 page is a login form; logging in sets the cookie
        csrf = c.cookies.get("ew_csrf")
        r = c.post("/login", data={"token": tok, "csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303
        assert c.get("/review").status_code == 200


def test_serve_refuses_non_loopback_without_token() -> None:
    proc = subprocess.run(
        [*EVALWHEEL, "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2
    assert "refusing to serve without a token" in proc.stderr


def test_forms_need_csrf_and_labels_land_in_the_store(client: TestClient, filled: tuple[Path, str]) -> None:
    rs = ReviewStore(filled[0])
    assert client.post("/review/sync", data={}, follow_redirects=False).status_code == 403
    assert client.post("/review/sync", data={"csrf": "forged"}, follow_redirects=False).status_code == 403
    csrf = _csrf(client)
    assert client.post("/review/sync", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    page, total = rs.queue(limit=5)
    assert total > 0
    item = page[0]
    assert any("escalated" in r or "disagree" in r or "spot" in r for r in item.reasons)
    # anonymous (loopback, no token): can read, cannot label
    form = {"csrf": csrf, "check:diagnosis_first": "fail"}
    assert client.post(f"/review/items/{item.item_id}/label", data=form).status_code == 403
    tok = rs.add_reviewer("formtest")
    client.cookies.set("ew_token", tok)
    body = client.get(f"/review/items/{item.item_id}").text
    assert 'id="label-form"' in body and "Opportunity for learning" in body
    form.update(
        {
            "dim:accuracy": "2",
            "dim:clarity": "1",
            "taxonomy": "no_diagnosis",
            "escalate": "yes",
            "notes": "asks nothing first",
            "corrected_reply": "What have you tried so far?",
        }
    )
    r = client.post(f"/review/items/{item.item_id}/label", data=form, follow_redirects=False)
    assert r.status_code == 303
    label = rs.labels_for(item.item_id)["formtest"]
    assert label.checks == {"diagnosis_first": "fail"} and label.dimensions == {"accuracy": 2, "clarity": 1}
    assert [m.value for m in label.taxonomy] == ["no_diagnosis"] and label.escalate is True
    assert label.corrected_reply == "What have you tried so far?"
    bad = client.post(f"/review/items/{item.item_id}/label", data={"csrf": csrf, "dim:accuracy": "7"})
    assert bad.status_code == 400 and "0-2" in bad.text
    bad_tax = client.post(f"/review/items/{item.item_id}/label", data={"csrf": csrf, "taxonomy": "not_a_mode"})
    assert bad_tax.status_code == 400
    # golden promotion from the web: needs two agreeing reviewers, and a dataset path inside the server folder
    outside = client.post(f"/review/items/{item.item_id}/golden", data={"csrf": csrf, "dataset": "../../x.jsonl"})
    assert outside.status_code == 400 and "inside" in outside.text
    one = client.post(f"/review/items/{item.item_id}/golden", data={"csrf": csrf, "dataset": "golden.jsonl"})
    assert one.status_code == 400 and "two reviewers" in one.text
    exported = client.get("/review/export.jsonl?check=diagnosis_first")
    lines = [json.loads(x) for x in exported.text.splitlines()]
    assert any(x["label"] is False and x["id"].endswith(item.sample_id) for x in lines)
    client.cookies.delete("ew_token")


def test_monitor_ingest_is_mounted(client: TestClient) -> None:
    r = client.post(
        "/v1/events", json={"events": [{"request_id": "web-1", "app": "tutor", "input": "hi", "output": "yo"}]}
    )
    assert r.status_code == 202
    assert re.search(r"\b1 events\b|\b\d+ events\b", client.get("/monitor").text)


def test_sample_page_shows_the_reference_from_the_dataset(filled: tuple[Path, str], tmp_path: Path) -> None:
    dataset = tmp_path / "ref.jsonl"
    dataset.write_text(json.dumps({"id": "q1", "input": "How much is Pro?", "reference": "$16 per user"}) + "\n")
    store = Store(filled[0])
    store.create_run(RunInfo(run_id="ref-run", spec_name="ref", status="finished", metadata={"dataset": str(dataset)}))
    store.add_results(
        [
            SampleResult(
                run_id="ref-run",
                sample_id="q1",
                partition="golden",
                status="passed",
                output=Output(text="Pro is $16 per user per month."),
            )
        ]
    )
    with TestClient(create_app(filled[0])) as c:
        page = c.get("/runs/ref-run/samples/q1").text
    assert "How much is Pro?" in page and "$16 per user</div>" in page and "Pro is $16 per user per month." in page


def test_ready_after_the_warm_up(client: TestClient, filled: tuple[Path, str]) -> None:
    for _ in range(240):
        r = client.get("/ready")
        if r.status_code == 200:
            break
        assert r.status_code == 503
        time.sleep(0.25)
    assert r.status_code == 200
    from evalwheel.web.digest import stored_digests

    store = Store(filled[0])
    finished = [i for i in store.list_runs() if i.status == "finished" and i.finished_at]
    assert set(stored_digests(store, finished)) == {i.run_id for i in finished}


def test_study_chat_is_mounted(client: TestClient) -> None:
    r = client.get("/study")
    assert r.status_code == 200 and "<html" in r.text
    assert client.get("/study/static/study.js").status_code == 200


def test_ingest_only_serves_no_pages(filled: tuple[Path, str]) -> None:
    with TestClient(create_app(filled[0], ingest_only=True)) as c:
        assert c.get("/").status_code == 404
        assert c.get("/study").status_code == 404
        assert c.get("/healthz").status_code == 200
