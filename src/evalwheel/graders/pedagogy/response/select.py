"""Model selection for the response graders: one grouped-CV table, the default tier, shipped records.

    python -m evalwheel.graders.pedagogy.response.select --data PATH/TO/mrbench [--work build/encoder]

Reads the out-of-fold predictions the trainers wrote (`oof_linear_seed*.npz` from `train_linear`; for
the encoder tier `oof_finetuned_seed*.npz` from `encoder.finetune` — the int8 ONNX model's logits, i.e.
what ships — or, with `--encoder-oof encoder`, the frozen-MiniLM heads' `oof_encoder_seed*.npz`),
scores the rules tier on the same items (it has nothing to fit), forms the ensemble (mean of the
linear and encoder probabilities, out of fold as well), and per dimension picks the default tier by
grouped-CV macro-F1 alone (ties go to the simpler tier). Writes one calibration record per grader into
`evalwheel/calibration/shipped/` (per-tier figures, per-label F1, seed stability) and the table into
docs/agreement.md. Nothing is fitted here.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np

from evalwheel.graders.pedagogy.response.dimensions import DIMENSION_ORDER, TASKS
from evalwheel.graders.pedagogy.response.rules import grade_rules
from evalwheel.graders.pedagogy.response.tiers import TIERS, decide, grader_name
from evalwheel.stats.agreement import Agreement, agreement

# BEA 2025 shared-task targets from the issue (grouped-CV macro-F1 here, test-set macro-F1 there).
TARGETS = {
    "Mistake_Identification": 0.72,
    "Mistake_Location": 0.60,
    "Providing_Guidance": 0.60,
    "Actionability": 0.71,
    "Revealing_of_the_Answer": 0.88,
    "Tutor_Tone": 0.80,
}
METHOD = "5-fold grouped CV by conversation"
MARK_START = "<!-- tier-table:start -->"
MARK_END = "<!-- tier-table:end -->"
REPO = Path(__file__).resolve().parents[5]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def _encoder_oof(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """{dimension: {key: probabilities}} from an encoder OOF file (rows never predicted are skipped)."""
    from evalwheel.graders.pedagogy.response.encoder.train import head_slices

    z = np.load(path)
    keys, fold = z["keys"], z["fold"]
    out: dict[str, dict[str, np.ndarray]] = {}
    for dim, (lo, hi) in zip(DIMENSION_ORDER, head_slices(), strict=True):
        P = _softmax(z["logits"][:, lo:hi])
        out[dim] = {str(k): P[i] for i, k in enumerate(keys) if fold[i] >= 0}
    return out


def _linear_oof(path: Path) -> dict[str, dict[str, np.ndarray]]:
    z = np.load(path)
    out: dict[str, dict[str, np.ndarray]] = {}
    for dim in DIMENSION_ORDER:
        if dim in z.files:
            out[dim] = {str(k): z[dim][i] for i, k in enumerate(z[f"{dim}__keys"])}
    return out


def _linear_cv_from_weights(dim: str) -> dict[str, Any] | None:
    """The linear tier's grouped-CV figures as its trainer stored them with the shipped weights (used when
    no out-of-fold file of that run is at hand; the ensemble then cannot be formed for `dim`)."""
    from evalwheel.graders.pedagogy.response.trained import WEIGHTS_META

    if not WEIGHTS_META.is_file():
        return None
    import json

    cv = json.loads(WEIGHTS_META.read_text(encoding="utf-8")).get("cv", {}).get(dim, {}).get("trained")
    if cv is None:
        return None
    return {
        "n": cv["n"],
        "macro_f1": cv["macro_f1"],
        "kappa": cv["kappa"],
        "accuracy": cv["accuracy"],
        "per_label_f1": cv["f1"],
        "labels": cv["labels"],
        "confusion": cv["confusion"],
        "source": "train_linear's own CV run (stored with the weights)",
    }


def _figures(a: Agreement) -> dict[str, Any]:
    return {
        "n": a.n,
        "macro_f1": a.macro_f1,
        "kappa": a.kappa,
        "accuracy": a.accuracy,
        "per_label_f1": {k: v.f1 for k, v in a.per_label.items()},
        "labels": list(a.labels),
        "confusion": a.confusion,
    }


def _ensemble(lin: np.ndarray | None, enc: np.ndarray | None) -> np.ndarray | None:
    """The ensemble tier's probabilities: the mean of the linear and encoder tiers' (None if either is missing)."""
    return None if lin is None or enc is None else (lin + enc) / 2


def _seed_of(path: Path) -> int:
    m = re.search(r"seed(\d+)", path.name)
    return int(m.group(1)) if m else 0


def evaluate(items: list[Any], work: Path, seed: int, encoder_oof: str = "finetuned") -> dict[str, dict[str, Any]]:
    """Per dimension: figures per tier, default tier, seed stability."""
    lin_files = sorted(work.glob("oof_linear_seed*.npz"))
    enc_files = sorted(work.glob(f"oof_{encoder_oof}_seed*.npz"))
    lin_all = {_seed_of(p): _linear_oof(p) for p in lin_files}
    enc_all = {_seed_of(p): _encoder_oof(p) for p in enc_files}
    results: dict[str, dict[str, Any]] = {}
    for dim in DIMENSION_ORDER:
        labels = TASKS[dim].labels
        rows = [it for it in items if dim in it.labels]
        if not rows:
            continue
        gold = [it.labels[dim] for it in rows]
        rule_labels = [str(grade_rules(dim, it.ctx, it.reply).metadata["label"]) for it in rows]
        tiers: dict[str, dict[str, Any]] = {"rules": _figures(agreement(gold, rule_labels, labels))}

        def probs(src: dict[int, dict[str, dict[str, np.ndarray]]], s: int) -> np.ndarray | None:
            table = src.get(s, {}).get(dim)  # noqa: B023 (used inside this iteration only)
            if not table or any(it.key not in table for it in rows):  # noqa: B023
                return None
            return np.stack([table[it.key] for it in rows])  # noqa: B023

        lin, enc = probs(lin_all, seed), probs(enc_all, seed)
        ens = _ensemble(lin, enc)
        for name, P in (("linear", lin), ("encoder", enc), ("ensemble", ens)):
            if P is not None:
                tiers[name] = _figures(agreement(gold, decide(dim, P, rule_labels), labels))
        if lin is None and (logged := _linear_cv_from_weights(dim)) is not None:
            tiers["linear"] = logged  # same grouped CV, from the run that fitted the shipped linear model
        by_seed: dict[str, dict[int, np.ndarray | None]] = {
            "linear": {s: probs(lin_all, s) for s in sorted(lin_all)},
            "encoder": {s: probs(enc_all, s) for s in sorted(enc_all)},
        }
        by_seed["ensemble"] = {  # the ensemble of the two tiers' fits of the same seed
            s: _ensemble(by_seed["linear"][s], by_seed["encoder"][s]) for s in sorted(set(lin_all) & set(enc_all))
        }
        stability: dict[str, dict[str, float | None]] = {}
        for name, seeds in by_seed.items():
            per_seed = {
                str(s): agreement(gold, decide(dim, P, rule_labels), labels).macro_f1
                for s, P in seeds.items()
                if P is not None
            }
            if len(per_seed) > 1:
                stability[name] = per_seed
        ranked = sorted(
            (t for t in TIERS if t in tiers),
            key=lambda t: (-(tiers[t]["macro_f1"] or 0.0), TIERS.index(t)),
        )
        results[dim] = {"tiers": tiers, "default_tier": ranked[0], "seed_stability": stability}
    return results


def write_records(results: dict[str, dict[str, Any]], data_files: list[Path], n_items: int, seed: int) -> None:
    from evalwheel.calibration.record import CalibrationRecord, DatasetRef, _now, _version, write_record
    from evalwheel.calibration.shipped import shipped_record_path

    hashes = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in data_files}
    combined = hashlib.sha256("".join(f"{k}:{v}\n" for k, v in sorted(hashes.items())).encode()).hexdigest()
    dataset = DatasetRef(path=f"MRBench dev ({' + '.join(sorted(hashes))})", sha256=combined, items=n_items)
    for dim, r in results.items():
        best = r["tiers"][r["default_tier"]]
        rec = CalibrationRecord(
            task="mrbench",
            grader=grader_name(dim),
            score_name=dim,
            dataset=dataset,
            n=best["n"],
            scored=best["n"],
            unscored=0,
            kappa=best["kappa"],
            macro_f1=best["macro_f1"],
            accuracy=best["accuracy"],
            seed=seed,
            config={"tier": r["default_tier"]},
            measured_at=_now(),
            evalwheel_version=_version(),
            details={
                "method": METHOD,
                "default_tier": r["default_tier"],
                "tiers": r["tiers"],
                "seed_stability": r["seed_stability"],
                "target_macro_f1": TARGETS.get(dim),
                "files": hashes,
            },
        )
        write_record(rec, shipped_record_path(grader_name(dim)))


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def markdown(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"Macro-F1, {METHOD}: every learned tier is scored on out-of-fold predictions (the ensemble averages "
        "the linear and encoder ones); the rules have nothing to fit and are scored on the same items.",
        "",
        "| dimension | n | rules | linear | encoder | ensemble | default | target | per-label F1 (default tier) |",
        "|---|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for dim, r in results.items():
        t = r["tiers"]
        best = t[r["default_tier"]]
        target = TARGETS.get(dim)
        met = "" if target is None else (f"{target:.2f} {'met' if (best['macro_f1'] or 0) >= target else 'not met'}")
        per = ", ".join(f"{k} {_f(v)}" for k, v in best["per_label_f1"].items())
        cells = [_f(t[x]["macro_f1"]) if x in t else "–" for x in TIERS]
        lines.append(f"| {dim} | {best['n']} | {' | '.join(cells)} | {r['default_tier']} | {met} | {per} |")
    stab = [
        f"{dim} {name}: " + "/".join(_f(v) for v in seeds.values())
        for dim, r in results.items()
        for name, seeds in r["seed_stability"].items()
    ]
    if stab:
        lines += ["", "Seed stability (macro-F1 per training seed): " + "; ".join(stab) + "."]
    return "\n".join(lines)


def write_docs(path: Path, table: str, command: str) -> None:
    block = f"{MARK_START}\n{table}\n\nProduced by `{command}`.\n{MARK_END}"
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Agreement\n"
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        text = head + block + rest.split(MARK_END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## All eight dimensions, every tier (issue #12)\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    from evalwheel.graders.pedagogy.response.encoder.train import load_items

    ap = argparse.ArgumentParser(prog="python -m evalwheel.graders.pedagogy.response.select")
    ap.add_argument("--data", type=Path, required=True, help="the MRBench folder the trainers used")
    ap.add_argument("--work", type=Path, default=Path("build/encoder"))
    ap.add_argument("--seed", type=int, default=0, help="the seed whose fits are shipped")
    ap.add_argument("--docs", type=Path, default=REPO / "docs" / "agreement.md", help="'-' to skip")
    ap.add_argument("--no-records", action="store_true", help="print the table only")
    ap.add_argument("--encoder-oof", default="finetuned", help="encoder-tier OOF files: oof_{this}_seed*.npz")
    args = ap.parse_args(argv)
    items = load_items(args.data)
    results = evaluate(items, args.work, args.seed, args.encoder_oof)
    table = markdown(results)
    print(table)
    if not args.no_records:
        files = sorted(args.data.glob("*.json")) if args.data.is_dir() else [args.data]
        write_records(results, files, len(items), args.seed)
    if str(args.docs) != "-":
        write_docs(args.docs, table, "make select-tiers DATA=PATH/TO/mrbench")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
