"""Issue #12: the eight MRBench dimensions as graders, the tiers, the encoder tier's contract, the shipped
calibration records, and the one `calibrate` family (with `agree` as its alias)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from evalwheel.graders.pedagogy.response.context import from_mrbench
from evalwheel.graders.pedagogy.response.dimensions import DIMENSION_ORDER, DIMENSIONS, canonical_label
from evalwheel.graders.pedagogy.response.encoder.inputs import Layout, encode_pairs
from evalwheel.graders.pedagogy.response.encoder.model import load_tokenizer
from evalwheel.graders.pedagogy.response.tiers import TIERS, grade_many, grader_name
from evalwheel.graders.registry import GraderContext, get_grader
from evalwheel.types import Output, Sample

FIX = Path(__file__).parent / "fixtures"
runner = CliRunner()
HISTORY = (
    "Tutor: Hi, could you please provide a step-by-step solution for the question below? The question is: "
    "Ana has 4 bags with 6 apples each. She eats 3 apples. How many apples are left?\u00a0\n\u00a0"
    "Student: 4 + 6 = 10 apples. 10 - 3 = 7.\u00a0\n\u00a0Tutor: Can you explain your first step?\u00a0\n\u00a0"
    "Student: I added the bags and the apples to get 10."
)
GT = "Ana has 4 * 6 = 24 apples.\nAfter eating 3 she has 24 - 3 = 21 apples.\n 21"
REPLIES = [
    "Good try! Look at your first step again: should you add 4 and 6, or multiply them?",
    "The answer is 21.",
    "* Step 1: 4 x 6 = 24\n* Step 2: 24 - 3 = 21\n\\boxed{21}",
    "",
]


def test_eight_dimensions_with_mrbench_label_sets() -> None:
    assert list(DIMENSION_ORDER) == [
        "Mistake_Identification", "Mistake_Location", "Revealing_of_the_Answer", "Providing_Guidance",
        "Actionability", "Coherence", "Tutor_Tone", "humanlikeness",
    ]
    assert canonical_label("Humanlikeness", "to some EXTENT") == "To some extent"  # file spellings vary
    assert canonical_label("Coherence", "Maybe") is None  # unknown: never folded into a class
    assert canonical_label("Revealing_of_the_Answer", "Yes (but the answer is incorrect)") == "Yes"


async def test_every_dimension_is_a_registered_grader_with_a_labelled_score() -> None:
    for dim in DIMENSION_ORDER:
        fn = get_grader(grader_name(dim))
        for reply in REPLIES:
            score = await fn(Sample(id="s", input=HISTORY, reference=GT), Output(text=reply),
                             GraderContext({"tier": "rules"}))
            assert not isinstance(score, list)
            assert score.name == dim and score.metadata["tier"] == "rules"
            assert score.metadata["label"] in DIMENSIONS[dim].labels
            assert score.passed == DIMENSIONS[dim].passed(score.metadata["label"])
    unscored = await get_grader("pedagogy.coherence")(Sample(id="s", input=HISTORY), Output(), GraderContext())
    assert not isinstance(unscored, list) and unscored.passed is None


def test_rules_for_the_three_new_dimensions() -> None:
    ctx = from_mrbench(HISTORY, GT)
    scores, _, _ = grade_many(["Mistake_Location", "Coherence", "humanlikeness"], [(ctx, r) for r in REPLIES], "rules")
    labels = {d: [s.metadata["label"] for s in v] for d, v in scores.items()}
    assert labels["Mistake_Location"][0] == "Yes"  # names the first step of this problem
    assert labels["humanlikeness"][2] == "No"  # markdown list + LaTeX read as machine output
    assert labels["Coherence"][3] == "No" and labels["humanlikeness"][3] == "No"  # empty reply


def test_encoder_inputs_keep_the_reply_and_cut_the_conversation_from_the_left() -> None:
    tok = load_tokenizer()
    ctx = from_mrbench(HISTORY + " " + "and then I kept going " * 60, GT)
    layout = Layout(max_tokens=64, reply_tokens=20, solution_tokens=8)
    ids, mask, types = encode_pairs(tok, [(ctx, REPLIES[0]), (ctx, "")], layout)
    assert ids.shape == (2, 64) and mask.shape == ids.shape == types.shape
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    reply_ids = tok.encode(REPLIES[0], add_special_tokens=False).ids[:20]
    assert list(ids[0, : len(reply_ids) + 2]) == [cls, *reply_ids, sep]
    assert types[0, : len(reply_ids) + 2].sum() == 0 and types[0, len(reply_ids) + 2 :].all()
    kept = tok.decode([int(i) for i in ids[0][mask[0] == 1]])
    assert "kept going" in kept and "step - by - step" not in kept  # the opening prompt is what gets cut
    assert int(mask[1].sum()) == 64 and ids[1, 1] == sep  # an empty reply still gets the context


def test_shipped_records_are_valid_and_choose_a_tier_per_dimension() -> None:
    from evalwheel.calibration.record import load_calibration_record
    from evalwheel.calibration.shipped import agreement_note, shipped_record_path

    for dim in DIMENSION_ORDER:
        record = load_calibration_record(shipped_record_path(grader_name(dim)))
        assert record.grader == grader_name(dim) and record.task == "mrbench" and record.n > 100
        tiers = record.details["tiers"]
        assert record.details["default_tier"] in TIERS and "rules" in tiers
        best = max(tiers, key=lambda t: (tiers[t]["macro_f1"], -TIERS.index(t)))
        assert record.macro_f1 == tiers[best]["macro_f1"]  # the default is the CV winner, nothing else
        note = agreement_note(grader_name(dim), "rules")
        assert note is not None and note["metric"] == "macro_f1" and note["n"] == tiers["rules"]["n"]
        assert {"value", "n", "dataset", "date", "tier"} <= set(note)


def test_rules_scores_carry_their_agreement() -> None:
    scores, _, _ = grade_many(["Tutor_Tone"], [(from_mrbench(HISTORY, GT), REPLIES[0])], "rules")
    agreement = scores["Tutor_Tone"][0].metadata["agreement"]
    assert agreement["tier"] == "rules" and 0 < agreement["value"] <= 1 and agreement["n"] > 100


def test_calibrate_mrbench_writes_records_the_gate_reader_accepts(tmp_path: Path) -> None:
    from evalwheel.agreement.cli import agree_app
    from evalwheel.calibration.cli import calibrate_app
    from evalwheel.gates.judges import load_calibration

    args = ["mrbench", str(FIX / "mrbench_tiny.json"), "--tier", "rules", "--json", "--skip-invalid"]
    via_calibrate = runner.invoke(calibrate_app, [*args, "--out", str(tmp_path)])
    via_agree = runner.invoke(agree_app, args)
    assert via_calibrate.exit_code == 0 == via_agree.exit_code, via_calibrate.output
    assert json.loads(via_calibrate.stdout) == json.loads(via_agree.stdout)
    rec = load_calibration(tmp_path / "pedagogy.revealing_of_the_answer.json")
    assert rec.grader == "pedagogy.revealing_of_the_answer" and rec.n == 4
    assert rec.lookup("details.unknown_labels.Maybe") == (True, 1.0)
    # the unmappable label is named with its item and field, and counted, never folded
    assert "item 0 (conversation fx-1), tutor 'E': Revealing_of_the_Answer: unknown label 'Maybe'" in via_calibrate.stderr


def test_unknown_dimension_and_labels_are_reported(tmp_path: Path) -> None:
    from evalwheel.agreement.runner import Tier, agree_mrbench

    conv: dict[str, Any] = {
        "conversation_id": "c1",
        "conversation_history": HISTORY,
        "anno_llm_responses": {
            "T1": {"response": REPLIES[0], "annotation": {"Coherence": "Yes", "Helpfulness": "Yes"}},
            "T2": {"response": REPLIES[1], "annotation": {"Coherence": "Sort of"}},
        },
    }
    p = tmp_path / "x.json"
    p.write_text(json.dumps([conv, {"conversation_id": "broken"}]))
    report = agree_mrbench(p, Tier.RULES)
    assert list(report.results) == ["Coherence"]
    r = report.results["Coherence"]
    assert r.agreement.n == 1 and r.unknown_labels == {"Sort of": 1}
    assert any("item 1 (conversation broken): no tutor responses" in i for i in report.issues)
    assert any("tutor 'T1': annotation field 'Helpfulness' is not an MRBench dimension (ignored; on 1 replies)" in i
               for i in report.issues)  # fmt: skip
    assert any("tutor 'T2': Coherence: unknown label 'Sort of'" in i for i in report.issues)


@pytest.mark.slow
def test_shipped_encoder_predicts_every_dimension() -> None:
    from evalwheel.graders.pedagogy.response.encoder import load_encoder

    enc = load_encoder()
    ctx = from_mrbench(HISTORY, GT)
    probs = enc.predict([(ctx, r) for r in REPLIES])
    assert list(probs) == list(DIMENSION_ORDER)
    for dim, P in probs.items():
        assert P.shape == (len(REPLIES), len(DIMENSIONS[dim].labels))
        assert np.allclose(P.sum(axis=1), 1.0, atol=1e-5)
    scores, tiers, _ = grade_many(list(DIMENSION_ORDER), [(ctx, r) for r in REPLIES], "ensemble")
    assert set(tiers.values()) == {"ensemble"}
    s = scores["Actionability"][0]
    assert s.metadata["tier"] == "ensemble" and set(s.metadata["proba"]) == set(DIMENSIONS["Actionability"].labels)
    assert s.metadata["agreement"]["tier"] == "ensemble"


@pytest.mark.slow
def test_encoder_training_smoke(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from evalwheel.graders.pedagogy.response.encoder import train

    data = tmp_path / "data"
    data.mkdir()
    conv = json.loads((FIX / "mrbench_tiny.json").read_text())
    (data / "a.json").write_text(json.dumps(conv))
    rc = train.main(["--data", str(data), "--folds", "2", "--seeds", "0", "--epochs", "2",
                     "--work", str(tmp_path / "work"), "--out-dir", str(tmp_path / "out")])
    assert rc == 0
    meta = json.loads((tmp_path / "out" / "encoder.json").read_text())
    assert list(meta["heads"]) == list(DIMENSION_ORDER)
    oof = np.load(tmp_path / "work" / "oof_encoder_seed0.npz")
    assert oof["logits"].shape[1] == meta["heads"]["humanlikeness"]["slice"][1]
    # the numpy heads reproduce the torch network they were copied from
    with np.load(tmp_path / "out" / "encoder_heads.npz") as arrays:
        from evalwheel.graders.pedagogy.response.encoder.model import Heads

        heads = Heads.from_arrays(arrays)
    F = np.random.default_rng(0).normal(size=(3, heads.mu.shape[0])).astype(np.float32)
    x = torch.from_numpy((F - heads.mu) / heads.sd)
    h = torch.nn.functional.gelu(x @ torch.from_numpy(heads.W1).T + torch.from_numpy(heads.b1), approximate="tanh")
    ref = (h @ torch.from_numpy(heads.W2).T + torch.from_numpy(heads.b2)).numpy()
    assert np.allclose(heads.logits(F), ref, atol=1e-4)


def test_calibrate_is_the_family_and_agree_its_alias() -> None:
    from evalwheel.cli import app

    calibrate = runner.invoke(app, ["calibrate", "--help"])
    agree = runner.invoke(app, ["agree", "--help"])
    assert calibrate.exit_code == 0 == agree.exit_code
    for sub in ("mrbench", "mathdial", "sessions", "pairwise", "faithfulness", "similarity", "grader"):
        assert sub in calibrate.stdout
    for sub in ("mrbench", "mathdial", "sessions"):
        assert sub in agree.stdout


def test_ablation_decision_rule_is_select_decide() -> None:
    """ablate_encoder scores with the same decision as the shipped tiers (Tutor_Tone's Offensive rule included)."""
    from evalwheel.graders.pedagogy.response.ablate_encoder import DimRows, predict_idx
    from evalwheel.graders.pedagogy.response.tiers import decide

    labels = DIMENSIONS["Tutor_Tone"].labels
    rng = np.random.default_rng(3)
    P = rng.dirichlet(np.ones(len(labels)) * 0.5, size=200)
    rule_labels = [labels[i] for i in rng.integers(0, len(labels), size=200)]
    d = DimRows("Tutor_Tone", [str(i) for i in range(200)], rule_labels, np.zeros(200, dtype=int),
                np.arange(200) // 5, np.array([r == "Offensive" for r in rule_labels]))
    idx = predict_idx(d, np.log(P), np.zeros(len(labels)))
    assert [labels[i] for i in idx] == decide("Tutor_Tone", P, rule_labels)


def test_nested_bias_fixes_a_prior_shift_and_never_looks_at_the_scored_fold() -> None:
    from evalwheel.graders.pedagogy.response import ablate_encoder as ab
    from evalwheel.graders.pedagogy.response.train_linear import _folds

    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 3, size=n)
    # informative probabilities squashed towards class 0: argmax almost always says class 0
    logits = np.eye(3)[y] * 1.5 + rng.normal(size=(n, 3)) * 0.8
    logits[:, 0] += 2.5
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = DIMENSIONS["Actionability"].labels
    d = ab.DimRows("Actionability", [str(i) for i in range(n)], [labels[i] for i in y], y,
                   np.arange(n) // 4, np.zeros(n, dtype=bool))
    plain = ab.figures(d, P.argmax(axis=1))["macro_f1"]
    idx, chosen = ab.nested_bias(d, P, seed=0)
    assert ab.figures(d, idx)["macro_f1"] > plain + 0.1
    assert all(off[0] == 0 and min(off[1:]) > 0 for off in chosen)
    # scrambling the labels of one outer test fold leaves the offsets that fold was scored with unchanged
    _, te = _folds(d.groups, 5, 100)[0]
    y2 = y.copy()
    y2[te] = (y[te] + 1) % 3
    d2 = ab.DimRows(d.dim, d.keys, [labels[i] for i in y2], y2, d.groups, d.rule_offensive)
    assert ab.nested_bias(d2, P, seed=0)[1][0] == chosen[0]
