"""MRBench / MathDial importers: both response keys, lenient items, strict files, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalwheel.agreement.data import labelled_dimensions, mathdial_turns, merge_duplicates, mrbench_replies
from evalwheel.datasets.mathdial import MathDialFormatError, load_mathdial, split_turns
from evalwheel.datasets.mrbench import MRBenchFormatError, load_mrbench
from evalwheel.graders.pedagogy.response.dimensions import canonical_label

FIX = Path(__file__).parent / "fixtures"


def test_loads_both_keys_and_skips_bad_items() -> None:
    f = load_mrbench(FIX / "mrbench_tiny.json")
    assert [c.conversation_id for c in f.conversations] == ["fx-1", "fx-2"]
    assert f.n_responses == 8
    assert len(f.issues) == 2
    assert f.issues[0].startswith("item 2 (conversation fx-3): no tutor responses")
    assert f.issues[1].startswith("item 3: expected an object")
    first, second = f.conversations
    assert first.ground_truth is not None and second.ground_truth is None
    assert first.responses[3].response == ""  # empty reply kept
    assert first.responses[5].annotation == {}  # reply without labels kept


def test_strict_mode_names_index_and_cause(tmp_path: Path) -> None:
    with pytest.raises(MRBenchFormatError) as err:
        load_mrbench(FIX / "mrbench_tiny.json", strict=True)
    assert err.value.index == 2
    assert "mrbench_tiny.json: item 2: no tutor responses" in str(err.value)


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        ("{not json", "not valid JSON"),
        ('{"a": 1}', "expected a JSON list"),
        ("42", "expected a JSON list"),
        ("[]", "no usable conversations"),
        ('[{"conversation_history": "x"}]', "no usable conversations"),
    ],
)
def test_file_level_errors(tmp_path: Path, content: str, cause: str) -> None:
    p = tmp_path / "bad.json"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(MRBenchFormatError, match=cause) as err:
        load_mrbench(p)
    assert str(p) in str(err.value)


def test_missing_file() -> None:
    with pytest.raises(MRBenchFormatError, match="file not found"):
        load_mrbench(FIX / "nope.json")


def test_not_available_ground_truth_is_none(tmp_path: Path) -> None:
    p = tmp_path / "na.json"
    p.write_text(
        json.dumps(
            [
                {
                    "conversation_history": "Student: 3",
                    "Ground_Truth_Solution": "Not Available",
                    "anno_llm_responses": {"T": {"response": "ok", "annotation": {}}},
                }
            ]
        )
    )
    conv = load_mrbench(p).conversations[0]
    assert conv.ground_truth is None and conv.conversation_id == "#0"


def test_label_mapping_and_unknown_labels() -> None:
    assert canonical_label("Revealing_of_the_Answer", "Yes (but the answer is incorrect)") == "Yes"
    assert canonical_label("Revealing_of_the_Answer", "Yes (and the answer is correct)") == "Yes"
    assert canonical_label("Revealing_of_the_Answer", "No") == "No"
    assert canonical_label("Revealing_of_the_Answer", "Maybe") is None
    assert canonical_label("Providing_Guidance", " to  some extent ") == "To some extent"
    assert canonical_label("Tutor_Tone", "encouraging") == "Encouraging"
    assert canonical_label("Tutor_Tone", "Yes") is None
    items = mrbench_replies(load_mrbench(FIX / "mrbench_tiny.json"))
    unknown = [it for it in items if it.unknown]
    assert len(unknown) == 1 and unknown[0].unknown == {"Revealing_of_the_Answer": "Maybe"}
    assert items[-1].labels["Actionability"] == "Yes"  # "Yes " normalised


def test_labelled_dimensions_in_report_order() -> None:
    f = load_mrbench(FIX / "mrbench_tiny.json")
    # report order is MRBench's own dimension order (all eight), filtered to those the file labels
    assert labelled_dimensions(f) == [
        "Mistake_Identification",
        "Revealing_of_the_Answer",
        "Providing_Guidance",
        "Actionability",
        "Tutor_Tone",
    ]


def test_merge_duplicates_unites_labels() -> None:
    items = mrbench_replies(load_mrbench(FIX / "mrbench_tiny.json"))
    merged = merge_duplicates(items + items)
    assert len(merged) == len(items)


def test_mathdial_turns_and_moves() -> None:
    f = load_mathdial(FIX / "mathdial_tiny.jsonl")
    assert len(f.dialogues) == 2 and f.issues == ["line 3: not valid JSON: Expecting value"]
    turns = mathdial_turns(f)
    assert [t.labels.get("telling") for t in turns] == [
        "not_telling",
        "telling",
        "not_telling",
        "not_telling",
        None,
        "telling",
    ]
    assert turns[4].unknown == {"telling": "mystery"}
    assert turns[1].reply == "You need to multiply: 3 x 5 = 15."  # move prefix stripped
    assert turns[1].ctx.last_student == "I added 3 and 5."


def test_split_turns_with_named_student() -> None:
    turns = split_turns("Teacher: (focus)What is 2+2?|EOM|Mariana: 5|EOM|Teacher: (Telling) It is 4.")
    assert [(t.is_teacher, t.move, t.text) for t in turns] == [
        (True, "focus", "What is 2+2?"),
        (False, None, "5"),
        (True, "telling", "It is 4."),
    ]


def test_mathdial_bad_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text("nope\n", encoding="utf-8")
    with pytest.raises(MathDialFormatError, match="no usable dialogues"):
        load_mathdial(p)
    with pytest.raises(MathDialFormatError, match="line 1"):
        load_mathdial(p, strict=True)
