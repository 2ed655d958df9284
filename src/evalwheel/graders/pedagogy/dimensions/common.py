"""What every dimension grader shares: the 0-2 Score shape and the session view they read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evalwheel.graders.pedagogy.dimensions.scan import TurnScan, scan_text
from evalwheel.graders.pedagogy.scores import trusted_score
from evalwheel.graders.pedagogy.tagger import TaggedSession, TurnTags
from evalwheel.types import DimensionName, Evidence, Score

if TYPE_CHECKING:
    from evalwheel.graders.pedagogy.dimensions.clarity import TurnLoad

SCALE = "0-2"


@dataclass(slots=True)
class DimensionResult:
    """A dimension's verdict before settings are applied: the anchored value (None = not applicable)."""

    name: DimensionName
    value: int | None
    reason: str
    confidence: float
    evidence: list[Evidence] = field(default_factory=list)
    metadata: dict[str, object] = field(default_factory=dict)

    def score(self, pass_at: int) -> Score:
        # Built from values this package produced (finite 0-2 levels, confidences in [0, 1], validated
        # Evidence): skipping re-validation keeps the deterministic tier fast.
        return trusted_score(
            self.name.value,
            None if self.value is None else float(self.value),
            None if self.value is None else self.value >= pass_at,
            self.reason,
            self.evidence,
            round(float(self.confidence), 3),
            {"scale": SCALE, "tier": "deterministic", **self.metadata},
        )


class View:
    """A tagged session plus the lookups several dimensions need, computed once.

    Plain attributes rather than `cached_property` (which needs an instance `__dict__`): the same class
    then also compiles as a native class under mypyc (measured with `bench_checks_ab.py --mypyc`), where there
    is no `__dict__`.
    """

    __slots__ = ("_loads", "_profile_text", "_scans", "by_index", "level", "ts")

    def __init__(self, ts: TaggedSession) -> None:
        self.ts = ts
        self.by_index: dict[int, TurnTags] = {t.index: t for t in ts.assistant}
        learner = ts.session.learner
        self.level: str = (learner.level if learner is not None else None) or "intermediate"
        self._profile_text: str | None = None
        self._scans: dict[int, TurnScan] = {}
        self._loads: list[TurnLoad] | None = None  # clarity.turn_loads, once computed

    @property
    def profile_text(self) -> str:
        """Everything the tutor was told about the learner before the session, lowercased."""
        found = self._profile_text
        if found is not None:
            return found
        s = self.ts.session
        parts = [s.prompt]
        if s.learner is not None:
            parts += [
                *s.learner.goals,
                *s.learner.known_concepts,
                s.learner.prior_knowledge or "",
                s.learner.notes or "",
            ]
        memory = s.metadata.get("memory")
        if isinstance(memory, str):
            parts.append(memory)
        found = self._profile_text = " ".join(parts).lower()
        return found

    def scan(self, index: int) -> TurnScan:
        """The one-pass cue and term scan of a tutor turn's prose (computed once per turn)."""
        scans = self._scans
        found = scans.get(index)
        if found is None:
            tags = self.by_index.get(index)
            found = scan_text(tags.prose.lower) if tags is not None and tags.prose is not None else TurnScan()
            scans[index] = found
        return found

    def text(self, index: int) -> str:
        return self.ts.session.trajectory[index].content

    def next_assistant(self, index: int) -> TurnTags | None:
        return next((t for t in self.ts.assistant if t.index > index), None)

    def prev_assistant(self, index: int) -> TurnTags | None:
        return next((t for t in reversed(self.ts.assistant) if t.index < index), None)
