"""Deterministic graders (importing this package registers them):

`exact`, `contains`, `regex` (strings.py); `token_f1`, `bleu`, `rouge` (overlap.py);
`semantic_similarity` (semantic.py, offline MiniLM); `json_valid`, `json_schema` (json_graders.py);
`constraints` (constraints.py). Each module's docstring documents its options and defaults.
Bad configuration raises `GraderConfigError` naming the grader and the field.
"""

from pydantic import BaseModel

from evalwheel.graders.deterministic._common import GraderConfigError, parse_config
from evalwheel.graders.deterministic.constraints import ConstraintsConfig, check_constraints
from evalwheel.graders.deterministic.json_graders import JsonSchemaConfig, JsonValidConfig
from evalwheel.graders.deterministic.overlap import BleuConfig, RougeConfig, TokenF1Config, squad_normalize
from evalwheel.graders.deterministic.semantic import DEFAULT_THRESHOLD, SemanticSimilarityConfig
from evalwheel.graders.deterministic.strings import ContainsConfig, ExactConfig, RegexConfig

CONFIG_MODELS: dict[str, type[BaseModel]] = {
    "exact": ExactConfig,
    "contains": ContainsConfig,
    "regex": RegexConfig,
    "token_f1": TokenF1Config,
    "bleu": BleuConfig,
    "rouge": RougeConfig,
    "semantic_similarity": SemanticSimilarityConfig,
    "json_valid": JsonValidConfig,
    "json_schema": JsonSchemaConfig,
    "constraints": ConstraintsConfig,
}
"""Grader name -> its config model, so a runner can validate every config before a run starts."""

__all__ = [
    "CONFIG_MODELS",
    "DEFAULT_THRESHOLD",
    "ConstraintsConfig",
    "GraderConfigError",
    "check_config",
    "check_constraints",
    "parse_config",
    "squad_normalize",
]


def check_config(grader_name: str, config: dict[str, object]) -> None:
    """Validate a deterministic grader's config up front; raises GraderConfigError (or KeyError if unknown)."""
    try:
        model = CONFIG_MODELS[grader_name]
    except KeyError:
        raise KeyError(f"{grader_name!r} is not a deterministic grader (known: {', '.join(CONFIG_MODELS)})") from None
    parse_config(grader_name, model, dict(config))
