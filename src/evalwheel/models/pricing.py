"""Token prices as data (prices.json) and the cost of one call.

Prices change more often than code, so they live in a JSON file shipped with the package. An unknown
model costs 0 but is reported as unknown (`price_for(...) is None`, `is_cost_known(...)`), so a report can
say "cost unknown" instead of silently claiming a free run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from evalwheel.types import Usage


@dataclass(frozen=True, slots=True)
class Price:
    """USD per one million input (prompt) and output (completion) tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, usage: Usage) -> float:
        return (usage.prompt_tokens * self.input_per_mtok + usage.completion_tokens * self.output_per_mtok) / 1e6


@cache
def price_table() -> dict[str, Price]:
    """The shipped table, read once."""
    raw = json.loads(resources.files("evalwheel.models").joinpath("prices.json").read_text(encoding="utf-8"))
    return {name: Price(float(p["input"]), float(p["output"])) for name, p in raw["models"].items()}


def _bare(model: str) -> str:
    """`openai:gpt-4o-mini` -> `gpt-4o-mini`; an explicit-URL spec `http://h/v1#m` -> `m`."""
    if "#" in model:
        model = model.rsplit("#", 1)[1]
    if model.startswith("openai:"):
        model = model[len("openai:") :]
    return model


@cache
def price_for(model: str) -> Price | None:
    """Exact name first, then the longest table entry the name starts with (dated snapshots), else None."""
    table = price_table()
    name = _bare(model)
    if name in table:
        return table[name]
    best = max((k for k in table if name.startswith(k + "-")), key=len, default=None)
    return table[best] if best is not None else None


def is_cost_known(model: str) -> bool:
    return price_for(model) is not None


def cost_usd(model: str, usage: Usage) -> float:
    """Cost of one call; 0.0 for unknown models (check `is_cost_known`)."""
    price = price_for(model)
    return price.cost(usage) if price is not None else 0.0
