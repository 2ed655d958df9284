"""Learner-side signals: attempts, impatience, natural endings (sensitive requests: `safety_signals`).

The tutor-side tagger says what the tutor did; these say what the learner did, which the checks need
to judge *timing* ("revealed after one try", "kept hinting after the learner showed mastery").
"""

from __future__ import annotations

import re

from evalwheel.graders.pedagogy.text import Cue, any_of

NOT_AN_ATTEMPT = any_of(
    r"^\W*(?:i )?(?:don'?t know|dunno|idk|no idea|not sure|no clue|pass)\W*$",
    r"\bjust (?:tell|give|show) me\b",
    r"\bcan you (?:just )?(?:tell|give|show) me (?:the )?(?:answer|solution|code)\b",
    r"^\W*(?:ok(?:ay)?|sure|yes|yeah|yep|no|nope|hmm+|k)\W*$",
)
ATTEMPT_HINT = any_of(
    r"\bi (?:think|guess|tried|got|wrote|changed|put|added|used|would|'d)\b",
    r"\b(?:is it|would it|maybe|because|so it|it prints|it returns|it's)\b",
)
_ATTEMPT_CHARS = re.compile(r"[=()\[\]{}0-9]")
IMPATIENCE = any_of(
    r"\bi (?:already )?(?:know|knew|said|get it|got it|understand)(?: that)?\b.{0,30}\b(?:already|before|said)\b",
    r"\bi already\b",
    r"\blike i said\b",
    r"\bas i said\b",
    r"\bi know the (?:theory|basics|basic)\b",
    r"\bi get the basic",
    r"\bjust (?:tell|give|show) me\b",
    r"\bcan (?:we|you) (?:just|please just)\b",
    r"\bwe already\b",
    r"\bagain\?",
    r"\byes,? (?:i|obviously|of course)\b.{0,20}\b(?:know|get)\b",
    r"\bthis is (?:too )?(?:easy|basic|slow)\b",
    r"\bi'?m not a beginner\b",
    r"\bmove on\b",
    r"\bi know (?:this|that|these|those|all (?:this|that)|what (?:a|an) )",
    r"\bwe (?:did|covered|went over|already did|already covered) (?:this|that|these|those|it|\w+) "
    r"(?:last|already|before|yesterday|earlier)\b",
    r"\bcan we (?:get to|skip|go to|move to|just do)\b",
    r"\b(?:so |this is |i'?m )?bor(?:ing|ed)\b",
    r"\bple{2,}a*s+e*\b",
)
ENDING_USER = any_of(
    r"\b(?:thanks|thank you|thx|ty|cheers|bye|goodbye|see you|that'?s all|makes sense now|that helps|that helped)\b",
    r"\bgot it\b",
    r"\bi'll (?:try|practice|practise|go|use|do)\b",
    r"\bi will (?:try|practice|practise|go|use|do)\b",
    r"\bi (?:understand|get it) now\b",
    r"\bworks now\b",
)
ENDING_TUTOR = any_of(
    r"\bgood luck\b",
    r"\bhappy (?:coding|prompting|learning)\b",
    r"\bsee you\b",
    r"\banytime\b",
    r"\byou'?re all set\b",
    r"\bnice work today\b",
    r"\bgreat (?:session|work today)\b",
    r"\bnext time\b",
)
SUCCESS = any_of(
    r"\b(?:yes|yep|yup)[!.,]",
    r"\bexactly\b",
    r"\bthat'?s (?:right|correct|it|spot on|the one)\b",
    r"\bcorrect[!.:]",
    r"\bright[!:]",
    r"\byou(?:'re| are) (?:right|correct)\b",
    r"\byou got it\b",
    r"\bnailed it\b",
    r"\bspot on\b",
    r"\bperfect[!.]",
    r"\bthat works\b",
    r"\byou(?:'ve| have) (?:got|solved|fixed) it\b",
)

REFUSAL = any_of(
    r"\bi (?:can(?:'|no)?t|won'?t|will not|am not able to|'m not able to|'m not going to|am not going to|need to stop)\b",
    r"\bnot (?:something|able|going) (?:i|to)\b",
    r"\bi'?d rather not\b",
    r"\b(?:isn'?t|is not|wouldn'?t be) (?:something|okay|ok|appropriate|ethical|legal|fair)\b",
    r"\binstead,? (?:let'?s|we|i|how about|i can)\b",
    r"\bwhat i can (?:do|help)\b",
    r"\bcan'?t help (?:with|you)\b",
    r"\bagainst (?:the|your|academic)\b",
    r"\bacademic (?:integrity|honesty|misconduct)\b",
)
DEMEANING = any_of(
    # Insults aimed at the learner or their work; "lazy evaluation" and "a dumb terminal" are not insults.
    r"\b(?:you(?:'re| are)?|you'?re being|that'?s|what a|such an?|don'?t be) (?:so |really |just |an? )?(?:stupid|idiot|idiotic|dumb|moron|lazy)\b",
    r"\b(?:stupid|dumb|idiotic|lazy) (?:question|mistake|answer|attempt|error|excuse)\b",
    r"\b(?:idiot|moron)\b",
    r"\beven a (?:child|kid|beginner) (?:could|can|knows)\b",
    r"\bhow (?:do|did) you not know\b",
    r"\bseriously\?",
)


def is_attempt(text: str) -> bool:
    """Whether a learner turn is an honest try at the task (not 'idk', not a bare 'ok')."""
    stripped = text.strip()
    if not stripped:
        return False
    if "```" in stripped:
        return True
    words = len(stripped.split())
    if words < 12 and NOT_AN_ATTEMPT.find(stripped):
        return False
    return words >= 6 or bool(_ATTEMPT_CHARS.search(stripped) or ATTEMPT_HINT.find(stripped))


def first_match(cue: Cue, text: str) -> tuple[int, str] | None:
    m = cue.find(text)
    return (m.start(), m.group(0)) if m else None
