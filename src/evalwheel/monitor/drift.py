"""Drift of a window against a baseline: quality metrics with real tests, and input drift with MiniLM.

Each metric gets its own test: pass rates (overall and per grader, re-weighted, on Kish's effective n) and
the error rate with the two-proportion test (Fisher's exact when cells are small), judge scores and latency
with Welch's t-test. Testing a dozen metrics every window would raise false alarms at alpha per metric, so
the p-values are adjusted together (Holm by default, which controls the family-wise error rate). A metric
"drifts" when its adjusted p is below alpha and it moved in the bad direction.

Input drift embeds the request texts of both windows with the offline MiniLM model: the distance between the
mean embeddings is tested by permutation, and current requests whose nearest baseline request is less similar
than `new_topic_similarity` are grouped into new-topic clusters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.monitor.windows import RateStat, WindowReport
from evalwheel.stats.compare import two_proportion_test, welch_test


class MetricDrift(EvalwheelModel):
    metric: str
    test: str
    baseline: float | None
    current: float | None
    p_value: float | None
    p_adjusted: float | None = None
    worse: bool
    drifted: bool = False


class InputDrift(EvalwheelModel):
    centroid_distance: float
    p_value: float
    new_topic_share: float
    new_topics: list[list[str]] = Field(default_factory=list, description="Examples per new-topic cluster.")
    drifted: bool


class DriftReport(EvalwheelModel):
    window_start: float
    baseline: str
    alpha: float
    correction: str
    metrics: list[MetricDrift]
    input: InputDrift | None = None

    @property
    def drifted(self) -> list[MetricDrift]:
        return [m for m in self.metrics if m.drifted]


def adjust(p_values: Sequence[float], method: str) -> list[float]:
    """Holm step-down or Bonferroni adjusted p-values (in input order)."""
    m = len(p_values)
    if method == "none" or m == 0:
        return list(p_values)
    if method == "bonferroni":
        return [min(1.0, p * m) for p in p_values]
    order = sorted(range(m), key=lambda i: p_values[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out


def _rate_test(name: str, a: RateStat, b: RateStat, min_graded: int) -> MetricDrift | None:
    if a.estimate is None or b.estimate is None or a.n_eff < min_graded or b.n_eff < min_graded:
        return None
    na, nb = max(1, round(a.n_eff)), max(1, round(b.n_eff))
    xa, xb = round(a.estimate * na), round(b.estimate * nb)
    res = two_proportion_test(xa, na, xb, nb)
    return MetricDrift(
        metric=name,
        test=res.name,
        baseline=a.estimate,
        current=b.estimate,
        p_value=res.p_value,
        worse=b.estimate < a.estimate,
    )


def compare_windows(
    baseline: WindowReport,
    current: WindowReport,
    *,
    alpha: float = 0.05,
    correction: str = "holm",
    min_graded: int = 20,
    baseline_name: str = "window",
) -> DriftReport:
    """Test every metric both windows have enough data for; adjust for the number tested."""
    tests: list[MetricDrift] = []
    t = _rate_test("pass_rate", baseline.pass_rate, current.pass_rate, min_graded)
    if t:
        tests.append(t)
    for name in sorted(set(baseline.graders) & set(current.graders)):
        t = _rate_test(f"pass_rate:{name}", baseline.graders[name], current.graders[name], min_graded)
        if t:
            tests.append(t)
    if baseline.volume >= min_graded and current.volume >= min_graded and baseline.latencies:
        res = two_proportion_test(baseline.errors, baseline.volume, current.errors, current.volume)
        tests.append(
            MetricDrift(
                metric="error_rate",
                test=res.name,
                baseline=baseline.error_rate,
                current=current.error_rate,
                p_value=res.p_value,
                worse=(current.error_rate or 0) > (baseline.error_rate or 0),
            )
        )
    for metric, a, b in (
        ("judge_score", baseline.judge_values, current.judge_values),
        ("latency_ms", baseline.latencies, current.latencies),
    ):
        if len(a) >= min_graded and len(b) >= min_graded:
            res, diff = welch_test(a, b)
            if res.p_value is not None:
                worse = (diff.estimate or 0) < 0 if metric == "judge_score" else (diff.estimate or 0) > 0
                tests.append(
                    MetricDrift(
                        metric=metric,
                        test=res.name,
                        baseline=sum(a) / len(a),
                        current=sum(b) / len(b),
                        p_value=res.p_value,
                        worse=worse,
                    )
                )
    adjusted = adjust([m.p_value if m.p_value is not None else 1.0 for m in tests], correction)
    for m, p in zip(tests, adjusted, strict=True):
        m.p_adjusted = p
        m.drifted = p < alpha and m.worse
    return DriftReport(
        window_start=current.start, baseline=baseline_name, alpha=alpha, correction=correction, metrics=tests
    )


def input_drift(
    baseline_texts: list[str],
    current_texts: list[str],
    *,
    alpha: float = 0.05,
    new_topic_similarity: float = 0.5,
    permutations: int = 200,
    embedder: Any = None,
    seed: int = 0,
) -> InputDrift:
    """Centroid-distance permutation test and new-topic clusters between two sets of request texts."""
    import numpy as np

    if embedder is None:
        from evalwheel.embed.minilm import default_embedder

        embedder = default_embedder()
    a = np.asarray(embedder.embed(baseline_texts), dtype=np.float32)
    b = np.asarray(embedder.embed(current_texts), dtype=np.float32)

    def dist(x: Any, y: Any) -> float:
        cx, cy = x.mean(axis=0), y.mean(axis=0)
        denom = float(np.linalg.norm(cx) * np.linalg.norm(cy)) or 1.0
        return 1.0 - float(cx @ cy) / denom

    observed = dist(a, b)
    pooled = np.vstack([a, b])
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(permutations):
        idx = rng.permutation(len(pooled))
        if dist(pooled[idx[: len(a)]], pooled[idx[len(a) :]]) >= observed:
            hits += 1
    p = (hits + 1) / (permutations + 1)
    nearest = (b @ a.T).max(axis=1) if len(a) else np.zeros(len(b))
    novel = [i for i in range(len(b)) if nearest[i] < new_topic_similarity]
    clusters = greedy_clusters(b[novel], threshold=0.7) if novel else []
    examples = [[current_texts[novel[j]] for j in c[:3]] for c in clusters]
    share = len(novel) / len(b) if len(b) else 0.0
    return InputDrift(
        centroid_distance=observed,
        p_value=p,
        new_topic_share=share,
        new_topics=examples,
        drifted=p < alpha or (share > 0.1 and len(novel) >= 3),
    )


def greedy_clusters(vectors: Any, threshold: float) -> list[list[int]]:
    """Leader clustering on unit vectors: each item joins the first cluster whose leader is >= threshold similar.

    Deterministic and one pass; good enough to group near-identical failures and new topics, which is all the
    monitor needs, and it never needs a cluster count up front.
    """
    leaders: list[int] = []
    clusters: list[list[int]] = []
    for i in range(len(vectors)):
        best, best_sim = -1, threshold
        for c, leader in enumerate(leaders):
            sim = float(vectors[i] @ vectors[leader])
            if sim >= best_sim:
                best, best_sim = c, sim
        if best < 0:
            leaders.append(i)
            clusters.append([i])
        else:
            clusters[best].append(i)
    clusters.sort(key=len, reverse=True)
    return clusters


def pick_baseline(windows: list[WindowReport], index: int, mode: str, min_graded: int) -> WindowReport | None:
    """The baseline window for windows[index]: the first with enough graded events, or the previous one."""
    if mode == "previous":
        return windows[index - 1] if index > 0 else None
    for w in windows[:index]:
        if w.pass_rate.n_eff >= min_graded or w.graded >= min_graded:
            return w
    return None
