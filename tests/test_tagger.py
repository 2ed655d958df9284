"""The per-turn tagger: each Study Mode action on a turn that clearly makes that move, with evidence."""

from __future__ import annotations

import pytest

from evalwheel.graders.pedagogy.tagger import Action, tag_turn, tagged_turns
from evalwheel.graders.pedagogy.text import Cue, combine, split_prose
from evalwheel.types import Session, Turn

CASES = [
    (Action.DIAGNOSE, "Happy to help! Before we start, have you used Python before?"),
    (Action.DIAGNOSE, "Walk me through what you think your code does, line by line."),
    (Action.MICRO_EXPLAIN, "A list is an ordered collection: it keeps items in the order you add them."),
    (Action.HINT, "Close! Look at where the loop stops. What is the last number range(1, 10) gives you?"),
    (Action.CHECK_UNDERSTANDING, "Now predict: what will print(len([1, [2, 3]])) output?"),
    (Action.CHECK_UNDERSTANDING, "Can you explain back, in your own words, why the default list is shared?"),
    (Action.PRACTICE, "Your turn: write a function that returns the largest of three numbers."),
    (Action.RECAP, "To sum up: return hands a value back, print only shows it."),
    (Action.RECAP, "In a nutshell: the stop value is never included."),
    (Action.ANSWER_REVEAL, "The answer is 180, because 12 x 15 = 180."),
    (Action.ANSWER_REVEAL, "Here's the corrected code:\n```python\ndef add(a, b):\n    return a + b\n```"),
    (Action.ENCOURAGEMENT, "Nice work! That's exactly the idea."),
    (Action.LECTURE, " ".join(["Python is a language that many people use for many things."] * 16)),
]


@pytest.mark.parametrize(("action", "text"), CASES)
def test_action_is_tagged_with_evidence(action: Action, text: str) -> None:
    tags = tag_turn(text, 3)
    assert action in tags.actions, tags.actions
    assert tags.evidence[action]
    assert tags.index == 3


def test_plain_statement_is_not_a_check_or_reveal() -> None:
    tags = tag_turn("Sure. Have you written any Python before?")
    assert Action.ANSWER_REVEAL not in tags.actions and Action.CHECK_UNDERSTANDING not in tags.actions
    assert tags.question_count == 1


def test_code_given_for_an_exercise_is_not_a_reveal() -> None:
    text = "Run this and tell me what it prints:\n```python\nfor i in range(3):\n    print(i)\n```\nWhat do you see?"
    assert Action.ANSWER_REVEAL not in tag_turn(text).actions


def test_question_counting() -> None:
    assert tag_turn("What does it print? And why does it stop there?").question_count == 2
    assert tag_turn("1. What is a list?\n2. What is a tuple?\n3. Which is mutable?").question_count == 3
    assert tag_turn("No questions here.").question_count == 0


def test_prose_excludes_code_and_counts_words() -> None:
    prose = split_prose("Two words.\n```python\nx = 'a?' if y else 'b?'\n```\nThree more words?")
    assert prose.words == 5 and len(prose.code_blocks) == 1 and prose.code_lines == 1
    assert [s.text for s in prose.sentences] == ["Two words.", "Three more words?"]


def test_tagged_turns_fills_assistant_tags_only() -> None:
    s = Session(
        session_id="x",
        domain="d",
        prompt="p",
        trajectory=[Turn(role="user", content="hi"), Turn(role="assistant", content="Have you used Python before?")],
    )
    out = tagged_turns(s)
    assert out[0].tags == [] and "diagnose" in out[1].tags


def test_cue_factoring_keeps_the_language() -> None:
    cue = Cue(r"\b(?:have|did) you (?:ever )?tried\b", r"\bwalk me through\b", r"\bnew to\b")
    for text in ("have you tried", "did you ever tried", "please walk me through it", "new to this"):
        assert cue.find(text.upper()) is not None, text
    for text in ("havent you tried", "renew to", "walkme through"):
        assert cue.find(text) is None, text


def test_combined_cues_name_the_cue_that_matched() -> None:
    # Each leaf ends in an empty named group, so `lastgroup` names the cue even when a phrase backtracks.
    pattern = combine({"ask": Cue(r"\bwalk me through\b", r"\btell me\b.{0,20}\byour\b"), "hint": Cue(r"\bhint\b")})
    found = [
        (m.group(0), (m.lastgroup or "").split("__")[0]) for m in pattern.finditer("a hint: tell me about your plan")
    ]
    assert found == [("hint", "hint"), ("tell me about your", "ask")]
    with pytest.raises(ValueError, match="capturing"):
        combine({"ask": Cue(r"\b(walk|talk) me through\b")})  # a group of its own would take lastgroup
