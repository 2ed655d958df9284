"""Token ids for the cross-encoder: one function shared by training and inference.

Layout (BERT pair encoding, `token_type_ids` 0 for the reply, 1 for what follows):

    [CLS] reply [SEP] solution tail [SEP] conversation tail [SEP]

Why this order and these cuts: the reply is what is judged, so it comes first and is cut last (at
`REPLY_TOKENS`). The ground-truth solution's *end* holds the final answer, which is what "revealing"
and "mistake identification" hinge on, so its tail is kept. The conversation is truncated from the
left: the student's last turn (where the mistake is) is always closest to the reply, and the opening
tutor prompt is what goes first when space runs out. Training and the shipped ONNX model must see
exactly the same ids, which is why nothing else builds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalwheel.graders.pedagogy.response.context import ResponseContext

MAX_TOKENS = 128
REPLY_TOKENS = 56
SOLUTION_TOKENS = 16


@dataclass(frozen=True)
class Layout:
    """The cut points; stored with the weights so inference uses the layout the model was trained on."""

    max_tokens: int = MAX_TOKENS
    reply_tokens: int = REPLY_TOKENS
    solution_tokens: int = SOLUTION_TOKENS

    def to_json(self) -> dict[str, int]:
        return {
            "max_tokens": self.max_tokens,
            "reply_tokens": self.reply_tokens,
            "solution_tokens": self.solution_tokens,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Layout:
        return cls(int(raw["max_tokens"]), int(raw["reply_tokens"]), int(raw["solution_tokens"]))


def conversation_text(ctx: ResponseContext) -> str:
    """The turns as 'Tutor: ... Student: ...' lines (the problem is usually inside the first turn)."""
    lines = [f"{t.role.capitalize()}: {t.text}" for t in ctx.turns]
    if ctx.problem and not any(ctx.problem in t.text for t in ctx.turns):
        lines.insert(0, f"Problem: {ctx.problem}")
    return "\n".join(lines)


def encode_pairs(
    tokenizer: Any, pairs: Sequence[tuple[ResponseContext, str]], layout: Layout = Layout()
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input_ids, attention_mask, token_type_ids) as int64 arrays padded to the longest row.

    `tokenizer` is a `tokenizers.Tokenizer` for the BERT uncased vocabulary (the vendored MiniLM one).
    """
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    replies = [reply for _, reply in pairs]
    # conversation and solution texts repeat across the replies to one conversation: encode each once
    ctx_texts = list(dict.fromkeys(conversation_text(c) for c, _ in pairs))
    sol_texts = list(dict.fromkeys((c.ground_truth or "") for c, _ in pairs))
    reply_encs = tokenizer.encode_batch(replies, add_special_tokens=False)
    ctx_encs = tokenizer.encode_batch(ctx_texts, add_special_tokens=False)
    sol_encs = tokenizer.encode_batch(sol_texts, add_special_tokens=False)
    ctx_ids = {t: e.ids for t, e in zip(ctx_texts, ctx_encs, strict=True)}
    sol_ids = {t: e.ids for t, e in zip(sol_texts, sol_encs, strict=True)}
    rows: list[list[int]] = []
    types: list[list[int]] = []
    for (ctx, _), reply_enc in zip(pairs, reply_encs, strict=True):
        reply = reply_enc.ids[: layout.reply_tokens]
        sol = sol_ids[ctx.ground_truth or ""][-layout.solution_tokens :] if layout.solution_tokens else []
        room = max(0, layout.max_tokens - len(reply) - len(sol) - 4)
        conv = ctx_ids[conversation_text(ctx)]
        conv = conv[-room:] if room else []
        first = [cls_id, *reply, sep_id]
        second = [*sol, sep_id, *conv, sep_id]
        rows.append(first + second)
        types.append([0] * len(first) + [1] * len(second))
    width = max((len(r) for r in rows), default=2)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    tt = np.zeros_like(ids)
    for i, (r, t) in enumerate(zip(rows, types, strict=True)):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
        tt[i, : len(t)] = t
    return ids, mask, tt
