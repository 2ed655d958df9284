"""Issue #12, bad input: an MRBench-format file with unknown labels, missing dimensions or a broken
conversation gets a message naming the item and the field (exit 2 from `calibrate mrbench`), and with
`--skip-invalid` unmappable labels are counted and reported, never folded into a class."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import evalwheel.agreement.cli  # noqa: F401  (registers `calibrate mrbench` on calibrate_app, as the CLI does)
from evalwheel.calibration.cli import calibrate_app
from evalwheel.cli import app
from evalwheel.graders.pedagogy.response.dimensions import canonical_label

runner = CliRunner()
HISTORY = "Tutor: What is 4 x 6?\u00a0\n\u00a0Student: 4 + 6 = 10."
GOOD = {"Mistake_Identification": "Yes", "Actionability": "No"}


def conv(cid: str, responses: Any, **extra: Any) -> dict[str, Any]:
    return {"conversation_id": cid, "conversation_history": HISTORY, "anno_llm_responses": responses, **extra}


def reply(text: str = "Did you add or multiply?", **annotation: str) -> dict[str, Any]:
    return {"response": text, "annotation": annotation or dict(GOOD)}


def write(tmp_path: Path, items: list[Any]) -> Path:
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(items), encoding="utf-8")
    return p


def calibrate(*args: str) -> Any:
    return runner.invoke(calibrate_app, ["mrbench", *args, "--tier", "rules", "--json"])


CASES: list[tuple[str, list[Any], str]] = [
    (
        "unknown label",
        [conv("c1", {"A": reply(), "B": reply(Mistake_Identification="Sort of", Actionability="No")})],
        "item 0 (conversation c1), tutor 'B': Mistake_Identification: unknown label 'Sort of'",
    ),
    (
        "label that is not text",
        [conv("c1", {"A": reply(), "B": {"response": "ok", "annotation": {**GOOD, "Actionability": ["Yes"]}}})],
        "item 0 (conversation c1), tutor 'B': Actionability: unknown label '[\"Yes\"]'",
    ),
    (
        "missing dimension",
        [conv("c1", {"A": reply(), "B": reply(Mistake_Identification="No")})],
        "item 0 (conversation c1), tutor 'B': no label for Actionability",
    ),
    (
        "misspelt dimension",
        [conv("c1", {"A": reply(), "B": reply(Mistake_Identificaton="Yes", Actionability="No", Mistake_Identification="No")})],
        "item 0 (conversation c1), tutor 'B': annotation field 'Mistake_Identificaton' is not an MRBench dimension",
    ),
    (
        "conversation without history",
        [conv("c1", {"A": reply()}), {"conversation_id": "c2", "anno_llm_responses": {"A": reply()}}],
        "item 1 (conversation c2): conversation_history: missing",
    ),
    (
        "history that is not text",
        [conv("c1", {"A": reply()}), conv("c2", {"A": reply()}, conversation_history={"turns": 2})],
        "item 1 (conversation c2): conversation_history: expected text, got dict",
    ),
    (
        "reply without text",
        [conv("c1", {"A": reply(), "B": {"annotation": dict(GOOD)}})],
        "item 0 (conversation c1), tutor 'B': response: missing (reply skipped)",
    ),
    (
        "annotation that is not an object",
        [conv("c1", {"A": reply(), "B": {"response": "ok", "annotation": ["Yes", "No"]}})],
        "item 0 (conversation c1), tutor 'B': annotation: expected an object of dimension -> label, got list",
    ),
    (
        "replies that are not objects",
        [conv("c1", {"A": reply()}), conv("c2", {"A": 3})],
        "item 1 (conversation c2): anno_llm_responses: holds no usable tutor replies; tutor 'A': expected an object",
    ),
    (
        "item that is not an object",
        [conv("c1", {"A": reply()}), "oops"],
        "item 1: expected an object, got str",
    ),
]


@pytest.mark.parametrize(("case", "items", "message"), CASES, ids=[c[0] for c in CASES])
def test_problem_is_named_and_exits_2(tmp_path: Path, case: str, items: list[Any], message: str) -> None:
    p = write(tmp_path, items)
    result = calibrate(str(p))
    assert result.exit_code == 2, (case, result.output)
    assert result.stdout == ""  # nothing graded, no half-finished JSON
    assert f"error: {p}: {message}" in result.stderr, result.stderr
    assert "--skip-invalid" in result.stderr.splitlines()[-1]


def test_top_level_cli_exits_2_too(tmp_path: Path) -> None:
    p = write(tmp_path, CASES[0][1])
    for verb in ("calibrate", "agree"):
        result = runner.invoke(app, [verb, "mrbench", str(p), "--tier", "rules"])
        assert result.exit_code == 2 and "unknown label 'Sort of'" in result.output


def test_skip_invalid_counts_unknown_labels_and_never_folds_them(tmp_path: Path) -> None:
    items = [
        conv("c1", {
            "A": reply(),
            "B": reply(Mistake_Identification="Sort of", Actionability="No"),
            "C": reply(Mistake_Identification="sort of", Actionability="No"),
            "D": reply(Mistake_Identification="No", Actionability="no idea"),
        }),
        conv("c2", {"A": reply(Mistake_Identification="To some extent", Actionability="Yes")}),
        {"conversation_id": "c3", "anno_llm_responses": {"A": reply()}},
    ]  # fmt: skip
    p = write(tmp_path, items)
    result = runner.invoke(calibrate_app, ["mrbench", str(p), "--tier", "rules", "--json", "--skip-invalid",
                                           "--out", str(tmp_path / "calib")])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    mi, act = out["Mistake_Identification"], out["Actionability"]
    # 'Sort of' (twice: case-insensitively the same label) is counted, not mapped to 'To some extent'
    assert mi["unknown_labels"] == {"Sort of": 1, "sort of": 1} and mi["skipped_unknown"] == 2
    assert mi["n"] == 3 and sum(map(sum, mi["confusion"])) == 3
    assert act["unknown_labels"] == {"no idea": 1} and act["n"] == 4  # 'no idea' is not folded into 'No'
    assert "item 2 (conversation c3): conversation_history: missing (skipped)" in result.stderr
    assert "tutor 'B': Mistake_Identification: unknown label 'Sort of'" in result.stderr
    record = json.loads((tmp_path / "calib" / "pedagogy.mistake_identification.json").read_text())
    assert record["details"]["unknown_labels"] == {"Sort of": 1, "sort of": 1} and record["n"] == 3


def test_revealing_qualifiers_map_but_lookalikes_do_not() -> None:
    assert canonical_label("Revealing_of_the_Answer", "Yes (and the answer is correct)") == "Yes"
    assert canonical_label("Revealing_of_the_Answer", "yes, but the answer is incorrect") == "Yes"
    assert canonical_label("Revealing_of_the_Answer", "No.") == "No"
    for lookalike in ("no idea", "not sure", "yesterday", "yes?no", "Nope"):
        assert canonical_label("Revealing_of_the_Answer", lookalike) is None, lookalike


def test_shipped_dev_files_are_clean() -> None:
    from evalwheel.agreement.data import labelled_dimensions, mrbench_replies
    from evalwheel.agreement.runner import label_issues
    from evalwheel.data import shipped_root
    from evalwheel.datasets.mrbench import load_mrbench

    for name in ("mrbench_v2_dev.json", "mrbench_v3_4dim_dev.json"):
        f = load_mrbench(shipped_root() / "mrbench" / name)
        assert f.issues == [] and label_issues(f, mrbench_replies(f), labelled_dimensions(f)) == [], name
