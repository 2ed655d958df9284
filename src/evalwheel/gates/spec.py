"""Everything gate-related in one eval spec: the `gates:` mapping plus the judges' agreement requirements.

The run engine calls this once while loading a spec, so every configuration error (exit 2) surfaces before
a single sample is run rather than after an hour of model calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalwheel.gates.config import GateConfig, GateConfigError, parse_gate_config
from evalwheel.gates.judges import JudgeAgreementRequirement, judge_requirements


def gates_from_spec(
    spec: Mapping[str, Any], source: str | Path = "<spec>", base_dir: str | Path | None = None
) -> tuple[GateConfig, list[JudgeAgreementRequirement]]:
    """Parse `spec["gates"]` and the `min_agreement` entries of `spec["graders"]`.

    `base_dir` (default: the folder of `source` when it is a path) anchors relative calibration paths.
    """
    src = str(source)
    if base_dir is None and isinstance(source, Path):
        base_dir = source.parent
    config = parse_gate_config(spec.get("gates"), src)
    graders = spec.get("graders") or []
    if not isinstance(graders, list):
        raise GateConfigError(f"{src}: graders: expected a list, got {type(graders).__name__}")
    return config, judge_requirements(graders, src, base_dir)
