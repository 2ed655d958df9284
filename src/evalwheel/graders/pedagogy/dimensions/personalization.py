"""Personalization: uses the learner's profile, memory and own words; adapts to confusion and impatience;
does not re-teach what the learner showed they know."""

from __future__ import annotations

import re
from functools import cache

from evalwheel.graders.pedagogy import signals as sig
from evalwheel.graders.pedagogy.dimensions.clarity import turn_loads
from evalwheel.graders.pedagogy.dimensions.common import DimensionResult, View
from evalwheel.graders.pedagogy.dimensions.config import DimensionsConfig
from evalwheel.graders.pedagogy.dimensions.lexicon import terms_in
from evalwheel.graders.pedagogy.scores import quote
from evalwheel.graders.pedagogy.tagger import Action, TurnTags
from evalwheel.graders.pedagogy.text import Cue, any_of
from evalwheel.types import DimensionName, Evidence

NAME = DimensionName.PERSONALIZATION
_WORD = re.compile(r"[a-z][a-z'-]{4,}")
_IDENT = re.compile(r"`([A-Za-z_]\w{2,30})|\b([a-z]+_[a-z_]+)\b|\bdef ([A-Za-z_]\w+)")
_STOP = frozenset(
    (  # noqa: SIM905 - a word list reads better as one string
        "about after again their there these those which would could should where being other using learn "
        "learning understand basic basics python prompt prompts write writing things thing while since before "
        "really maybe first second class course weeks month months years know knows known wants want"
    ).split()
)


@cache
def cues() -> dict[str, Cue]:
    return {
        "confused": any_of(
            r"\b(?:i'?m|i am|still|so|bit|really|totally|kinda) (?:confused|lost)\b",
            r"\bconfus(?:ing|es me)\b",
            r"\b(?:i )?(?:don'?t|do not|still don'?t|didn'?t) (?:really )?(?:get|understand|follow) "
            r"(?:it|this|that|what|why|how|the)\b",
            r"\bmakes? no sense\b",
            r"\bwhat do you mean\b",
            r"\bnot following\b",
            r"\bover my head\b",
            r"\btoo (?:much|fast|complicated|confusing)\b",
            r"\bhuh\b",
            r"\bi'?m (?:a|just a|only a|still a|a total|a complete) (?:beginner|newbie|noob)\b",
        ),
        "adapt": any_of(
            r"\b(?:another|different|simpler|easier) (?:way|angle|example|approach|picture)\b",
            r"\blet me (?:try|put|explain|say) (?:it |that |this )?"
            r"(?:another|differently|a different|more simply|again|simpler)\b",
            r"\b(?:step|take a step|let'?s step) back\b",
            r"\bimagine\b",
            r"\bpicture (?:this|a|an|it|your|the|them)\b",
            r"\bside by side\b",
            r"\btrace (?:table|it|through)\b",
            r"\bthink of (?:it|this|them|that) (?:as|like)\b",
            r"\bthink of (?:a|an|your)\b",
            r"\bworks the same way\b",
            r"\bit'?s like (?:a|an|when)\b",
            r"\banalogy\b",
            r"\bfor example\b",
            r"\bfor instance\b",
            r"\bsmaller (?:step|piece|example|bit)\b",
            r"\bforget (?:the|about)\b",
            r"\bsimpl(?:er|y put|ified)\b",
            r"\blet'?s (?:slow down|break (?:it|this|that) down|start (?:again|over|smaller)|"
            r"try (?:it )?(?:with|on) (?:a|an|one))\b",
            r"\bone (?:small )?(?:piece|step|thing) at a time\b",
            r"\bin plain (?:english|words)\b",
        ),
        "ack": any_of(
            r"\bno worries\b",
            r"\bthat'?s (?:okay|ok|fine|normal|fair)\b",
            r"\bsorry\b",
            r"\bgood question\b",
            r"\btotally (?:fair|normal|fine)\b",
            r"\bfair (?:enough|point)\b",
        ),
        "pace": any_of(
            r"\b(?:let'?s|we can|we'?ll) (?:skip|move on|jump|go faster|speed up|go straight)\b",
            r"\bsince you (?:already )?(?:know|have|'ve)\b",
            r"\bsounds like you (?:know|have|'ve got)\b",
            r"\byou clearly (?:know|have|get)\b",
            r"\b(?:harder|tougher|trickier|advanced) (?:one|version|challenge|case|problem|task)\b",
            r"\bstraight to\b",
            r"\byou(?:'re| are) right,? (?:you|let'?s)\b",
            r"\byou'?ve done the hard part\b",
            r"\bthe standard (?:tool|way|fix|answer|pattern) is\b",
            r"\blet'?s (?:speed up|jump ahead|skip ahead)\b",
            r"\bskipping (?:ahead|on|to)\b",
            r"\byou(?:'re| are) clearly\b",
        ),
        "personal": any_of(
            r"\byou (?:said|mentioned|told me|wrote|noted|described|shared)\b",
            r"\byour (?:project|goal|course|class|lab|app|script|bot|team|job|work|assignment|exam|data|use case|"
            r"dataset|deadline|codebase|repo|pipeline|homework|exercise|teacher|company|product)\b",
            r"\b(?:since|as|because) you(?:'re| are| already| have| know)\b",
            r"\blast time\b",
            r"\bearlier you\b",
            r"\bfor your\b",
            r"\bin your (?:code|project|case|app|script|prompt|function|loop|example)\b",
            r"\byou already know\b",
        ),
    }


