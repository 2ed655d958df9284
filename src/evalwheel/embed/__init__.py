"""Offline sentence embeddings: all-MiniLM-L6-v2 int8 ONNX on onnxruntime + tokenizers (core dependencies)."""

from evalwheel.embed.minilm import DIM, EmbedderUnavailableError, MiniLMEmbedder, default_embedder, embed

__all__ = ["DIM", "EmbedderUnavailableError", "MiniLMEmbedder", "default_embedder", "embed"]
