"""Models: the protocol and its backends (OpenAI-compatible HTTP, embedded local model)."""

from evalwheel.models.base import Completion, GenerateConfig, Message, Model, ModelConfigError, ModelError
from evalwheel.models.http import OpenAIModel
from evalwheel.models.registry import default_model_name, get_model

__all__ = [
    "Completion",
    "GenerateConfig",
    "Message",
    "Model",
    "ModelConfigError",
    "ModelError",
    "OpenAIModel",
    "default_model_name",
    "get_model",
]