def _profile_words(view: View) -> set[str]:
    s = view.ts.session
    parts: list[str] = []
    if s.learner is not None:
        parts += [*s.learner.goals, s.learner.prior_knowledge or "", s.learner.notes or ""]
    memory = s.metadata.get("memory")
    if isinstance(memory, str):
        parts.append(memory)
    return {w for w in _WORD.findall(" ".join(parts).lower()) if w not in _STOP}


_CODE_NAME = re.compile(r"^\s*(?:def |class |for )?([A-Za-z_]\w{2,30})\b", re.M)
_SPECIFIC = re.compile(r"(?<![\w.])(?:\d{2,}(?:[.,]\d+)?|[A-Z][a-z]+[A-Z]\w*|[A-Z][a-z]{2,})\b")
_TOKEN = re.compile(r"[A-Za-z_][\w.]*\w|[A-Za-z_]|\d+(?:[.,]\d+)?")
_NEGATED = re.compile(r"\b(?:never|not|no|without|isn'?t|hasn'?t|doesn'?t|unsure|new to|shaky)\b", re.I)


def _learner_identifiers(view: View) -> set[str]:
    """Names the learner brought: identifiers from their code, numbers and proper nouns in their words.

    A name the tutor used first and the learner merely repeated is the tutor's, not the learner's.
    """
    traj = view.ts.session.trajectory
    found: set[str] = set()
    tutor_before = ""
    for turn in traj:
        if turn.role == "assistant":
            tutor_before += " " + turn.content
            continue
        if turn.role != "user":
            continue
        content = turn.content
        names: set[str] = set()
        # Each of _IDENT's three forms needs a backtick, an underscore or "def ": most turns have none.
        if "`" in content or "_" in content or "def " in content:
            for m in _IDENT.finditer(content):
                name = next(g for g in m.groups() if g)
                if name.lower() not in _STOP and len(name) >= 3:
                    names.add(name)
        if "```" in content:
            for block in content.split("```")[1::2]:
                names.update(n for n in _CODE_NAME.findall(block) if n.lower() not in _STOP and n not in _PY_WORDS)
        names.update(x for x in _SPECIFIC.findall(content) if x.lower() not in _STOP)
        found |= {x for x in names - found if x not in tutor_before}
    return found


_PY_WORDS = frozenset(
    ["def", "class", "for", "while", "return", "import", "from", "print", "with", "True", "False", "None", "self"]
)


