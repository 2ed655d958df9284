"""System messages for the tutoring arms: overlay text + learner profile + a short memory summary.

The arms of an A/B replay must differ only in what is being tested. So every model arm gets the same
learner context block; `base` swaps the Study Mode overlay for a plain assistant instruction, and
`overlay:vN` uses the versioned overlay file shipped in this package.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict

from evalwheel.basemodel import EvalwheelModel
from evalwheel.fileio import FileReadError, read_text
from evalwheel.types import LearnerProfile, Session

BASE_SYSTEM_PROMPT = "You are a helpful assistant."
MEMORY_MAX_CHARS = 600
_VERSION_RE = re.compile(r"^v\d+$")

ArmKind = Literal["base", "overlay", "human"]


class ArmError(ValueError):
    """An arm name that cannot be used (unknown kind or overlay version); a configuration error."""


GUARD_SUFFIX = "+guard"
GUARDED_OVERLAYS = frozenset({"v3"})
"""Overlay versions written to run with the guard (`studymode.guard`): `overlay:v3` means v3 + guard."""


class Arm(EvalwheelModel):
    """One condition of a replay: the base model, the model with overlay vN, or the recorded human tutor.

    `guard` puts the deterministic Study Mode checks between the model's draft and the learner
    (`base+guard`, `overlay:v2+guard`; `overlay:v3` is guarded by definition).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ArmKind
    overlay_version: str | None = None
    guard: bool = False

    @property
    def name(self) -> str:
        if self.kind == "overlay":
            implied = self.overlay_version in GUARDED_OVERLAYS
            return f"overlay:{self.overlay_version}" + (GUARD_SUFFIX if self.guard and not implied else "")
        return self.kind + (GUARD_SUFFIX if self.guard else "")

    @property
    def uses_model(self) -> bool:
        return self.kind != "human"


def available_overlays() -> list[str]:
    """Overlay versions shipped in the package, oldest first (v1, v2, ..., v10)."""
    root = resources.files("evalwheel.studymode") / "overlays"
    names = [p.name[:-3] for p in root.iterdir() if p.name.endswith(".md") and _VERSION_RE.match(p.name[:-3])]
    return sorted(names, key=lambda v: int(v[1:]))


_USER_OVERLAYS: dict[str, str] = {}  # name -> text, from --overlay-file (this process only)
_USER_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")


def register_overlay_file(path: str | Path) -> str:
    """Make a user's own overlay file usable as arm `overlay:<name>` (the file's stem, lower-cased).

    ArmError names the file when it cannot be read, is empty, or its name clashes with a shipped version.
    """
    file = Path(path)
    try:
        text = read_text(file).strip()  # the shared reader: binary / non-UTF-8 / a directory is one message
    except FileReadError as exc:
        raise ArmError(f"--overlay-file {file}: cannot read it ({exc.cause})") from None
    name = re.sub(r"[^a-z0-9_-]+", "-", file.stem.lower()).strip("-")
    if not text:
        raise ArmError(f"--overlay-file {file}: the file is empty")
    if not _USER_NAME_RE.match(name) or _VERSION_RE.match(name):
        raise ArmError(
            f"--overlay-file {file}: name the file after the overlay, starting with a letter and not like a "
            f"shipped version (v1, v2, ...): it becomes arm overlay:<name>"
        )
    _USER_OVERLAYS[name] = text
    return name


def load_overlay(version: str) -> str:
    """The overlay text for `version` ("v2" or "2", or a registered --overlay-file name); ArmError names the
    versions that exist."""
    if version in _USER_OVERLAYS:
        return _USER_OVERLAYS[version]
    v = version if version.startswith("v") else f"v{version}"
    known = available_overlays()
    if v not in known:
        known = [*known, *_USER_OVERLAYS]
        raise ArmError(
            f"unknown overlay version {version!r}; available: {', '.join(known) or 'none'} "
            "(your own overlay: --overlay-file FILE.md, then arm overlay:<file name>)"
        )
    return (resources.files("evalwheel.studymode") / "overlays" / f"{v}.md").read_text(encoding="utf-8").strip()


