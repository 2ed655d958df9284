"""Where users already are: importing hosted OpenAI Evals definitions (more integrations live beside it)."""

from evalwheel.integrations.openai_eval import ImportReport, OpenAIImportError, completions_solver, import_openai_eval

__all__ = ["ImportReport", "OpenAIImportError", "completions_solver", "import_openai_eval"]
