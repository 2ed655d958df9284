"""Write `recorded-candidate.jsonl`: the recorded answers of a hypothetical new assistant version.

The candidate's new prompt "tidied up" answers and lost the house sign-off on every eighth generated
(distribution) answer, while golden, regression and adversarial answers stayed as reviewed. Running
`spec.yaml` then `spec-candidate.yaml` and comparing them (`evalwheel compare support-assistant@latest
support-assistant-candidate@latest`) shows a paired McNemar regression that the per-partition gates alone
(distribution >= 0.8) would let through. Deterministic: re-running it rewrites the same file.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIGN_OFF = "\n\nBest regards,\nTaskHarbor Support"


def main() -> None:
    lines = (HERE / "recorded.jsonl").read_text(encoding="utf-8").splitlines()
    out = []
    generated = 0
    for line in lines:
        row = json.loads(line)
        if row["id"].startswith("dist-"):
            if generated % 8 == 0:
                row["output"]["text"] = row["output"]["text"].replace(SIGN_OFF, "")
            generated += 1
        out.append(json.dumps(row, ensure_ascii=False))
    (HERE / "recorded-candidate.jsonl").write_text("\n".join(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