def parse_arm(text: str) -> Arm:
    """Parse `base`, `human` or `overlay:vN` (also `overlay` = the newest overlay), each model arm
    optionally with `+guard`; `overlay:v3` (a guarded overlay) always runs with the guard."""
    raw = text.strip().lower()
    guard = raw.endswith(GUARD_SUFFIX)
    if guard:
        raw = raw[: -len(GUARD_SUFFIX)].strip()
    if raw == "human" and guard:
        raise ArmError("the human arm has no model draft to guard; use base+guard or overlay:vN+guard")
    if raw in ("base", "human"):
        return Arm(kind="base" if raw == "base" else "human", guard=guard)
    if raw == "overlay" or raw.startswith("overlay:"):
        version = raw.partition(":")[2].strip() or (available_overlays() or ["v1"])[-1]
        if version not in _USER_OVERLAYS:
            version = version if version.startswith("v") else f"v{version}"
        load_overlay(version)  # validates the version now rather than mid-run
        return Arm(kind="overlay", overlay_version=version, guard=guard or version in GUARDED_OVERLAYS)
    raise ArmError(
        f"unknown arm {text!r}; use base, human or overlay:vN, optionally with +guard "
        f"(available: {', '.join(available_overlays())})"
    )


def parse_arms(text: str | Sequence[str]) -> list[Arm]:
    """Parse a comma-separated arm list (or several), dropping duplicates but keeping order."""
    parts = [text] if isinstance(text, str) else list(text)
    arms: list[Arm] = []
    for part in parts:
        for item in part.split(","):
            if not item.strip():
                continue
            arm = parse_arm(item)
            if arm not in arms:
                arms.append(arm)
    if not arms:
        raise ArmError("no arms given; use e.g. --arms base,overlay:v2,human")
    return arms


def learner_block(learner: LearnerProfile | None) -> str:
    """The learner profile as a few labelled lines, or "" when nothing is known."""
    if learner is None:
        return ""
    lines: list[str] = []
    if learner.name:
        lines.append(f"- Name: {learner.name}")
    if learner.level:
        lines.append(f"- Level: {learner.level}")
    if learner.goals:
        lines.append("- Goals: " + "; ".join(learner.goals))
    if learner.known_concepts:
        lines.append(f"- Already knows: {', '.join(learner.known_concepts)}")
    if learner.prior_knowledge:
        lines.append(f"- Prior knowledge: {learner.prior_knowledge}")
    if learner.notes:
        lines.append(f"- Notes: {learner.notes}")
    return "\n".join(lines)


def memory_summary(previous: Sequence[Session], max_chars: int = MEMORY_MAX_CHARS) -> str:
    """A short, deterministic digest of earlier sessions with this learner.

    It names each earlier topic and the learner's last words there; short enough that it never
    crowds out the conversation on a small local model (2k context), newest sessions first.
    """
    lines: list[str] = []
    for s in reversed(previous):
        last_user = next((t.content for t in reversed(s.trajectory) if t.role == "user"), "")
        flat = " ".join(last_user.split())
        if len(flat) > 100:
            flat = flat[:99] + "…"
        line = f"- Earlier session on {s.prompt.strip() or s.domain!r}"
        line += f" (learner's last message: {flat!r})" if flat else ""
        if sum(len(x) + 1 for x in lines) + len(line) > max_chars:
            break
        lines.append(line)
    return "\n".join(lines)


def build_system_message(arm: Arm, learner: LearnerProfile | None = None, memory: str | None = None) -> str | None:
    """The system message for a model arm; None for `human`, which makes no model call."""
    if arm.kind == "human":
        return None
    head = BASE_SYSTEM_PROMPT if arm.kind == "base" else load_overlay(arm.overlay_version or "")
    parts = [head]
    profile = learner_block(learner)
    if profile:
        parts.append("## About the learner\n" + profile)
    if memory and memory.strip():
        text = memory.strip()
        if len(text) > MEMORY_MAX_CHARS:
            text = text[: MEMORY_MAX_CHARS - 1].rstrip() + "…"
        parts.append("## What you remember from earlier sessions\n" + text)
    return "\n\n".join(parts)
