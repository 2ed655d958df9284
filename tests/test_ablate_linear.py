"""The linear-tier ablation (issue #12 quality): every variant runs under the shipped CV protocol, learns
a signal that is there, and the stacked variant never feeds a dimension its own first-stage probabilities."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from evalwheel.graders.pedagogy.response import ablate_linear as ab
from evalwheel.graders.pedagogy.response.dimensions import DIMENSION_ORDER, TASKS


def synthetic(n_conv: int = 30, per: int = 3, seed: int = 0) -> ab.Data:
    """Replies whose label is readable from one hand feature (plus noise), grouped by conversation."""
    rng = np.random.default_rng(seed)
    n = n_conv * per
    signal = rng.integers(0, 3, size=n)
    hand = rng.normal(size=(n, 5))
    for j in range(3):  # three noisy copies: enough weight to survive the shipped (strong) regularisation
        hand[:, j] = signal + rng.normal(scale=0.3, size=n)
    emb = rng.normal(size=(n, 8)) / 3
    y = {}
    for dim in DIMENSION_ORDER:
        k = len(TASKS[dim].labels)
        y[dim] = np.minimum(signal, k - 1) if dim != "Tutor_Tone" else np.minimum(signal, 1)
    words = ["good try", "the answer is", "can you check"]
    return ab.Data(
        hand=hand, emb=emb, context=rng.normal(size=(n, 8)) / 3, sims=rng.normal(size=(n, 4)),
        texts=[words[s] + f" step {i % 7}" for i, s in enumerate(signal)],
        groups=np.repeat([f"c{i}" for i in range(n_conv)], per), y=y,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("variant", ab.VARIANTS)
def test_every_variant_learns_the_signal(variant: str) -> None:
    d = synthetic()
    scores = ab.cross_validate(d, variant, ["Mistake_Identification", "Revealing_of_the_Answer"], seed=0)
    assert scores["Mistake_Identification"] > 0.6 and scores["Revealing_of_the_Answer"] > 0.7, scores  # chance ~0.33


def test_stacked_first_stage_is_out_of_fold_and_excludes_nothing_it_should_keep() -> None:
    d = synthetic()
    tr, te = ab._folds(d.groups, 5, 0)[0]
    inner = ab._folds(d.groups[tr], 5, 1)
    block, names = ab.first_stage(d, tr, te, inner)
    assert names == list(DIMENSION_ORDER)
    assert block.shape == (len(d.groups), sum(ab.n_classes(n) for n in names))
    assert np.allclose(block[tr].sum(1), len(names)) and np.allclose(block[te].sum(1), len(names))
    # every training row's first-stage probabilities come from a model that did not see that row's conversation
    for itr, ite in inner:
        assert not set(d.groups[tr[itr]]) & set(d.groups[tr[ite]])


def test_table_reports_the_base_range_and_differences() -> None:
    results = {"base": {0: {"A": 0.5}, 1: {"A": 0.6}, 2: {"A": 0.7}}, "x": {0: {"A": 0.7}, 1: {"A": 0.7}, 2: {"A": 0.7}}}
    text = ab.table(results, ["A"])
    assert "| base | 0.600 (0.500-0.700) |" in text and "| x | 0.700 (+0.100) |" in text
