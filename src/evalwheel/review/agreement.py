"""How far reviewers agree with each other, and how far the graders agree with the reviewers.

- Inter-annotator agreement per check and per dimension, over items with two or more labels: Cohen's
  kappa on the first two reviewers of each item (the classic two-rater figure) and Krippendorff's alpha
  over all ratings (nominal for pass / fail verdicts, interval for the 0-2 dimension scales).
- Grader vs human per score name: the grader's verdict that the reviewer saw against the human
  consensus (the single reviewer, or the reviewers when they agree); this is the figure a grader's
  `min_agreement` gate should rest on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

from evalwheel.basemodel import EvalwheelModel
from evalwheel.review.models import DIMENSIONS, Label, ReviewItem
from evalwheel.stats.agreement import agreement
from evalwheel.stats.krippendorff import krippendorff_alpha


class RaterAgreement(EvalwheelModel):
    """Agreement between reviewers on one check or dimension."""

    name: str
    kind: str  # check | dimension | escalate
    items: int  # items with >= 2 ratings
    percent: float | None
    cohen_kappa: float | None
    krippendorff_alpha: float | None


class GraderAgreement(EvalwheelModel):
    """One grader score against the human consensus."""

    name: str
    n: int
    accuracy: float | None
    kappa: float | None
    human_fail: int
    grader_fail: int


def consensus(labels: Sequence[Label], check: str) -> bool | None:
    """The humans' pass (True) / fail (False) on a check; None if nobody rated it, it is n/a, or they differ."""
    verdicts = {lb.checks.get(check) for lb in labels} - {None}
    if len(verdicts) != 1:
        return None
    v = verdicts.pop()
    return None if v == "na" else v == "pass"


def _rater(name: str, kind: str, units: list[list[Hashable]], metric: str) -> RaterAgreement:
    pairs = [u[:2] for u in units if len(u) >= 2]
    kappa = None
    percent = None
    if pairs:
        a = agreement([str(p[0]) for p in pairs], [str(p[1]) for p in pairs])
        kappa, percent = a.kappa, a.accuracy
    alpha = krippendorff_alpha(units, "interval" if metric == "interval" else "nominal")
    return RaterAgreement(
        name=name, kind=kind, items=len(pairs), percent=percent, cohen_kappa=kappa, krippendorff_alpha=alpha
    )


def inter_annotator(labelled: Sequence[tuple[ReviewItem, list[Label]]]) -> list[RaterAgreement]:
    checks: dict[str, list[list[Hashable]]] = defaultdict(list)
    dims: dict[str, list[list[Hashable]]] = defaultdict(list)
    escalate: list[list[Hashable]] = []
    for _item, labels in labelled:
        if len(labels) < 2:
            continue
        for name in sorted({c for lb in labels for c in lb.checks}):
            checks[name].append([lb.checks[name] for lb in labels if lb.checks.get(name) not in (None, "na")])
        for name in DIMENSIONS:
            ratings = [lb.dimensions[name] for lb in labels if name in lb.dimensions]
            if ratings:
                dims[name].append(list(ratings))
        esc = [lb.escalate for lb in labels if lb.escalate is not None]
        if esc:
            escalate.append(list(esc))
    out = [_rater(n, "check", u, "nominal") for n, u in sorted(checks.items())]
    out += [_rater(n, "dimension", u, "interval") for n, u in dims.items()]
    if escalate:
        out.append(_rater("escalate", "escalate", escalate, "nominal"))
    return out


def grader_vs_human(labelled: Sequence[tuple[ReviewItem, list[Label]]]) -> list[GraderAgreement]:
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for item, labels in labelled:
        seen: dict[str, bool | None] = {}
        for lb in labels:
            seen.update(lb.graders_seen)
        if not seen:
            seen = {str(s["name"]): s.get("passed") for s in item.scores}
        for name, grader_pass in seen.items():
            if grader_pass is None:
                continue
            human = consensus(labels, name)
            if human is None:
                continue
            pairs[name].append(("pass" if human else "fail", "pass" if grader_pass else "fail"))
    out: list[GraderAgreement] = []
    for name, ps in sorted(pairs.items()):
        a = agreement([p[0] for p in ps], [p[1] for p in ps], labels=["pass", "fail"])
        out.append(
            GraderAgreement(
                name=name,
                n=len(ps),
                accuracy=a.accuracy,
                kappa=a.kappa,
                human_fail=sum(p[0] == "fail" for p in ps),
                grader_fail=sum(p[1] == "fail" for p in ps),
            )
        )
    return out
