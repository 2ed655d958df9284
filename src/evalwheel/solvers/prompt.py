"""The prompt solver: render a template with the sample's fields and call the target model once."""

from __future__ import annotations

import string
from typing import Any

from evalwheel.models.base import GenerateConfig, Message
from evalwheel.solvers.base import SolverContext
from evalwheel.types import Output, Sample, Session, Turn


class _Fields(dict[str, Any]):
    """Missing placeholders are an error naming the placeholder, not a KeyError deep in str.format."""

    def __missing__(self, key: str) -> Any:
        raise KeyError(
            f"prompt template placeholder {{{key}}} is not a sample field "
            "(input, context, reference, id, metadata, tags)"
        )


TEMPLATE_FIELDS = ("input", "context", "reference", "id", "metadata", "tags")


def template_problems(template: str) -> list[str]:
    """Placeholders a template uses that no sample provides, or a template that does not parse."""
    try:
        roots = {
            name.split(".", 1)[0].split("[", 1)[0]
            for _, name, _, _ in string.Formatter().parse(template)
            if name is not None
        }
    except ValueError as exc:
        return [f"not a valid template: {exc}"]
    return [f"unknown placeholder {{{r}}}" for r in sorted(roots) if r not in TEMPLATE_FIELDS]


def input_text(sample: Sample) -> str:
    """A sample's input as text: a string as is, turns and sessions as a `role: content` transcript."""
    value = sample.input
    if isinstance(value, str):
        return value
    turns: list[Turn] = value.trajectory if isinstance(value, Session) else value
    return "\n".join(f"{t.role}: {t.content}" for t in turns)


def context_text(sample: Sample) -> str:
    if sample.context is None:
        return ""
    return sample.context if isinstance(sample.context, str) else "\n\n".join(sample.context)


def render(template: str, sample: Sample) -> str:
    fields = _Fields(
        input=input_text(sample),
        context=context_text(sample),
        reference=sample.reference or "",
        id=sample.id,
        metadata=sample.metadata,
        tags=", ".join(sample.tags),
    )
    return template.format_map(fields)


def generate_config(ctx: SolverContext, epoch: int = 0) -> GenerateConfig:
    c = ctx.config
    return GenerateConfig(
        temperature=c.get("temperature", 0.0), max_tokens=c.get("max_tokens", 512), seed=c.get("seed", 0), epoch=epoch
    )


async def prompt_solver(sample: Sample, ctx: SolverContext) -> Output:
    if ctx.model is None:
        raise ValueError("the prompt solver needs a target model (solver.model)")
    messages = [Message(role="system", content=ctx.config["system"])] if ctx.config.get("system") else []
    messages.append(Message(role="user", content=render(ctx.config["template"], sample)))
    completion = await ctx.model.generate(messages, generate_config(ctx, ctx.config.get("epoch", 0)))
    return Output(
        text=completion.text, usage=completion.usage, latency_ms=completion.latency_ms, cached=completion.cached
    )
