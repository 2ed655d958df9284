"""Audit of the runs dashboard (`evalwheel serve`) and the scaling entry points, as a hostile user.

Real stores (SQLite in tmp_path; PostgreSQL through `store_url` when EVALWHEEL_TEST_PG_URL is set), the
FastAPI TestClient or a real `evalwheel serve` process; nothing under test is mocked.
"""

from __future__ import annotations

import html
import importlib.util
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from evalwheel.store import Store
from evalwheel.types import RunInfo, SampleResult, Score
from evalwheel.web import create_app
from test_runs_engine import run_spec, write_project

EVALWHEEL = [sys.executable, "-m", "evalwheel.cli"]


@pytest.fixture
def client(store_url: str) -> Iterator[TestClient]:
    store = Store(store_url)
    store.create_run(RunInfo(run_id="r1", spec_name="s", status="finished", finished_at="2026-12-04T00:00:00+00:00"))
    store.add_results(
        [
            SampleResult(
                run_id="r1",
                sample_id="a",
                partition="distribution",
                status="failed",
                scores=[Score(name="g", passed=False, reason="no")],
            )
        ]
    )
    with TestClient(create_app(store_url)) as c:
        yield c


@pytest.mark.parametrize(
    ("url", "status", "names"),
    [
        ("/runs/r%00x", 404, "r\\x00x"),
        ("/runs/r1/samples/a%00", 404, "a\\x00"),
        ("/compare?a=r1&b=%00", 400, "query.b"),
        ("/?spec=%00", 400, "query.spec"),
        ("/?arm=x%00", 400, "query.arm"),
        ("/trends?spec=%00", 400, "query.spec"),
    ],
)
def test_a_nul_byte_in_an_id_or_filter_is_a_clear_4xx_on_both_backends(
    client: TestClient, url: str, status: int, names: str
) -> None:
    # PostgreSQL text cannot hold NUL: the query raised DataError and the page was a 500
    r = client.get(url)
    assert r.status_code == status, r.text[-500:]
    assert names in html.unescape(r.text)


def test_runs_pager_keeps_filters_with_reserved_characters(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.sqlite")
    spec, arm = "Q&A #1+x", "a b&c"
    for i in range(55):  # over one page (50)
        store.create_run(RunInfo(run_id=f"qa-{i:03d}", spec_name=spec, arm=arm, status="finished"))
    store.create_run(RunInfo(run_id="other", spec_name="other", status="finished"))
    with TestClient(create_app(tmp_path / "runs.sqlite")) as c:
        first = c.get("/", params={"spec": spec, "arm": arm})
        assert first.status_code == 200
        links = re.findall(r'<a href="(\?[^"]*)">next</a>', first.text)
        assert links, first.text[-1000:]
        href = html.unescape(links[0])
        assert "#" not in href  # a raw '#' made the rest of the link (filters and page) a fragment
        query = parse_qs(urlsplit(href).query)
        assert query == {"spec": [spec], "arm": [arm], "p": ["2"]}
        second = c.get("/" + href)
        assert second.status_code == 200
        assert "page 2 of 2" in second.text and "qa-000" in second.text and 'href="/runs/other"' not in second.text


async def test_gates_say_whose_thresholds_they_use(tmp_path: Path) -> None:
    # the pages evaluate the gates of the run's own spec (stored with the run), yet said "default thresholds"
    spec_path = write_project(
        tmp_path, gates={"golden": {"min_pass_rate": 1.0}, "distribution": {"min_pass_rate": 0.9}}
    )
    outcome, store = await run_spec(spec_path)
    run_id = outcome.run.run_id
    store.create_run(RunInfo(run_id="old-run", spec_name="old", status="finished"))  # recorded without gates
    with TestClient(create_app(store.url)) as c:
        run_page = c.get(f"/runs/{run_id}").text
        assert "default thresholds" not in run_page
        assert "the spec's thresholds" in run_page
        assert "default thresholds" in c.get("/runs/old-run").text
        runs_page = c.get("/").text
        assert "not stored with the run" not in runs_page
        assert "each run's spec" in runs_page


def test_the_study_chat_is_mounted_before_the_warm_up_thread_starts(tmp_path: Path) -> None:
    # The warm-up thread imported the Study Mode tagger while the main thread imported the /study chat (which
    # imports the tagger too): now and then Python's import lock saw a deadlock, the chat was not mounted and
    # /study was a 404. The main thread must finish those imports before the thread starts.
    Store(tmp_path / "runs.sqlite")
    code = (
        "import sys\n"
        "import evalwheel.web.app as app_module\n"
        "seen = []\n"
        "real = app_module.start_warm_up\n"
        "def watched(*args, **kwargs):\n"
        "    seen.append('evalwheel.studymode.web.router' in sys.modules)\n"
        "    return real(*args, **kwargs)\n"
        "app_module.start_warm_up = watched\n"
        "app = app_module.create_app(sys.argv[1])\n"
        "app.state.warm_up.join(120)\n"
        "from fastapi.testclient import TestClient\n"
        "print(seen, TestClient(app).get('/study').status_code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "runs.sqlite")], capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[True] 200", proc.stdout + proc.stderr[-2000:]
    assert "could not be mounted" not in proc.stderr


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_serve_banner_hides_the_store_password(store_url: str) -> None:
    Store(store_url).close()
    proc = subprocess.Popen(
        [*EVALWHEEL, "serve", "--store", store_url, "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 120
        line = ""
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if "evalwheel workspace on" in line or not line:
                break
        assert "evalwheel workspace on" in line, line
        password = store_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        assert f":{password}@" not in line
        assert ":***@" in line
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.skipif(importlib.util.find_spec("ray") is not None, reason="Ray is installed here")
def test_run_executor_ray_without_ray_names_the_extra(tmp_path: Path) -> None:
    spec_path = write_project(tmp_path)
    proc = subprocess.run(
        [*EVALWHEEL, "run", str(spec_path), "--executor", "ray", "--store", str(tmp_path / "r.sqlite")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "pip install 'evalwheel[ray]'" in proc.stderr  # rich markup swallowed "[ray]"
    assert not (tmp_path / "r.sqlite").exists()


def test_run_error_with_brackets_in_a_path_is_exit_2_not_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "specs[/b]" / "spec.yaml"
    proc = subprocess.run(
        [*EVALWHEEL, "run", str(missing), "--store", str(tmp_path / "r.sqlite")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "MarkupError" not in proc.stderr
    assert "specs[/b]" in proc.stderr


def test_with_a_token_only_the_login_page_itself_is_open(tmp_path: Path) -> None:
    # the open path was a prefix: /loginx, /login/../runs/x reached the router without a token
    Store(tmp_path / "runs.sqlite")
    with TestClient(create_app(tmp_path / "runs.sqlite", token="sekret")) as c:
        assert c.get("/login").status_code == 200
        for url in ("/loginx", "/login.php", "/login-anything/runs"):
            r = c.get(url)
            assert r.status_code == 401, (url, r.status_code)
        assert c.get("/loginx", headers={"Authorization": "Bearer sekret"}).status_code == 404
