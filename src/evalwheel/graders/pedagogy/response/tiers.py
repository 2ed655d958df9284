"""One entry point for every tier: grade many replies on many dimensions, get Scores.

Tiers: `rules` (decision lists, explainable), `linear` (logistic regression over MiniLM embeddings +
rule features, numpy), `encoder` (fine-tuned MiniLM cross-encoder, int8 ONNX), `ensemble` (the mean of
the linear and encoder class probabilities), and `best`: per dimension, the tier with the highest
grouped-CV macro-F1 in the shipped calibration record. If the tier asked for cannot run here (a
missing package or weights), `best` falls back to the rules and says so in the Score's reason and in
the runner's note; an explicit tier raises `TierUnavailableError`.

Every learned verdict keeps the rules' evidence quote and label (a reviewer sees what in the reply a
classifier was most likely reacting to), and every Score carries `metadata["agreement"]`: the figure
the tier that made the verdict was measured at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from evalwheel.graders.pedagogy.response.context import ResponseContext
from evalwheel.graders.pedagogy.response.dimensions import TASKS, TONE
from evalwheel.graders.pedagogy.response.rules import grade_rules
from evalwheel.types import Score

if TYPE_CHECKING:  # numpy is imported lazily: this module is loaded with every grader, at CLI start-up
    import numpy as np

TIERS = ("rules", "linear", "encoder", "ensemble")
ALIASES = {"trained": "linear"}


class TierUnavailableError(RuntimeError):
    """A tier was asked for explicitly but cannot run here (the message says why)."""


def grader_name(dimension: str) -> str:
    """The registered grader for an MRBench dimension (or MathDial's telling): `pedagogy.<lower name>`."""
    return f"pedagogy.{dimension.lower()}"


def default_tier(dimension: str) -> str:
    """The tier the shipped calibration record chose for `dimension` by grouped-CV macro-F1 (else rules)."""
    from evalwheel.calibration.shipped import shipped_record

    record = shipped_record(grader_name(dimension))
    tier = record.details.get("default_tier") if record is not None else None
    return tier if tier in TIERS else "rules"


def tier_unavailable(tier: str, dimension: str) -> str | None:
    """Why `tier` cannot grade `dimension` here, or None. Cheap: loads no model."""
    if tier == "rules":
        return None
    reasons = []
    if tier in ("linear", "ensemble"):
        from evalwheel.embed.minilm import unavailable_reason as emb_reason

        reason = emb_reason()
        if reason is None:
            try:
                from evalwheel.graders.pedagogy.response.trained import load_models

                if dimension not in load_models().models:
                    reason = f"no linear model for {dimension}; retrain"
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                reason = str(exc)
        if reason:
            reasons.append(reason)
    if tier in ("encoder", "ensemble"):
        from evalwheel.graders.pedagogy.response.encoder.model import unavailable_reason as enc_reason

        reason = enc_reason()
        if reason:
            reasons.append(reason)
    return "; ".join(reasons) or None


def resolve(dimensions: Sequence[str], tier: str) -> tuple[dict[str, str], dict[str, str]]:
    """Tier per dimension and notes per dimension. `best` falls back to rules with a note."""
    tier = ALIASES.get(tier, tier)
    tiers: dict[str, str] = {}
    notes: dict[str, str] = {}
    for dim in dimensions:
        want = default_tier(dim) if tier == "best" else tier
        if want not in TIERS:
            raise TierUnavailableError(f"unknown tier {tier!r} (known: best, {', '.join(TIERS)})")
        reason = tier_unavailable(want, dim)
        if reason and tier != "best":
            raise TierUnavailableError(f"the {want} tier cannot grade {dim}: {reason}")
        if reason:
            tiers[dim], notes[dim] = "rules", f"best tier ({want}) unavailable, used rules: {reason}"
        else:
            tiers[dim] = want
    return tiers, notes


def _linear_proba(
    dims: Sequence[str], pairs: Sequence[tuple[ResponseContext, str]], embedder: Any
) -> dict[str, np.ndarray]:
    """Linear-tier probabilities in each dimension's label order, decision offsets folded in."""
    import numpy as np

    from evalwheel.graders.pedagogy.response.trained import load_models
    from evalwheel.graders.pedagogy.response.vectorize import design_matrix

    if embedder is None:  # the process-wide one: a grader called per sample must not reload the model
        from evalwheel.embed import default_embedder

        embedder = default_embedder()
    X = design_matrix(pairs, embedder)
    bundle = load_models()
    out = {}
    for dim in dims:
        model = bundle.models[dim]
        labels = TASKS[dim].labels
        z = np.log(np.clip(model.predict_proba(X), 1e-12, 1.0)) + model.offsets
        e = np.exp(z - z.max(axis=1, keepdims=True))
        P = e / e.sum(axis=1, keepdims=True)
        full = np.zeros((len(pairs), len(labels)))
        for j, c in enumerate(model.classes):
            full[:, labels.index(c)] = P[:, j]
        out[dim] = full
    return out


def probabilities(
    tiers: dict[str, str], pairs: Sequence[tuple[ResponseContext, str]], embedder: Any = None
) -> dict[str, np.ndarray]:
    """Class probabilities (label order of each dimension) for every learned-tier dimension."""
    import numpy as np

    need_lin = [d for d, t in tiers.items() if t in ("linear", "ensemble")]
    need_enc = [d for d, t in tiers.items() if t in ("encoder", "ensemble")]
    lin = _linear_proba(need_lin, pairs, embedder) if need_lin and pairs else {}
    enc: dict[str, np.ndarray] = {}
    if need_enc and pairs:
        from evalwheel.graders.pedagogy.response.encoder.model import load_encoder

        enc = load_encoder().predict(pairs)
    out = {}
    for dim, tier in tiers.items():
        if tier == "linear":
            out[dim] = lin[dim] if pairs else np.zeros((0, len(TASKS[dim].labels)))
        elif tier == "encoder":
            out[dim] = enc[dim] if pairs else np.zeros((0, len(TASKS[dim].labels)))
        elif tier == "ensemble":
            out[dim] = (lin[dim] + enc[dim]) / 2 if pairs else np.zeros((0, len(TASKS[dim].labels)))
    return out


def decide(dimension: str, proba: np.ndarray, rule_labels: Sequence[str]) -> list[str]:
    """Argmax label per row; Offensive tone (one example in the dev data) is left to the harsh-word rule."""
    labels = TASKS[dimension].labels
    out = [labels[int(k)] for k in proba.argmax(axis=1)] if len(proba) else []
    if dimension == TONE.name:
        out = ["Offensive" if r == "Offensive" else ("Neutral" if p == "Offensive" else p)
               for p, r in zip(out, rule_labels, strict=True)]
    return out


def grade_many(
    dimensions: Sequence[str],
    pairs: Sequence[tuple[ResponseContext, str]],
    tier: str = "best",
    embedder: Any = None,
) -> tuple[dict[str, list[Score]], dict[str, str], dict[str, str]]:
    """Scores per dimension for every pair, plus the tier used and notes per dimension."""
    import numpy as np

    from evalwheel.calibration.shipped import agreement_note

    tiers, notes = resolve(dimensions, tier)
    learned = {d: t for d, t in tiers.items() if t != "rules"}
    probs = probabilities(learned, pairs, embedder) if learned else {}
    out: dict[str, list[Score]] = {}
    for dim in dimensions:
        d = TASKS[dim]
        rules = [grade_rules(dim, ctx, reply) for ctx, reply in pairs]
        note = agreement_note(grader_name(dim), tiers[dim])
        if tiers[dim] == "rules":
            scores = []
            for s in rules:
                meta: dict[str, Any] = {**s.metadata, **({"agreement": note} if note else {})}
                reason = s.reason if dim not in notes else f"{s.reason} [{notes[dim]}]"
                scores.append(s.model_copy(update={"metadata": meta, "reason": reason}))
            out[dim] = scores
            continue
        P = probs[dim]
        rule_labels = [str(s.metadata["label"]) for s in rules]
        chosen = decide(dim, P, rule_labels)
        scores = []
        for p, label, rule in zip(P, chosen, rules, strict=True):
            k = d.labels.index(label)
            value = 0.0 if label == "Offensive" else float(sum(pi * v for pi, v in zip(p, d.values, strict=True)))
            meta = {
                "label": label,
                "tier": tiers[dim],
                "proba": {c: round(float(x), 4) for c, x in zip(d.labels, p, strict=True)},
                "rules_label": rule.metadata["label"],
            }
            if note:
                meta["agreement"] = note
            scores.append(
                Score(
                    name=dim,
                    value=min(1.0, max(0.0, value)),
                    passed=d.passed(label),
                    reason=f"{tiers[dim]}: {label} (p={p[k]:.2f}); rules: {rule.metadata['label']} — {rule.reason}",
                    evidence=rule.evidence,
                    confidence=float(np.clip(p[k], 0.0, 1.0)),
                    metadata=meta,
                )
            )
        out[dim] = scores
    return out, tiers, notes
