"""Hostile-user audit of the Study Mode commands (evaluate, replay, simulate, chat): each test is a defect found
by running the documented commands on bad input, fixed in the same commit.

Real files in tmp_path and the real CLI (CliRunner); the only double is `ScriptedTutorDouble` as the tutor model
for `simulate` (tests/scripted_tutor.py), which is not what these tests are about.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.studymode import cli as studymode_cli
from scripted_tutor import ScriptedTutorDouble

runner = CliRunner()
SEED = "python.if_else.beginner.base_llm.002.json"


def _session(sessions_dir: Path, session_id: str) -> dict[str, object]:
    data = json.loads((sessions_dir / SEED).read_text(encoding="utf-8"))
    data["session_id"] = session_id
    return data


def test_replay_out_inside_the_input_folder_is_refused(tmp_path: Path, sessions_dir: Path) -> None:
    """`replay sess --out sess` wrote artifacts and report.json into the session folder it read: every later
    `evaluate sess` / `replay sess` then failed on them as invalid sessions (exit 2), so the input was spoiled."""
    sess = tmp_path / "sess"
    sess.mkdir()
    (sess / SEED).write_text((sessions_dir / SEED).read_text(encoding="utf-8"), encoding="utf-8")
    for out in (sess, sess / "replay"):
        res = runner.invoke(app, ["replay", str(sess), "--arms", "human", "--out", str(out)])
        assert res.exit_code == 2, res.output
        assert "--out" in res.output and "sess" in res.output and "Traceback" not in res.output
        assert sorted(p.name for p in sess.rglob("*")) == [SEED]  # nothing written into the input
    res = runner.invoke(app, ["replay", str(sess), "--arms", "human", "--out", str(tmp_path / "arts")])
    assert res.exit_code == 0, res.output


def test_replay_session_ids_that_slug_alike_keep_separate_artifacts(tmp_path: Path, sessions_dir: Path) -> None:
    """Session ids `topic/one` and `topic-one` both became `topic-one__human.json`: one session's replay was
    overwritten by the other's, and the report graded the survivor twice (exit 0). A 300-character id failed
    with a raw `OSError: [Errno 36] File name too long` (exit 3)."""
    src = tmp_path / "sessions.json"
    ids = ["topic/one", "topic-one", "x" * 300]
    src.write_text(json.dumps([_session(sessions_dir, i) for i in ids]), encoding="utf-8")
    out = tmp_path / "arts"
    res = runner.invoke(app, ["replay", str(src), "--arms", "human", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    results = json.loads(res.stdout)["results"]
    assert [r["status"] for r in results] == ["ok", "ok", "ok"]
    assert len({r["artifact"] for r in results}) == 3
    for r in results:
        assert json.loads(Path(r["artifact"]).read_text(encoding="utf-8"))["session_id"] == r["session_id"]
    assert len(list(out.glob("*__human.json"))) == 3


def test_simulate_persona_ids_that_slug_alike_keep_separate_artifacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same collision in `simulate`: personas `a/b` and `a-b` shared one artifact file."""
    persona = (
        "{{id: '{pid}', domain: math, level: beginner, goal: g, problem: 'what is 2+2', solution: '4', "
        "misconception: m, wrong_answer: '5', patience: 2, answer_seeking: 0.5}}"
    )
    learners = tmp_path / "p.yaml"
    learners.write_text("personas:\n" + "".join(f"  - {persona.format(pid=p)}\n" for p in ("a/b", "a-b")))
    monkeypatch.setattr(
        studymode_cli, "resolve_model", lambda *a, **k: ScriptedTutorDouble(["What have you tried so far?"])
    )
    out = tmp_path / "sim"
    args = ["simulate", "--arms", "base", "--learner", "scripted", "--turns", "1", "--learners", str(learners)]
    res = runner.invoke(app, [*args, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    arts = sorted(out.glob("*__base.json"))
    assert len(arts) == 2
    assert {json.loads(a.read_text(encoding="utf-8"))["persona_id"] for a in arts} == {"a/b", "a-b"}


def _one_line_error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_invalid_yaml_is_one_line_naming_file_and_position(tmp_path: Path, sessions_dir: Path) -> None:
    """A broken `--learners` or `--config` YAML printed PyYAML's five-line report with a caret drawing."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("personas: [\n")
    res = runner.invoke(app, ["simulate", "--learners", str(bad), "--learner", "scripted"])
    assert res.exit_code == 2
    line = _one_line_error(res.stderr)
    assert "bad.yaml" in line and "invalid YAML" in line and "line 2" in line
    res = runner.invoke(app, ["evaluate", str(sessions_dir / SEED), "--config", str(bad)])
    assert res.exit_code == 2
    line = _one_line_error(res.stderr)
    assert "bad.yaml" in line and "invalid YAML" in line and "line 2" in line


def test_chat_bad_memory_file_does_not_suggest_a_missing_option(tmp_path: Path) -> None:
    """`chat --memory bad.json` said "fix them or pass --skip-invalid", an option chat does not have."""
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe\x00bad")
    res = runner.invoke(app, ["chat", "--model", "http://127.0.0.1:9/v1#m", "--memory", str(bad)], input="/quit\n")
    assert res.exit_code == 2
    assert "bad.json" in res.output and "binary file" in res.output
    assert "--skip-invalid" not in res.output
    res = runner.invoke(app, ["chat", "--skip-invalid"])
    assert res.exit_code == 2 and "No such option" in res.output  # the option really does not exist


def test_agree_sessions_without_labels_is_bad_input_not_a_traceback(tmp_path: Path, sessions_dir: Path) -> None:
    """`agree sessions` on unlabelled sessions crashed with `TypeError: unsupported format string passed to
    NoneType.__format__` (exit 1); it is bad input (exit 2) naming what is missing."""
    data = _session(sessions_dir, "unlabelled")
    data.pop("labels", None)
    src = tmp_path / "unlabelled.json"
    src.write_text(json.dumps(data), encoding="utf-8")
    res = runner.invoke(app, ["agree", "sessions", str(src)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and "no labelled sessions" in res.output and "unlabelled.json" in res.output


def test_agree_sessions_with_partial_labels_shows_dashes(tmp_path: Path, sessions_dir: Path) -> None:
    """A labelled session that labels only some checks (and no escalation) crashed the same way: a check with no
    labelled pair has no accuracy; the table shows a dash for it."""
    data = _session(sessions_dir, "partial")
    data["labels"] = {"checks": {"diagnosis_first": True}}
    src = tmp_path / "partial.json"
    src.write_text(json.dumps(data), encoding="utf-8")
    res = runner.invoke(app, ["agree", "sessions", str(src)])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output and "—" in res.output and "escalate accuracy —" in res.output


class _EmptyReplyHandler(BaseHTTPRequestHandler):
    """A real OpenAI-compatible endpoint on loopback whose every reply is empty (an SSE stream with no text)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = b'data: {"choices": [{"index": 0, "delta": {"content": ""}}]}\n\ndata: [DONE]\n\n'
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_chat_does_not_save_an_empty_tutor_reply(tmp_path: Path) -> None:
    """A server that answered with no text left an empty tutor turn in the saved session (graded as if the
    tutor had said nothing). The README: a reply that fails is not saved and the learner is asked again."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmptyReplyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1#empty"
        out = tmp_path / "chat.json"
        args = ["chat", "--model", url, "--arm", "base", "--no-cache", "--out", str(out)]
        res = runner.invoke(app, args, input="hello\n/quit\n")
    finally:
        server.shutdown()
        server.server_close()
    assert res.exit_code == 0, res.output
    assert "empty reply" in res.output and "send that again" in res.output
    assert not out.exists() and "nothing to save" in res.output
