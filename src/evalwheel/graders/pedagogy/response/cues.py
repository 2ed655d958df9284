"""Lexical cues a teacher would point to when labelling a tutor reply.

Each cue is a named regex; `find(cue, text)` returns the first match so verdicts can quote it as
evidence. The cue families follow the MRBench rubric: praise/encouragement (Tutor_Tone), naming a
mistake (Mistake_Identification), hints, questions and instructions (Providing_Guidance,
Actionability), and telling the answer (Revealing_of_the_Answer). They are deliberately generic
English phrasings, not phrases mined from particular tutors.
"""

from __future__ import annotations

import re

_F = re.I


def _words(*phrases: str) -> re.Pattern[str]:
    """A case-insensitive regex matching any of the phrases as whole words."""
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b", _F)


CUES: dict[str, re.Pattern[str]] = {
    # Tone
    "praise": _words(
        r"great(?: job| work| start| try| effort| question| thinking| observation| catch)?",
        r"good (?:job|work|try|"
        r"effort|start|thinking|attempt|observation|question)",
        r"well done",
        r"excellent",
        r"nice(?: work| try| job)?",
        r"awesome",
        r"fantastic",
        r"wonderful",
        r"brilliant",
        r"amazing",
        r"perfect",
        r"impressive",
        r"(?:i )?appreciate",
        r"i love (?:how|that)",
        r"keep (?:it )?up",
        r"keep (?:going|practicing|trying)",
        r"you(?:'re| are) (?:on the right track|doing (?:great|well)|so close|very close|close|almost there)",
        r"(?:that's|this is) a (?:great|good|creative|solid|nice) (?:start|try|attempt|effort|idea)",
        r"don't worry",
        r"good thinking",
        r"creative",
        r"thoughtful",
    ),
    "attempt_praise": _words(
        r"(?:good|nice|great|solid|valiant|brave|fair|creative) (?:try|effort|attempt|go)",
        r"(?:a |very )?good try",
        r"for (?:your|the) effort",
        r"are you sure",
        r"(?:try|think) (?:again|once more)",
        r"remember",
    ),
    "encourage_close": _words(r"(?:so |very |really )?close", r"almost(?: there)?", r"nearly"),
    "harsh": _words(
        r"stupid",
        r"dumb",
        r"lazy",
        r"careless(?:ly)?",
        r"pay attention",
        r"not listening",
        r"obviously",
        r"clearly (?:wrong|not)",
        r"seriously",
        r"come on",
        r"ridiculous",
        r"terrible",
        r"awful",
        r"nonsense",
        r"i already (?:told|said|explained)",
        r"how many times (?:do|have|must|did) i",
        r"you never listen",
        r"wrong again",
        r"(?:completely|totally|absolutely|all|so|very|just) wrong",
        r"you should know",
        r"not that hard",
        r"even (?:a|my) \w+ (?:could|can|knows)",
        r"what is wrong with you",
        r"give up",
    ),
    # Mistake identification
    "mistake": _words(
        r"not (?:quite|correct|right|exactly|accurate|entirely)",
        r"mistakes?",
        r"errors?",
        r"incorrect(?:ly)?",
        r"wrong",
        r"misunderst(?:anding|ood)",
        r"mix(?:ed)?[- ]up",
        r"confus(?:ion|ed|ing)",
        r"small (?:issue|slip)",
        r"issue",
        r"problem with",
        r"oops",
        r"isn't (?:right|correct|quite)",
        r"not what",
        r"missed",
        r"doesn't (?:quite |seem )?(?:make sense|add up|seem right|match)",
        r"forgot(?:ten)?",
        r"overlook(?:ed)?",
        r"should(?:n't)? (?:be|have)",
        r"instead of",
        r"rather than",
        r"actually",
        r"not \$?\d",
        r"that's not",
        r"too (?:high|low|big|small|much|many)",
        r"(?:a )?(?:bit|little) (?:off|high|low)",
    ),
    "recheck": _words(
        r"but",
        r"however",
        r"slight(?:ly)?",
        r"careful",
        r"try again",
        r"re-?check",
        r"double[- ]?check",
        r"(?:take|have) (?:a |another )?(?:closer |second )?look",
        r"revisit",
        r"reconsider",
        r"re-?evaluate",
        r"re-?examine",
        r"re-?think",
        r"review",
        r"go back",
        r"hmm+",
        r"let's see",
        r"seems? (?:like|to be|there)",
        r"that's (?:close|almost)",
        r"almost",
        r"close",
    ),
    "correct_claim": _words(
        r"(?:that's|that is|you're|you are|it's|exactly|absolutely) (?:correct|right)",
        r"correct[!.]",
        r"exactly",
        r"yes[,!.]",
        r"well done",
        r"you got it",
        r"you've got it",
        r"spot on",
        r"that's it",
        r"good job[!.]",
        r"great job[!.]",
        r"perfect[!.]",
        r"excellent[!.]",
    ),
    # Guidance
    "hint": _words(
        r"remember",
        r"think about",
        r"consider",
        r"recall",
        r"notice",
        r"note that",
        r"keep in mind",
        r"hint",
        r"what (?:if|happens|would|do|does|is|are|did)",
        r"how (?:many|much|would|do|did|can|could|about|might)",
        r"why",
        r"which",
        r"step",
        r"first",
        r"instead",
        r"need to",
        r"have to",
        r"should",
        r"try",
        r"let's",
        r"let us",
        r"because",
        r"means",
        r"so that",
        r"when (?:we|you)",
        r"if (?:we|you)",
        r"formula",
        r"rule",
        r"break (?:it )?down",
        r"together",
    ),
    "probe": _words(
        r"walk me through",
        r"talk me through",
        r"explain",
        r"show me",
        r"how did you",
        r"what did you",
        r"tell me",
        r"can you (?:tell|explain|show|walk|describe)",
        r"your (?:thinking|reasoning|thought process)",
        r"why did you",
        r"how do you",
        r"what made you",
    ),
    "directive": re.compile(
        r"(?:^|[.!?;:,-]\s*|\b(?:now|so|please|then|next),?\s+)(?:try|calculate|compute|divide|add|subtract|multiply|"
        r"think|remember|look|check|recheck|consider|use|find|go back|work out|figure out|count|write|"
        r"start|solve|round|convert|simplify|compare|draw|plug|set up|rewrite|review|re-?read|read)\b",
        _F,
    ),
    "invite": _words(
        r"can you",
        r"could you",
        r"would you",
        r"will you",
        r"do you (?:think|see|know|remember)",
        r"how about",
        r"what about",
        r"shall we",
        r"let's (?:try|work|figure|see|think|calculate|find|look|check|go|start|break|"
        r"solve|recalculate|re-?evaluate|reconsider|review|revisit|count|add|do|take|use|start|compare)",
        r"try (?:again|it|to|that|this|another|solving|calculating|adding|dividing|multiplying|re)",
        r"give it",
        r"your turn",
        r"have a go",
        r"see if",
        r"what do you get",
        r"what would",
    ),
    "hedge": _words(
        r"might",
        r"may",
        r"maybe",
        r"perhaps",
        r"possibly",
        r"seems?",
        r"i think",
        r"i wonder",
        r"could (?:be|there)",
        r"not sure",
        r"a (?:little|bit) (?:off|high|low)",
        r"are you sure",
        r"double[- ]?check",
    ),
    "explain": _words(
        r"because",
        r"since",
        r"means",
        r"which means",
        r"that's why",
        r"so that",
        r"in other words",
        r"for example",
        r"for instance",
        r"imagine",
        r"think of it as",
        r"like (?:adding|having)",
    ),
    "move_on": _words(
        r"next (?:problem|question|one|example|step)",
        r"move on",
        r"another (?:example|problem|one|question)",
        r"let's try another",
        r"new problem",
        r"keep practicing",
    ),
    # Revealing
    "answer_phrase": re.compile(
        r"\b(?:the (?:correct |right |final |actual )?(?:answer|result|total|solution) "
        r"(?:is|should be|would be|will be)|"
        r"is the (?:correct |right |final )?answer|"
        r"correct (?:answer|result|total|amount|value) (?:is|would be|should be)|"
        r"(?:should|would|will) (?:actually )?be \$?-?\d|"
        r"(?:is|equals|get|gives?) (?:actually|really) \$?-?\d|"
        r"answer:|so (?:the answer|it) is|which (?:gives|equals|makes) (?:us )?\$?-?\d)",
        _F,
    ),
    "called": _words(r"(?:is|are) (?:actually |really )?called", r"is known as", r"is named"),
    # Noise: meta-text leaked from generation prompts, not a reply to the student
    "meta": re.compile(
        r"###|\b(?:User|Assistant|Tutor response|Student response)\s*:|here'?s a (?:tutor )?response|"
        r"\(maximum one sentence\)|as an ai",
        _F,
    ),
    "apology": _words(r"sorry", r"apologi[sz]e", r"my (?:mistake|bad)"),
}

# A number is "concluded" when one of these words/operators directly precedes it.
CONCLUSION_BEFORE = re.compile(
    r"(?:=|≈|\bis\b|\bare\b|\bbe\b|\bequals?\b|\bget\b|\bgives?\b|\bgot\b|\banswer\b|\bactually\b|\bresult\b|"
    r"\bmakes?\b|\bcomes? to\b|\bleaves?\b|\bleft\b|\bthat's\b|\bwas\b|\bhave\b|\btotal\b|\bneeds?\b)"
    r"[^.?!,;:]{0,12}$",
    _F,
)
# The student's own number being quoted back ("you said 150", "your answer of 12") is not a reveal.
ATTRIBUTED_BEFORE = re.compile(r"\b(?:you|your|you've|you're)\b[^.?!]{0,40}$", _F)


def find(cue: str, text: str) -> re.Match[str] | None:
    """First match of a named cue in `text` (None if absent)."""
    return CUES[cue].search(text)


def count(cue: str, text: str) -> int:
    return sum(1 for _ in CUES[cue].finditer(text))
