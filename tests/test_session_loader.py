"""Loader errors must name the file, the JSON path and the cause, and never lose the good files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalwheel.datasets.sessions import SessionLoadError, load_session_file, load_sessions


def good(session_id: str = "s1") -> dict[str, object]:
    return {
        "session_id": session_id,
        "domain": "programming.python",
        "prompt": "teach me loops",
        "trajectory": [
            {"role": "user", "content": "teach me loops"},
            {"role": "assistant", "content": "Sure. Have you written any Python before?"},
        ],
    }


def write(tmp: Path, name: str, data: object) -> Path:
    p = tmp / name
    p.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return p


def test_valid_session_loads(tmp_path: Path) -> None:
    [s] = load_session_file(write(tmp_path, "a.json", good()))
    assert s.session_id == "s1" and s.trajectory[1].role == "assistant" and s.trajectory[0].tags == []


def test_bad_role_names_file_path_and_cause(tmp_path: Path) -> None:
    data = good()
    data["trajectory"][1]["role"] = "tutor"  # type: ignore[index]
    p = write(tmp_path, "bad_role.json", data)
    with pytest.raises(SessionLoadError) as info:
        load_session_file(p)
    msg = str(info.value)
    assert str(p) in msg and "$.trajectory[1].role" in msg and "'tutor'" in msg
    assert info.value.json_path == "$.trajectory[1].role"


def test_missing_field_and_extra_field(tmp_path: Path) -> None:
    data = good()
    del data["domain"]
    with pytest.raises(SessionLoadError, match=r"\$\.domain: required field is missing"):
        load_session_file(write(tmp_path, "m.json", data))
    data = good()
    data["trajectry"] = []
    with pytest.raises(SessionLoadError, match=r"\$\.trajectry: unknown field"):
        load_session_file(write(tmp_path, "x.json", data))


def test_invalid_json_reports_line_and_column(tmp_path: Path) -> None:
    p = write(tmp_path, "broken.json", '{"session_id": "a",\n  "domain": }')
    with pytest.raises(SessionLoadError, match=r"broken\.json: \$: invalid JSON: .*line 2, column 13"):
        load_session_file(p)


def test_not_an_object(tmp_path: Path) -> None:
    with pytest.raises(SessionLoadError, match="expected a JSON object, got str"):
        load_session_file(write(tmp_path, "s.json", '"hello"'))


def test_empty_trajectory_rejected(tmp_path: Path) -> None:
    data = good()
    data["trajectory"] = []
    with pytest.raises(SessionLoadError, match=r"\$\.trajectory: .*at least 1"):
        load_session_file(write(tmp_path, "e.json", data))


def test_jsonl_names_the_line(tmp_path: Path) -> None:
    bad = good("s2")
    bad["trajectory"] = "nope"
    p = write(tmp_path, "many.jsonl", json.dumps(good("s1")) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(SessionLoadError, match=r"many\.jsonl: line 3: \$\.trajectory"):
        load_session_file(p)


def test_folder_reports_every_bad_file_and_keeps_good_ones(tmp_path: Path) -> None:
    write(tmp_path, "a.json", good("a"))
    write(tmp_path, "b.json", "{not json")
    sub = tmp_path / "sub"
    sub.mkdir()
    write(sub, "c.json", {**good("c"), "trajectory": [{"role": "user"}]})
    write(sub, "d.json", [good("d1"), good("d2")])
    write(sub, "dup.json", good("a"))
    write(sub, "notes.txt", "ignored")
    report = load_sessions([tmp_path])
    assert sorted(s.session_id for s in report.sessions) == ["a", "d1", "d2"]
    messages = sorted(str(e) for e in report.errors)
    assert len(messages) == 3
    assert any("b.json: $: invalid JSON" in m for m in messages)
    assert any("c.json: $.trajectory[0].content: required field is missing" in m for m in messages)
    assert any("dup.json: $.session_id: duplicate session_id 'a'" in m for m in messages)


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    report = load_sessions([tmp_path / "nope.json"])
    assert not report.sessions and "does not exist" in str(report.errors[0])


def test_bad_label_value(tmp_path: Path) -> None:
    data = good()
    data["labels"] = {"checks": {"diagnosis_first": True, "teleport": False}, "taxonomy": []}
    with pytest.raises(SessionLoadError, match=r"\$\.labels\.checks\.teleport"):
        load_session_file(write(tmp_path, "l.json", data))
