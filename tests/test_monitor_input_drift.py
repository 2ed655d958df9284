"""Input drift with the offline MiniLM embedder: same topics vs. a new topic appearing (model-backed: slow)."""

from __future__ import annotations

import pytest

from evalwheel.embed.minilm import unavailable_reason
from evalwheel.monitor.drift import input_drift

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(unavailable_reason() is not None, reason=f"MiniLM unavailable: {unavailable_reason()}"),
]

PRICING = [
    "How much does the {p} plan cost per user?",
    "What is the monthly price of {p}?",
    "Is there a discount for paying {p} yearly?",
    "Can I get an invoice for my {p} subscription?",
    "How many users can join the {p} plan?",
]
PLANS = ["Starter", "Pro", "Enterprise", "Free", "Team", "Business"]
NEW_TOPIC = [
    "My {p} mobile app crashes when I open the camera scanner",
    "The {p} Android app freezes on the photo upload screen",
    "Why does the {p} iPhone app close when I scan a barcode?",
]


def texts(templates: list[str]) -> list[str]:
    return [t.format(p=p) for t in templates for p in PLANS]


def test_same_distribution_does_not_drift_and_a_new_topic_does() -> None:
    base = texts(PRICING)
    same = texts(PRICING[::-1])
    calm = input_drift(base, same, permutations=100)
    assert not calm.drifted and calm.new_topic_share == 0.0
    shifted = input_drift(base, texts(PRICING[:3]) + texts(NEW_TOPIC), permutations=100)
    assert shifted.drifted and shifted.p_value < 0.05
    assert shifted.new_topic_share >= 0.3
    assert any("app" in example for cluster in shifted.new_topics for example in cluster)
