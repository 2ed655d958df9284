"""The fine-tuned cross-encoder tier (int8 ONNX on onnxruntime); training lives in `encoder.train`."""

from evalwheel.graders.pedagogy.response.encoder.model import (
    Encoder,
    EncoderUnavailableError,
    load_encoder,
    unavailable_reason,
)

__all__ = ["Encoder", "EncoderUnavailableError", "load_encoder", "unavailable_reason"]
