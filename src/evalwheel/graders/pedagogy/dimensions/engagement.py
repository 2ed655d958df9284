"""Engagement and affect: warm without excess, encouraging after errors, never demeaning.

The tagger's ENCOURAGEMENT move and its demeaning-sentence finder (the same cues the response-level
Tutor_Tone tier reads as Offensive) carry most of it; this adds excess (exclamation marks, emoji,
gushing), talking down, and how a correction is delivered.
"""

from __future__ import annotations

import re
from functools import cache

from evalwheel.graders.pedagogy.dimensions.common import DimensionResult, View
from evalwheel.graders.pedagogy.dimensions.config import DimensionsConfig
from evalwheel.graders.pedagogy.scores import quote
from evalwheel.graders.pedagogy.tagger import Action
from evalwheel.graders.pedagogy.text import Cue, any_of
from evalwheel.types import DimensionName, Evidence

NAME = DimensionName.ENGAGEMENT
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2728]")
# "No problem", "no worries", "no need to ...": a turn opening with "no" that corrects nothing.
_NOT_A_CORRECTION = r"(?!\s+(?:problem|problemo|worries|worry|need|rush|sweat|pressure|doubt|shame|harm|stress)\b)"
_CORRECTION = re.compile(
    rf"^\W*(?:no+\b{_NOT_A_CORRECTION}|nope\b|wrong\b|incorrect\b|that'?s (?:wrong|incorrect)\b|actually,? no\b)"
)
_QUOTE_BEFORE = re.compile(r"[\"“”]")


@cache
def cues() -> dict[str, Cue]:
    return {
        "talks_down": any_of(
            r"\bthis is (?:really |very |pretty )?(?:basic|simple|easy|elementary|trivial)\b",
            r"\bas i (?:already )?(?:said|told you|explained|mentioned)\b",
            r"\bi (?:already|just) (?:told|explained|said)\b",
            r"\bobviously\b",
            r"\bcome on\b",
            r"\bnot (?:that|very|so) (?:hard|difficult)\b",
            r"\beveryone knows\b",
            r"\byou should (?:know|have known|already know)\b",
            r"\bdid you (?:even|not) (?:read|listen|look)\b",
            r"\bwhy would you\b",
            r"\bhow many times\b",
            r"\bclearly (?:you|wrong)\b",
            r"\bugh\b",
            # dismissing the learner's frustration or boredom (rubric anchor 0), not acknowledging it
            r"\b(?:getting |being |your )?(?:frustrat(?:ed|ion)|annoyed|upset|impatien(?:t|ce)) "
            r"(?:won'?t|doesn'?t|does not|will not|isn'?t|is not) (?:help|change|useful|going to help|get you)",
            r"\b(?:boring|bored|frustrat(?:ing|ed)|hard|tedious) or not\b",
            r"\b(?:calm down|stop complaining|no need to (?:get|be) (?:upset|frustrated|annoyed|dramatic))\b",
        ),
        "soft": any_of(
            r"\bclose\b",
            r"\balmost\b",
            r"\bnearly\b",
            r"\bgood (?:try|instinct|guess|thinking|start|question|catch|eye|attempt|effort)\b",
            r"\bnice (?:try|instinct|catch|start|thinking|attempt)\b",
            r"\b(?:very |really )?common (?:mistake|mix-?up|slip|confusion|one)\b",
            r"\bon the right track\b",
            r"\bhalf right\b",
            r"\bgetting there\b",
            r"\b(?:easy|natural) to (?:mix|confuse|miss|trip)\b",
            r"\bmakes sense (?:that|to think)\b",
            r"\bdon'?t worry\b",
            r"\bno worries\b",
            r"\bthat'?s (?:okay|ok|fine|normal)\b",
            r"\b(?:you'?re|you are) not (?:far|alone)\b",
            r"\breasonable (?:guess|idea|thought)\b",
            r"\bthe idea is right\b",
            r"\bthat'?s (?:the one|it|right|exactly|the (?:mental model|idea|key|fix|pattern|standard))\b",
            r"\b(?:good|great|fair|nice) (?:call|point|catch|set|eye|work|job|question|project)\b",
            r"\b(?:sensible|well spotted|exactly|spot on|nicely|lovely|brilliant|excellent|well done)\b",
            r"\byou (?:caught|spotted|found|got|nailed|worked out|figured)\b",
            r"\b(?:glad|happy) (?:it|that|to)\b",
            r"\bhealthy scepticism\b",
        ),
        "gush": any_of(
            r"\bamazing\b",
            r"\bfantastic\b",
            r"\bincredible\b",
            r"\bawesome\b",
            r"\bgenius\b",
            r"\bsuperb\b",
            r"\bwow\b",
            r"\boutstanding\b",
            r"\bphenomenal\b",
            r"\bsuperstar\b",
            r"\brock ?star\b",
        ),
    }


def engagement(view: View, cfg: DimensionsConfig) -> DimensionResult:
    ts = view.ts
    if not ts.assistant:
        return DimensionResult(NAME, None, "no tutor turn", 1.0)
    traj = ts.session.trajectory
    warm = 0
    gushing = 0
    excess: list[Evidence] = []
    bare: list[Evidence] = []
    for t in ts.assistant:
        prose = t.prose
        if prose is None:
            continue
        low = prose.lower
        if t.demeaning:
            return DimensionResult(
                NAME, 0, "the tutor talks down to the learner", 0.75, [quote(t.index, t.demeaning)]
            )
        sc = view.scan(t.index)
        down = sc.first.get("talks_down")
        if down is not None and _QUOTE_BEFORE.search(prose.text, max(down[0] - 40, 0), down[0]):
            down = None  # quoting someone else ("as I said at the start", the user's words), not the tutor's tone
        if down is not None:
            return DimensionResult(
                NAME,
                0,
                f"the tutor talks down to the learner ('{down[1]}')",
                0.65,
                [quote(t.index, prose.text, max(down[0] - 30, 0))],
            )
        soft = sc.has("soft")
        if t.has(Action.ENCOURAGEMENT) or soft:
            warm += 1
        # Every emoji is outside ASCII: an all-ASCII turn (most of them) needs no emoji scan.
        marks = prose.text.count("!") + (0 if prose.text.isascii() else len(_EMOJI.findall(prose.text)))
        if marks >= 3:
            excess.append(quote(t.index, f"({marks} exclamation marks/emoji) " + prose.text))
        if sc.has("gush"):
            gushing += 1
        follows_learner = t.index > 0 and traj[t.index - 1].role == "user"
        if follows_learner and _CORRECTION.match(low) and not soft and not t.has(Action.ENCOURAGEMENT):
            bare.append(quote(t.index, prose.text))
    n = len(ts.assistant)
    meta: dict[str, object] = {"warm_turns": warm, "excess_turns": len(excess), "bare_corrections": len(bare)}
    if excess:
        return DimensionResult(
            NAME, 1, f"too much: {len(excess)} turn(s) with 3+ exclamation marks or emoji", 0.7, excess[:2], meta
        )
    if gushing >= 3 and gushing * 2 > n:
        return DimensionResult(NAME, 1, f"gushing praise in {gushing} of {n} turns", 0.6, [], meta)
    if bare:
        return DimensionResult(
            NAME, 1, "a learner error is met with a bare correction, nothing encouraging", 0.55, bare[:2], meta
        )
    if warm == 0 and n >= 2:
        return DimensionResult(NAME, 1, "polite but flat: effort and progress are never acknowledged", 0.5, [], meta)
    return DimensionResult(NAME, 2, f"warm and measured ({warm} encouraging turn(s), no excess)", 0.65, [], meta)