def _load(view: View, index: int) -> list[str]:
    """The new terms a tutor turn brings (`clarity.turn_loads`, computed once per session)."""
    return next((x.new_terms for x in turn_loads(view) if x.index == index), [])


def _known_terms(view: View) -> set[str]:
    """Terms the profile says the learner knows; clauses with a negation ("has not used lambda") are skipped."""
    s = view.ts.session
    if s.learner is None:
        return set()
    text = " ".join([*s.learner.known_concepts, s.learner.prior_knowledge or ""])
    clauses = [c for c in re.split(r"[;,.]| but | and ", text) if c.strip() and not _NEGATED.search(c)]
    return {t for t, _ in terms_in(" ".join(clauses).lower())}


def _explains(t: TurnTags) -> bool:
    """Did the turn explain something (so that "I'm confused" is about that explanation)?"""
    if t.actions & {Action.MICRO_EXPLAIN, Action.LECTURE, Action.ANSWER_REVEAL, Action.HINT}:
        return True
    prose = t.prose
    return prose is not None and sum(len(x.text.split()) for x in prose.sentences if "?" not in x.text) >= 8


def learner_confused(text: str) -> bool:
    """The learner says they do not follow (not: talks about something else being confused)."""
    return cues()["confused"].search(text.lower()) is not None


_GAPS = (" ", "\n", "\t")


def _is_token(text: str, word: str, tokens: re.Pattern[str]) -> bool:
    """Whether `word` is one of `tokens.findall(text)`, tokenising only the stretches of text around it.

    `tokens` never matches a space, newline or tab, so a scan of the whole text is in step again after
    each of them: the tokens of the text are the tokens of its gap-free stretches. Tokenising a whole
    session's tutor text was most of this dimension's time; a word's few occurrences are cheap.
    """
    p = text.find(word)
    while p != -1:
        start = max(text.rfind(g, 0, p) for g in _GAPS) + 1
        ends = [e for e in (text.find(g, p + len(word)) for g in _GAPS) if e != -1]
        end = min(ends) if ends else len(text)
        if word in tokens.findall(text, start, end):
            return True
        p = text.find(word, end)
    return False


def _uses(view: View) -> list[str]:
    """How the tutor builds on this learner, cheapest evidence first; stops at the first kind found."""
    ts = view.ts
    traj = ts.session.trajectory
    personal = next(
        (view.scan(t.index).first["personal"] for t in ts.assistant if view.scan(t.index).has("personal")), None
    )
    if personal is not None:
        return [f"refers to the learner ('{personal[1]}')"]
    tutor_raw = " ".join(traj[t.index].content for t in ts.assistant)
    learner = ts.session.learner
    if (
        learner is not None
        and learner.name
        # The plain substring test first: most tutors never write the name, and the regex scans every position.
        and learner.name in tutor_raw
        and re.search(rf"\b{re.escape(learner.name)}\b", tutor_raw)
    ):
        return [f"addresses {learner.name} by name"]
    profile = _profile_words(view)
    if profile:
        tutor_low = tutor_raw.lower()
        # A word the text does not even contain cannot be one of its tokens: tokenise only if one might be.
        hits = sorted(w for w in profile if w in tutor_low and _is_token(tutor_low, w, _WORD))
        if hits:
            return ["profile/memory words: " + ", ".join(hits[:4])]
    brought = _learner_identifiers(view)
    if not brought:
        return []
    idents = sorted(x for x in brought if x in tutor_raw and _is_token(tutor_raw, x, _TOKEN))
    return ["works with the learner's own code: " + ", ".join(idents[:3])] if idents else []


