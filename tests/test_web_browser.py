"""The workspace in a real browser: Debian's Chromium driven by Playwright, `evalwheel serve` as a subprocess.

Skips when Chromium (EVALWHEEL_TEST_CHROMIUM, default /usr/bin/chromium) or the playwright package is missing
locally; CI installs both. No browser is ever downloaded.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chromium import CHROMIUM, in_browser
from evalwheel.review import ReviewStore
from evalwheel.store import Store
from test_web_app import EVALWHEEL, add_xss_result, run_studymode

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (CI installs it)"),
    pytest.mark.slow,
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers (e.g. 401)
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up in {timeout} s")


def serve(db: Path, *extra: str, host: str = "127.0.0.1") -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    proc = subprocess.Popen(
        [*EVALWHEEL, "serve", "--store", str(db), "--host", host, "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=db.parent,
    )
    wait_http(f"http://127.0.0.1:{port}/login", proc)
    return proc, port


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str, int]]:
    pytest.importorskip("playwright")
    folder = tmp_path_factory.mktemp("browser")
    db = folder / "runs.sqlite"
    run_id = run_studymode(db)
    add_xss_result(Store(db))
    token = subprocess.run(
        [*EVALWHEEL, "review", "add-reviewer", "ana", "--store", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    sync = subprocess.run(
        [*EVALWHEEL, "review", "sync", "--store", str(db)], capture_output=True, text=True, timeout=120
    )
    assert sync.returncode == 0, sync.stderr
    proc, port = serve(db)
    yield db, run_id, token, port
    stop(proc)



def browse_and_label(browser: Any, db: Path, run_id: str, token: str, port: int) -> tuple[int, list[str]]:
    """Open every page, check the inert transcript and the 404 page, then label the top item by keyboard."""
    base = f"http://127.0.0.1:{port}"
    page = browser.new_page()
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    failing = next(r.sample_id for r in Store(db).iter_results(run_id) if r.status == "failed")
    for path, selector in [
        ("/", "#runs"),
        (f"/runs/{run_id}", "#graders"),
        (f"/runs/{run_id}/samples/{failing}", "#transcript"),
        (f"/compare?a={run_id}&b={run_id}", "#compare"),
        ("/trends", "#trend-runs .main-svg"),
        ("/monitor", "#windows"),
        ("/review", "#queue"),
        ("/graders", "#humans"),
    ]:
        resp = page.goto(base + path)
        assert resp is not None and resp.status == 200, path
        page.wait_for_selector(selector, timeout=15_000)
    # the transcript full of tricks renders as text; nothing runs
    page.goto(base + "/runs/xss-run/samples/evil<script>")
    page.wait_for_selector("#transcript")
    assert page.evaluate("window.__pwned") is None
    assert "<script>window.__pwned" in page.inner_text("#transcript")
    assert page.locator("#transcript img, #transcript svg, #transcript a[href^=javascript]").count() == 0
    assert dialogs == [] and errors == []
    # 404 page for a bad run id
    resp = page.goto(base + "/runs/does-not-exist")
    assert resp is not None and resp.status == 404 and "does-not-exist" in page.inner_text("main")

    # log in with the reviewer token, open the top queue item, label it with the keyboard only
    page.goto(base + "/login")
    page.fill("input[name=token]", token)
    page.keyboard.press("Enter")
    page.wait_for_selector("#queue")
    page.click("#queue tbody tr:first-child td:first-child a")
    page.wait_for_selector("#label-form")
    item_id = int(page.url.rsplit("/", 1)[1].split("?")[0])
    checks: list[str] = page.locator('.row[data-kind="check"]').evaluate_all("rows => rows.map(r => r.dataset.name)")
    page.locator("h1").click()
    page.keyboard.press("f")  # first check: fail
    page.keyboard.press("p")  # second check: pass
    for _ in checks[2:]:
        page.keyboard.press("n")  # the rest: not applicable
    page.keyboard.press("2")  # pedagogical fidelity
    page.keyboard.press("1")  # accuracy
    page.keyboard.press("j")  # skip clarity
    page.keyboard.press("0")  # engagement
    for _ in range(3):
        page.keyboard.press("j")  # skip personalization, safety, opportunity for learning
    page.keyboard.press("x")  # first taxonomy label
    page.keyboard.press("/")
    page.keyboard.type("labelled from the keyboard")
    page.keyboard.press("Escape")
    with page.expect_navigation():
        page.keyboard.press("s")
    assert errors == []
    page.close()
    return item_id, checks


def test_every_page_in_the_browser_and_label_with_the_keyboard(
    workspace: tuple[Path, str, str, int], tmp_path: Path
) -> None:
    db, run_id, token, port = workspace
    found: list[tuple[int, list[str]]] = []
    in_browser(lambda b: found.append(browse_and_label(b, db, run_id, token, port)), timeout=600)
    item_id, checks = found[0]
    label = ReviewStore(db).labels_for(item_id)["ana"]
    assert label.checks[checks[0]] == "fail" and label.checks[checks[1]] == "pass"
    assert all(label.checks[c] == "na" for c in checks[2:])
    assert label.dimensions == {"pedagogical_fidelity": 2, "accuracy": 1, "engagement": 0}
    assert [m.value for m in label.taxonomy] == ["answered_too_early"]
    assert label.notes == "labelled from the keyboard"

    # the label reaches calibrate straight from the store, and through the exported JSONL
    cal = subprocess.run(
        [
            *EVALWHEEL,
            "calibrate",
            "studymode.fidelity",
            "--score",
            checks[0],
            "--labels",
            f"store:{db}",
            "--json",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cal.returncode == 0, cal.stderr[-2000:]
    result = json.loads(cal.stdout)
    assert result["n"] == 1 and result["agreement"]["confusion"][1] in ([0, 1], [1, 0])  # human said fail
    out = tmp_path / "labels.jsonl"
    subprocess.run(
        [*EVALWHEEL, "review", "export", "--check", checks[0], "--out", str(out), "--store", str(db)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    cal2 = subprocess.run(
        [
            *EVALWHEEL,
            "calibrate",
            "studymode.fidelity",
            "--score",
            checks[0],
            "--labels",
            str(out),
            "--json",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cal2.returncode == 0 and json.loads(cal2.stdout)["agreement"] == result["agreement"]


def test_non_loopback_bind_needs_the_token(workspace: tuple[Path, str, str, int]) -> None:
    db = workspace[0]
    proc, port = serve(db, "--token", "browser-test-token", host="0.0.0.0")
    try:
        url = f"http://127.0.0.1:{port}/"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url, timeout=5)
        assert info.value.code == 401
        req = urllib.request.Request(url, headers={"Authorization": "Bearer browser-test-token"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200
    finally:
        stop(proc)
