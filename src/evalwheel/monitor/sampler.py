"""Stratified sampling with known inclusion probabilities.

Each event falls in a stratum (the configured keys' values). Its probability of being graded is the stratum's
rate, raised for thin strata so each gets about `min_per_hour` graded events, and 1 for the always-sample
rules (input patterns, errors, latency above the rolling p95, negative feedback). The coin is a hash of the
request id, so a decision is reproducible. The probability is stored with the event: window estimates weight
each graded event by 1/p (Horvitz-Thompson / Hajek), which undoes the oversampling.

State (stratum counts per minute over the last hour, the last 1,000 latencies, the hour's budget) is small
and fixed-size, so memory stays flat however many events pass.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque

from evalwheel.monitor.config import SamplerConfig
from evalwheel.monitor.events import Event
from evalwheel.monitor.queue import Decision

_P95_EVERY = 50
_P95_MIN = 100


def stratum_of(event: Event, keys: list[str]) -> str:
    parts: list[str] = []
    for key in keys:
        value = (
            event.metadata.get(key[len("metadata.") :]) if key.startswith("metadata.") else getattr(event, key, None)
        )
        parts.append("-" if value is None else str(value))
    return "|".join(parts)


def unit_hash(request_id: str) -> float:
    """A uniform number in [0, 1) from the request id: the sampler's reproducible coin."""
    digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Sampler:
    def __init__(self, config: SamplerConfig) -> None:
        self.config = config
        self._patterns = [re.compile(p) for p in config.always.input_patterns]
        self._minutes: dict[str, dict[int, int]] = {}
        self._latencies: deque[float] = deque(maxlen=1000)
        self._since_p95 = 0
        self.p95: float | None = None
        self._budget_hour = -1
        self._budget_used = 0
        self._budget = config.budget.max_events_per_hour()

    def _hourly_count(self, stratum: str, minute: int) -> int:
        buckets = self._minutes.setdefault(stratum, {})
        buckets[minute] = buckets.get(minute, 0) + 1
        if len(buckets) > 61:
            for m in [m for m in buckets if m <= minute - 60]:
                del buckets[m]
        return sum(n for m, n in buckets.items() if m > minute - 60)

    def _observe_latency(self, latency: float | None) -> None:
        if latency is None:
            return
        self._latencies.append(latency)
        self._since_p95 += 1
        if self._since_p95 >= _P95_EVERY and len(self._latencies) >= _P95_MIN:
            ordered = sorted(self._latencies)
            self.p95 = ordered[int(0.95 * (len(ordered) - 1))]
            self._since_p95 = 0

    def _always_reason(self, event: Event) -> str | None:
        rules = self.config.always
        if event.metadata.get("session_end") is True:
            return "always:session_end"  # a closed session is graded whole, whatever its turns' sampling
        if rules.errors and event.error is not None:
            return "always:error"
        if rules.negative_feedback and event.feedback is not None and event.feedback.negative:
            return "always:negative_feedback"
        if rules.latency_above_p95 and self.p95 is not None and (event.latency_ms or 0) > self.p95:
            return "always:latency_p95"
        if self._patterns:
            text = event.question
            for p in self._patterns:
                if p.search(text):
                    return f"always:pattern:{p.pattern[:60]}"
        return None

    def rate_for(self, stratum: str, hourly: int) -> tuple[float, str]:
        cfg = self.config
        rate = cfg.rates.get(stratum, cfg.default_rate)
        reason = "stratum"
        if cfg.min_per_hour and hourly > 0 and rate * hourly < cfg.min_per_hour:
            rate, reason = min(1.0, cfg.min_per_hour / hourly), "thin_stratum"
        return rate, reason

    def decide(self, event: Event) -> Decision:
        stratum = stratum_of(event, self.config.strata)
        minute = int(event.timestamp // 60)
        hourly = self._hourly_count(stratum, minute)
        always = self._always_reason(event)
        self._observe_latency(event.latency_ms)
        if always is not None:
            self._spend(minute)
            return Decision(stratum, True, 1.0, always)
        rate, reason = self.rate_for(stratum, hourly)
        if self._budget is not None:
            hour = minute // 60
            if hour != self._budget_hour:
                self._budget_hour, self._budget_used = hour, 0
            if self._budget_used >= self._budget:
                return Decision(stratum, False, 0.0, "budget_exhausted")
        sampled = unit_hash(event.request_id) < rate
        if sampled:
            self._spend(minute)
        return Decision(stratum, sampled, rate, reason)

    def _spend(self, minute: int) -> None:
        hour = minute // 60
        if hour != self._budget_hour:
            self._budget_hour, self._budget_used = hour, 0
        self._budget_used += 1
