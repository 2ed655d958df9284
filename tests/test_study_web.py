"""The learner-facing Study Mode web chat (`/study`): API contracts, and the whole flow in headless Chromium.

The tutor is `ScriptedTutorDouble` (a TEST DOUBLE, tests/scripted_tutor.py), so the browser test is about
the chat itself — profile, toggle, streaming, multi-line input, code blocks, memory, logging — not about
tutoring quality. `test_study_web_on_the_embedded_model` (slow) talks to the real small model.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chromium import CHROMIUM, in_browser
from evalwheel.models.base import Message
from evalwheel.store import Store
from evalwheel.studymode.web.app import create_study_app
from evalwheel.studymode.web.service import StudyService
from scripted_tutor import ScriptedTutorDouble

FIX = "Here is the fix:\n```python\nfor i in range(1, 11):\n    print(i)\n```\nThat prints 1 to 10."


def tutor_script(messages: Sequence[Message]) -> str:
    system = messages[0].content if messages and messages[0].role == "system" else ""
    last = messages[-1].content
    if "Study Mode" not in system:
        return FIX  # Study Mode off: a plain assistant answers directly, with code
    if "[Study Mode supervisor]" in last:
        return "What have you tried so far?"
    if "range" in last:
        return "The fix is range(1, 11). Does that help? Anything else?"  # the guard must catch this draft
    return "Good question. What do you think the loop prints on its last step?"


def make_service(tmp_path: Path) -> tuple[StudyService, ScriptedTutorDouble, Store]:
    store = Store(tmp_path / "study.sqlite")
    model = ScriptedTutorDouble(tutor_script)
    return StudyService(store, model=model), model, store


def test_api_refuses_empty_messages_and_bad_requests(tmp_path: Path) -> None:
    service, model, store = make_service(tmp_path)
    with TestClient(create_study_app(service)) as client:
        assert client.get("/study").status_code == 200
        assert "study.js" in client.get("/study").text
        assert client.get("/study/static/secret.py").status_code == 404
        r = client.post("/study/api/profile", json={"name": "Ana", "level": "beginner", "goals": ["pass"]})
        learner = r.json()["learner_id"]
        bad = client.post("/study/api/profile", json={"name": "Bo", "level": "expert"})
        assert bad.status_code == 422 and "level" in bad.json()["error"]
        unknown = client.post("/study/api/profile", json={"name": "Bo", "mood": "sad"})
        assert unknown.status_code == 422 and "mood" in unknown.json()["error"]
        sid = client.post(f"/study/api/learners/{learner}/sessions", json={}).json()["session_id"]
        for empty in ("", "   ", "\n\n \t"):
            r = client.post(f"/study/api/sessions/{sid}/messages", json={"content": empty})
            assert r.status_code == 400 and "empty message" in r.json()["error"]
        assert model.calls == []  # nothing reached the model
        form = client.post(
            f"/study/api/sessions/{sid}/messages",
            content="content=hi",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 415
        assert client.post("/study/api/sessions/nope/messages", json={"content": "hi"}).status_code == 404
        assert client.post("/study/api/learners/nobody/sessions", json={}).status_code == 404
        r = client.post(f"/study/api/sessions/{sid}/messages", json={"content": "why does range stop early?"})
        lines = [line for line in r.text.splitlines() if line]
        assert lines[-1].startswith('{"done": true') and "guard:regenerated" in lines[-1]
        # stored after the exchange, before the session ends (open sessions are graded as truncated)
        stored = list(store.iter_results(f"study-{learner}"))
        assert len(stored) == 1 and stored[0].output and len(stored[0].output.trajectory or []) == 2
        recap = next(s for s in stored[0].scores if s.name == "recap")
        assert recap.passed is None
        end = client.post(f"/study/api/sessions/{sid}/end", json={})
        assert end.json()["saved"] is True
        assert client.post(f"/study/api/sessions/{sid}/messages", json={"content": "more"}).status_code == 404


def test_token_required_when_configured(tmp_path: Path) -> None:
    service, _, _ = make_service(tmp_path)
    with TestClient(create_study_app(service, token="s3cret")) as client:
        assert client.get("/study").status_code == 401
        assert client.get("/study", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.post("/study/api/profile", json={"name": "x"}).status_code == 401


def test_workspace_mounts_the_study_router(tmp_path: Path) -> None:
    from evalwheel.web.app import create_app

    with TestClient(create_app(tmp_path / "ws.sqlite")) as client:
        page = client.get("/study")
        assert page.status_code == 200 and "Study Mode" in page.text
        r = client.post("/study/api/profile", json={"name": "Ana"})
        assert r.status_code == 200
        assert Store(tmp_path / "ws.sqlite").get_run(f"study-{r.json()['learner_id']}").spec_name == "study-web"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, ScriptedTutorDouble, Store]]:
    import uvicorn

    service, model, store = make_service(tmp_path)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_study_app(service), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}", model, store
    server.should_exit = True
    thread.join(10)



@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (CI installs it)")
def test_study_chat_in_headless_chromium(live_server: tuple[str, ScriptedTutorDouble, Store]) -> None:
    pytest.importorskip("playwright")
    base, model, store = live_server
    seen: dict[str, Any] = {}

    def flow(browser: Any) -> None:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(base + "/study")
        page.fill("#p-name", "Ana")
        page.select_option("#p-level", "beginner")
        page.fill("#p-goals", "pass my intro course")
        page.fill("#p-known", "variables, print")
        page.click("#start")
        page.wait_for_selector("#chat-panel:not([hidden])")

        # an empty message is refused in the page and never sent
        page.fill("#message", "   \n  ")
        page.click("#send")
        assert "Write something" in page.text_content("#error")
        assert model.calls == []

        # multi-line input with a code block is one message; Study Mode is on: the guard revises the draft
        page.fill("#message", "my loop:\n```python\nfor i in range(1, 10):\n    print(i)\n```\nwhy does it stop at 9?")
        page.press("#message", "Enter")
        page.wait_for_selector(".msg.tutor[data-state=done]")
        code = page.text_content(".msg.user pre code")
        assert code == "for i in range(1, 10):\n    print(i)"
        assert page.locator(".msg.user").count() == 1
        first = page.locator(".msg.tutor").nth(0)
        assert "What have you tried so far?" in first.text_content()
        assert "guard:regenerated" in (first.get_attribute("data-tags") or "")
        assert "revised by the Study Mode guard" in first.text_content()

        # Shift+Enter makes a new line, Enter sends; Study Mode off: a streamed direct answer with code
        page.click("#study-toggle")
        page.click("#message")
        page.keyboard.type("line one")
        page.keyboard.press("Shift+Enter")
        page.keyboard.type("just show me the fix")
        page.keyboard.press("Enter")
        page.wait_for_selector(".msg.tutor >> nth=1")
        page.wait_for_function("document.querySelectorAll('.msg.tutor[data-state=done]').length === 2")
        assert page.locator(".msg.user").nth(1).text_content() == "line one\njust show me the fix"
        second = page.locator(".msg.tutor").nth(1)
        assert second.locator("pre code").text_content() == "for i in range(1, 11):\n    print(i)"
        assert "chat" in (second.get_attribute("data-tags") or "")

        page.click("#end")
        page.wait_for_selector("#saved:has-text('Session saved')")
        page.wait_for_selector("#history:has-text('1 earlier session')")
        # a second session for the same learner: the tutor's system message carries the memory
        page.click("#start")
        page.wait_for_selector("#chat-panel:not([hidden])")
        page.fill("#message", "hello again")
        page.press("#message", "Enter")
        page.wait_for_selector(".msg.tutor[data-state=done]")
        seen["learner"] = page.evaluate("localStorage.getItem('evalwheel.study.learner')")
        assert errors == []

    in_browser(flow)
    system = model.calls[-1][0].content
    assert "What you remember from earlier sessions" in system and "my loop" in system
    results = list(store.iter_results(f"study-{seen['learner']}"))
    assert len(results) == 2
    first_session = next(r for r in results if len(r.output.trajectory or []) == 4)  # type: ignore[union-attr]
    assert {"study_mode", "chat", "guard:regenerated"} <= set(first_session.tags)
    turns = first_session.output.trajectory  # type: ignore[union-attr]
    assert turns is not None and turns[0].content.count("\n") == 5  # the pasted code stayed one turn


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("EVALWHEEL_SKIP_LOCAL_MODEL") == "1", reason="local model disabled")
def test_study_web_on_the_embedded_model(tmp_path: Path) -> None:
    """The chat on the real small model: a guarded and a plain reply stream, and the session is stored.
    A contract test (shapes, tags, storage), not a verdict on the tutoring."""
    import json

    from evalwheel.models.base import GenerateConfig
    from evalwheel.models.registry import get_model

    store = Store(tmp_path / "study.sqlite")
    service = StudyService(store, model=get_model("local-small", cache=False), config=GenerateConfig(max_tokens=48))
    with TestClient(create_study_app(service)) as client:
        learner = client.post("/study/api/profile", json={"name": "Sam", "level": "beginner"}).json()["learner_id"]
        sid = client.post(f"/study/api/learners/{learner}/sessions", json={}).json()["session_id"]
        for study_mode in (True, False):
            r = client.post(
                f"/study/api/sessions/{sid}/messages",
                json={"content": "Why does range(1, 10) stop at 9?", "study_mode": study_mode},
            )
            events = [json.loads(line) for line in r.text.splitlines() if line]
            assert events[-1].get("done") is True, events[-1]
            assert "".join(e.get("delta", "") for e in events).strip()
            assert ("study_mode" if study_mode else "chat") in events[-1]["tags"]
        assert client.post(f"/study/api/sessions/{sid}/end", json={}).json()["saved"] is True
    stored = list(store.iter_results(f"study-{learner}"))
    assert len(stored) == 1 and len(stored[0].output.trajectory or []) == 4  # type: ignore[union-attr]


def test_ended_session_goes_to_monitoring(tmp_path: Path) -> None:
    """With a monitor URL, an ended session is sent as turn events plus a close event (monitor SDK)."""
    import json
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict[str, Any]] = []

    class Ingest(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.extend(
                body["events"]
                if isinstance(body, dict) and "events" in body
                else body
                if isinstance(body, list)
                else [body]
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"accepted": 1}')

        def log_message(self, *args: Any) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Ingest)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        store = Store(tmp_path / "m.sqlite")
        service = StudyService(
            store, model=ScriptedTutorDouble(tutor_script), monitor_url=f"http://127.0.0.1:{httpd.server_port}"
        )
        with TestClient(create_study_app(service)) as client:
            learner = client.post("/study/api/profile", json={"name": "Ana"}).json()["learner_id"]
            sid = client.post(f"/study/api/learners/{learner}/sessions", json={}).json()["session_id"]
            client.post(f"/study/api/sessions/{sid}/messages", json={"content": "why does range stop early?"})
            assert client.post(f"/study/api/sessions/{sid}/end", json={}).json()["saved"] is True
    finally:
        httpd.shutdown()
    assert {e["session_id"] for e in received} == {sid}
    assert any(e.get("output") for e in received) and any(e.get("metadata", {}).get("session_end") for e in received)
    turn = next(e for e in received if e.get("output"))
    assert "guard:regenerated" in turn["metadata"]["tags"] and turn["metadata"]["guard_fired"] is True
