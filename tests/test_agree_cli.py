"""`evalwheel agree` on tiny MRBench / MathDial fixtures (both response keys, malformed input -> exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalwheel.agreement.cli import agree_app

FIX = Path(__file__).parent / "fixtures"
runner = CliRunner()
FIVE = [  # the fixture's labelled dimensions, in MRBench's order
    "Mistake_Identification",
    "Revealing_of_the_Answer",
    "Providing_Guidance",
    "Actionability",
    "Tutor_Tone",
]


def run_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(agree_app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_mrbench_rules_json() -> None:
    out = run_json("mrbench", str(FIX / "mrbench_tiny.json"), "--tier", "rules", "--skip-invalid")
    assert list(out) == FIVE
    rev = out["Revealing_of_the_Answer"]
    assert rev["n"] == 4 and rev["skipped_unknown"] == 1 and rev["unknown_labels"] == {"Maybe": 1}
    assert rev["unlabelled"] == 3  # F in fx-1 and both replies of fx-2 (the v3 key has no Revealing labels)
    assert rev["labels"] == ["Yes", "No"] and rev["tier"] == "rules"
    for dim in FIVE:
        d = out[dim]
        assert {"macro_f1", "kappa", "n", "accuracy", "confusion", "labels", "per_label"} <= set(d)
        assert sum(map(sum, d["confusion"])) == d["n"]
    assert out["Providing_Guidance"]["n"] == 7  # 5 labelled in fx-1 + 2 in fx-2


def test_v3_only_file_reports_only_its_dimensions(tmp_path: Path) -> None:
    data = json.loads((FIX / "mrbench_tiny.json").read_text())
    p = tmp_path / "v3.json"
    p.write_text(json.dumps([data[1]]))
    out = run_json("mrbench", str(p), "--tier", "rules", "--skip-invalid")  # its replies A/B lack Tutor_Tone
    assert list(out) == ["Mistake_Identification", "Providing_Guidance", "Actionability"]


def test_skipped_items_go_to_stderr() -> None:
    result = runner.invoke(
        agree_app, ["mrbench", str(FIX / "mrbench_tiny.json"), "--tier", "rules", "--json", "--skip-invalid"]
    )
    assert result.exit_code == 0 and "item 2 (conversation fx-3): no tutor responses" in result.stderr
    json.loads(result.stdout)  # stdout stays pure JSON


def test_tables_without_json() -> None:
    result = runner.invoke(agree_app, ["mrbench", str(FIX / "mrbench_tiny.json"), "--tier", "rules", "--skip-invalid"])
    assert result.exit_code == 0
    assert "Providing_Guidance" in result.stdout and "human" in result.stdout


@pytest.mark.parametrize("name", ["mrbench_malformed.json", "does_not_exist.json"])
def test_bad_file_exits_2(name: str) -> None:
    result = runner.invoke(agree_app, ["mrbench", str(FIX / name), "--json"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and lines[0].startswith("error:")


def test_wrong_shape_exits_2(tmp_path: Path) -> None:
    p = tmp_path / "obj.json"
    p.write_text('{"conversations": 3}')
    result = runner.invoke(agree_app, ["mrbench", str(p)])
    assert result.exit_code == 2 and "expected a JSON list" in result.stderr


def test_mathdial_rules_json() -> None:
    out = run_json("mathdial", str(FIX / "mathdial_tiny.jsonl"), "--tier", "rules")
    assert list(out) == ["telling"]
    t = out["telling"]
    assert t["n"] == 5 and t["skipped_unknown"] == 1 and t["labels"] == ["telling", "not_telling"]


def test_mathdial_bad_file_exits_2() -> None:
    result = runner.invoke(agree_app, ["mathdial", str(FIX / "mrbench_malformed.json")])
    assert result.exit_code == 2 and "mrbench_malformed.json" in result.stderr


@pytest.mark.slow
def test_mrbench_best_tier_runs_trained_models() -> None:
    out = run_json("mrbench", str(FIX / "mrbench_tiny.json"), "--skip-invalid")
    assert list(out) == FIVE
    assert {out[d]["tier"] for d in FIVE} <= {"rules", "linear", "encoder", "ensemble"}
    assert any(out[d]["tier"] != "rules" for d in FIVE)
    out = run_json("mrbench", str(FIX / "mrbench_tiny.json"), "--tier", "trained", "--skip-invalid")  # old name
    assert all(out[d]["tier"] == "linear" for d in FIVE)


def test_best_tier_falls_back_to_rules_without_embed_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import evalwheel.embed.minilm as minilm
    import evalwheel.graders.pedagogy.response.tiers as tiers

    monkeypatch.setattr(tiers, "default_tier", lambda dim: "linear")  # as if the records chose a learned tier
    monkeypatch.setattr(minilm, "unavailable_reason", lambda: "package 'onnxruntime' is not installed")
    result = runner.invoke(agree_app, ["mrbench", str(FIX / "mrbench_tiny.json"), "--json", "--skip-invalid"])
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert all(v["tier"] == "rules" and "onnxruntime" in v["note"] for v in out.values())
    assert "note:" in result.stderr
    args = ["mrbench", str(FIX / "mrbench_tiny.json"), "--tier", "trained", "--skip-invalid"]
    result = runner.invoke(agree_app, args)
    assert result.exit_code == 2 and "onnxruntime" in result.stderr
