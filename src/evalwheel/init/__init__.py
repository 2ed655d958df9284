"""Project scaffolding: `evalwheel init DIR [--template support|studymode]`."""

from evalwheel.init.scaffold import TEMPLATES, InitError, InitResult, scaffold

__all__ = ["TEMPLATES", "InitError", "InitResult", "scaffold"]
