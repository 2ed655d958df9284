"""Technical terms of the Study Mode domains (Python, prompt engineering, mathematics), for load and level
judgements.

A term is what a learner has to hold in mind as a new idea: "closure", "few-shot", "event loop". The
list is deliberately of domain words only; everyday words a tutor uses to explain are not terms.
"""

from __future__ import annotations

from functools import cache

from evalwheel.graders.pedagogy.text import Cue, any_of

TERMS: tuple[str, ...] = (
    # Python
    "variable",
    "integer",
    "float",
    "boolean",
    "string",
    "list",
    "tuple",
    "dictionary",
    "dict",
    "set",
    "index",
    "indexing",
    "slice",
    "slicing",
    "loop",
    "iteration",
    "iterate",
    "iterable",
    "iterator",
    "generator",
    "yield",
    "comprehension",
    "function",
    "argument",
    "parameter",
    "return value",
    "scope",
    "namespace",
    "global",
    "closure",
    "decorator",
    "lambda",
    "recursion",
    "recursive",
    "base case",
    "call stack",
    "stack",
    "class",
    "object",
    "instance",
    "attribute",
    "method",
    "constructor",
    "self",
    "inheritance",
    "subclass",
    "dunder",
    "exception",
    "traceback",
    "stack trace",
    "try/except",
    "raise",
    "context manager",
    "file handle",
    "mutable",
    "immutable",
    "mutability",
    "reference",
    "alias",
    "hashable",
    "hash",
    "type hint",
    "annotation",
    "generic",
    "protocol",
    "module",
    "package",
    "import",
    "fixture",
    "assertion",
    "assert",
    "mock",
    "unit test",
    "regex",
    "regular expression",
    "f-string",
    "format specifier",
    "coroutine",
    "async",
    "await",
    "event loop",
    "concurrency",
    "thread",
    "big-o",
    "time complexity",
    "complexity",
    "quadratic",
    "linear time",
    "key function",
    "sort key",
    "stable sort",
    "logging",
    "log level",
    "handler",
    "parser",
    "syntax",
    "off-by-one",
    "exclusive",
    "inclusive",
    "boolean expression",
    "conditional",
    "operator",
    "modulo",
    "floor division",
    "short-circuit",
    "unpacking",
    "keyword argument",
    "default argument",
    "docstring",
    "virtual environment",
    # Prompt engineering
    "prompt",
    "system prompt",
    "user prompt",
    "token",
    "tokens",
    "context window",
    "temperature",
    "top-p",
    "sampling",
    "few-shot",
    "zero-shot",
    "one-shot",
    "chain-of-thought",
    "chain of thought",
    "delimiter",
    "delimiters",
    "schema",
    "json schema",
    "structured output",
    "function calling",
    "tool call",
    "hallucination",
    "grounding",
    "retrieval",
    "rag",
    "embedding",
    "embeddings",
    "vector",
    "chunking",
    "rubric",
    "judge",
    "eval",
    "evaluation set",
    "test set",
    "regression",
    "persona",
    "role prompt",
    "template",
    "placeholder",
    "prompt injection",
    "jailbreak",
    "guardrail",
    "self-consistency",
    "classification",
    "label",
    "summarisation",
    "summarization",
    "fine-tuning",
    "model",
    "inference",
    "latency",
    "max tokens",
    "stop sequence",
    "agent",
    "tool use",
)

# Terms of the machinery underneath: a beginner meeting these unexplained is being lectured past.
TERMS += (
    "logit", "logits", "softmax", "nucleus sampling", "top-k", "greedy decoding", "probability distribution",
    "parametric", "vector database", "reranking", "cosine similarity", "context length", "attention",
    "bytecode", "interpreter", "compiler", "heap", "pointer", "garbage collection", "bound method",
    "initializer", "blueprint", "staticmethod", "classmethod", "metaclass", "descriptor",
)  # fmt: skip


# School and early-university mathematics: the terms a lesson names, not the everyday words around them
# ("add", "half", "total" are not terms; "coefficient" and "y-intercept" are).
TERMS += (
    "coefficient", "exponent", "index law", "numerator", "denominator", "common denominator",
    "equivalent fraction", "reciprocal", "quotient", "remainder", "prime factor", "factorise", "factorize",
    "distributive property", "commutative", "associative", "order of operations", "slope", "gradient",
    "y-intercept", "x-intercept", "intercept", "slope-intercept form", "point-slope form", "standard form",
    "linear function", "dependent variable", "independent variable", "rate of change", "polynomial",
    "binomial", "quadratic formula", "discriminant", "parabola", "vertex", "hypotenuse",
    "pythagorean theorem", "sine", "cosine", "tangent", "logarithm", "asymptote", "derivative", "integral",
    "standard deviation", "variance", "median", "interquartile range", "simultaneous equations",
    "inequality", "radius", "circumference",
)  # fmt: skip


@cache
def term_cue() -> Cue:
    """One alternation over every term (plural -s allowed), built on first use."""
    return any_of(*(r"\b" + t.replace(" ", r"[ -]") + r"s?\b" for t in TERMS))


def terms_in(lowered_text: str) -> list[tuple[str, int]]:
    """(term, offset) for each term occurrence in an already-lowercased text."""
    out: list[tuple[str, int]] = []
    for m in term_cue().regex.finditer(lowered_text):
        word = m.group(0).replace("-", " ")
        out.append((word[:-1] if word.endswith("s") and word[:-1] in SINGULAR else word, m.start()))
    return out


SINGULAR = frozenset(t.replace("-", " ") for t in TERMS)
