"""A minimal eval project on disk for CLI tests: a JSONL dataset, recorded outputs and a spec grading them.

Why recorded outputs: a test about the run engine, the store or the CLI's refusals needs real runs but no model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def write_recorded_project(
    tmp: Path, samples: Sequence[dict[str, Any]], recorded: Sequence[dict[str, Any]], name: str, extra: str = ""
) -> Path:
    """Write ds.jsonl, rec.jsonl and spec.yaml (a `contains: hello` grader, store runs.sqlite) into `tmp`; the spec's
    path. `extra` is appended to the spec's YAML (e.g. a gates block)."""
    (tmp / "ds.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    (tmp / "rec.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recorded))
    spec = tmp / "spec.yaml"
    spec.write_text(
        f"name: {name}\n"
        "dataset: ds.jsonl\n"
        "solver: {type: recorded, path: rec.jsonl}\n"
        "graders:\n"
        "  - name: contains\n"
        "    config: {value: hello}\n"
        "store: runs.sqlite\n" + extra
    )
    return spec
