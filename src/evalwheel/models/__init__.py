"""Models: the protocol and its backends (OpenAI-compatible HTTP, embedded local model).

Re-exports are lazy (evalwheel.lazy_exports): `import evalwheel.models.base` must not import aiohttp.
"""

from typing import TYPE_CHECKING

from evalwheel.lazy_exports import lazy_exports

_EXPORTS = {
    "Completion": "evalwheel.models.base",
    "GenerateConfig": "evalwheel.models.base",
    "Message": "evalwheel.models.base",
    "Model": "evalwheel.models.base",
    "ModelConfigError": "evalwheel.models.base",
    "MalformedResponseError": "evalwheel.models.base",
    "ModelError": "evalwheel.models.base",
    "OpenAIModel": "evalwheel.models.http",
    "default_model_name": "evalwheel.models.registry",
    "get_model": "evalwheel.models.registry",
}

if TYPE_CHECKING:
    from evalwheel.models.base import (
        Completion,
        GenerateConfig,
        MalformedResponseError,
        Message,
        Model,
        ModelConfigError,
        ModelError,
    )
    from evalwheel.models.http import OpenAIModel
    from evalwheel.models.registry import default_model_name, get_model

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = [
    "Completion",
    "GenerateConfig",
    "MalformedResponseError",
    "Message",
    "Model",
    "ModelConfigError",
    "ModelError",
    "OpenAIModel",
    "default_model_name",
    "get_model",
]
