"""The encoder tier: the fine-tuned MiniLM cross-encoder as int8 ONNX on onnxruntime (no torch at inference).

Training lives in `encoder.finetune` (torch, `[train]` extra; `bert.py` is its model, `export.py` writes the
ONNX file); `encoder.train` is the earlier frozen-MiniLM + heads variant, kept for comparison.
"""

from evalwheel.graders.pedagogy.response.encoder.model import (
    Encoder,
    EncoderUnavailableError,
    FinetunedEncoder,
    load_encoder,
    unavailable_reason,
)

__all__ = ["Encoder", "EncoderUnavailableError", "FinetunedEncoder", "load_encoder", "unavailable_reason"]