def personalization(view: View, cfg: DimensionsConfig) -> DimensionResult:
    ts = view.ts
    if len(ts.assistant) < 2:
        return DimensionResult(NAME, None, "fewer than two tutor turns", 0.8)
    traj = ts.session.trajectory
    ignored: list[tuple[str, Evidence]] = []
    partial: list[tuple[str, Evidence]] = []
    adapted = 0
    for i in ts.user_indices[1:]:
        reply = view.by_index.get(i + 1)
        if reply is None or reply.prose is None:
            continue
        content = traj[i].content
        sc = view.scan(reply.index)
        # Cheapest tests first; each is pure, so the order does not change the outcome.
        impatient = sig.IMPATIENCE.search(ts.lower(i)) is not None
        confused = not impatient and learner_confused(content)
        prev = view.prev_assistant(i) if confused else None
        if confused and prev is not None and _explains(prev):
            shorter = prev is not None and reply.words <= 0.7 * max(prev.words, 1)
            # "I'm lost" answered with a longer turn that brings more new terms is the same lecture, denser,
            # whatever example it mentions on the way.
            denser = reply.words > prev.words and len(_load(view, reply.index)) >= 2
            if (sc.has("adapt") or shorter) and not denser:
                adapted += 1
            elif sc.has("ack"):
                partial.append(
                    (
                        f"turn {reply.index} acknowledges the confusion but explains the same way",
                        quote(i, content),
                    )
                )
            else:
                ignored.append(
                    (
                        f"the learner is confused (turn {i}) and turn {reply.index} does not change approach",
                        quote(i, content),
                    )
                )
        elif impatient:
            faster = (
                sc.has("pace")
                or reply.has(Action.ANSWER_REVEAL)
                or reply.has(Action.PRACTICE)
                or reply.code_lines >= 4
                or (reply.guiding_question is None and not reply.has(Action.HINT))
            )
            if faster:
                adapted += 1
            else:
                ignored.append(
                    (
                        f"the learner signals they know this (turn {i}) and turn {reply.index} keeps drilling",
                        quote(i, content),
                    )
                )
    known = _known_terms(view)
    if known:
        for t in ts.assistant:
            if t.prose is None or not (t.has(Action.MICRO_EXPLAIN) or t.has(Action.LECTURE)):
                continue
            for term, at in view.scan(t.index).terms:
                if term not in known:
                    continue
                sentence = t.prose.sentences[t.prose.sentence_at(at)]
                low = t.prose.lower_of(sentence)
                if re.search(
                    rf"\b(?:an? )?{re.escape(term)}s? (?:is|are|means|lets you) "
                    r"(?:a|an|the|just|basically|like|how|when|what)\b",
                    low,
                ):
                    ignored.append(
                        (
                            f"turn {t.index} re-teaches '{term}', which the profile says the learner knows",
                            quote(t.index, sentence.text),
                        )
                    )
                    break
    if view.level == "beginner":
        heavy = [x for x in turn_loads(view) if len(x.unexplained) >= 3]
        if heavy and sum(len(x.unexplained) for x in heavy) >= 6:
            ignored.append(
                (
                    f"a stated beginner gets a stream of unexplained jargon (turn {heavy[0].index}: "
                    + ", ".join(heavy[0].unexplained[:4])
                    + ")",
                    quote(heavy[0].index, traj[heavy[0].index].content),
                )
            )
    uses = [] if ignored or partial else _uses(view)
    meta: dict[str, object] = {"adapted_to_signals": adapted, "uses": uses}
    if ignored:
        return DimensionResult(NAME, 0, ignored[0][0], 0.65, [e for _, e in ignored[:3]], meta)
    if partial:
        return DimensionResult(NAME, 1, partial[0][0], 0.55, [e for _, e in partial[:2]], meta)
    if adapted:
        uses.insert(0, f"changes approach after {adapted} signal(s) of confusion or impatience")
    if uses:
        reason = "tailored to the learner: " + "; ".join(uses[:2])
        return DimensionResult(NAME, 2, reason, 0.6 if adapted or len(uses) > 1 else 0.5, [], meta)
    return DimensionResult(NAME, 1, "generic: never builds on the learner's profile, goal or own words", 0.5, [], meta)
