"""Per-turn tagger: which Study Mode moves an assistant turn makes, and how many questions it asks.

Deterministic regular expressions over the prose of a turn, so every tag can be explained by the
phrase that triggered it (kept as evidence) and tagging 10,000 sessions takes seconds, not a GPU.
The patterns are deliberately about *moves* (asking about the learner, inviting a prediction, handing
over a solution), not about any subject, so they carry over from Python lessons to prompt engineering.
"""

from __future__ import annotations

import re
from collections.abc import KeysView
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING

from evalwheel.graders.pedagogy.safety_signals import SENSITIVE_REQUEST
from evalwheel.graders.pedagogy.signals import DEMEANING, SUCCESS, is_attempt
from evalwheel.graders.pedagogy.text import (
    Cue,
    Prose,
    Sentence,
    any_of,
    combine,
    lowered,
    question_weight,
    questions,
    split_prose,
)
from evalwheel.types import Session, Turn

if TYPE_CHECKING:
    from evalwheel.graders.pedagogy.safety_semantic import SemanticHit


class Action(StrEnum):
    DIAGNOSE = "diagnose"
    MICRO_EXPLAIN = "micro_explain"
    HINT = "hint"
    CHECK_UNDERSTANDING = "check_understanding"
    PRACTICE = "practice"
    RECAP = "recap"
    ANSWER_REVEAL = "answer_reveal"
    ENCOURAGEMENT = "encouragement"
    LECTURE = "lecture"


DIAGNOSE_Q = any_of(
    r"\bare you (?:planning|using|working|looking|trying|hoping|comfortable|familiar|new|currently|already|doing|taking|studying)\b",
    r"\bwould you prefer\b",
    r"\bdo you (?:have|use|know|already|prefer|need|remember|work)\b",
    r"\b(?:have|did) you (?:ever )?(?:used?|tried|seen|worked|written|heard|come across|done|played|touched|run)\b",
    r"\bwhat (?:have|did) you (?:try|tried|already)\b",
    r"\bhow (?:comfortable|familiar|confident|much experience|new)\b",
    r"\byour (?:experience|level|background|goal|class|course|project|current|plan|setup|use case)\b",
    r"\bwhat (?:do|did) you (?:already )?know\b",
    r"\bwhat(?:'s| is| are) (?:you|your) (?:trying|hoping|working|building|aiming|goal|use case|current)\b",
    r"\bwhat are you (?:trying|hoping|working|building|aiming)\b",
    r"\bwhat do you (?:think|expect|reckon|notice|see|remember|mean)\b",
    r"\bwalk me through\b",
    r"\bwhere (?:are|did) you (?:get )?stuck\b",
    r"\bwhat (?:part|bit|step)\b",
    r"\btell me (?:a (?:bit|little) )?(?:about|what|how)\b",
    r"\bnew to\b",
    r"\bwhat would you like\b",
    r"\bwhat(?:'s| is) (?:making|confusing|tripping)\b",
    r"\bwhat (?:happens|happened) when you\b",
    r"\bcan you show me\b",
    r"\bwhat do you want\b",
    r"\bwhich (?:version|language|model|tool|course|grade|level)\b",
    r"\bhow (?:far|long) (?:have|did)\b",
    r"\bwhat kind of\b",
    r"\bhow are you (?:currently|approaching|thinking)\b",
)
CHECK_PROSE = any_of(
    r"\blet'?s (?:check|test|see if|make sure|poke|try (?:it|that) on)\b",
    r"\bquick (?:check|test|quiz)\b",
    r"\b(?:explain|describe|tell me|say) (?:it |that |this )?(?:back|in your own words)\b",
    r"\bin your own words\b",
    r"\bpredict\b",
    r"\bteach (?:it|this|me) back\b",
)
DIAGNOSE_ASK = any_of(
    r"\b(?:walk me through|tell me|show me|paste|share|describe)\b.{0,60}\b(?:you|your)\b",
    r"\blet me see (?:your|what)\b",
)
OFFER_Q = any_of(
    r"\b(?:would you like|do you want|want me to|shall i|should i|need me to)\b",
    r"\b(?:any (?:other )?questions|does (?:that|this|it) (?:make sense|help)|make sense|is that clear|sound good)\b",
)
CHECK_Q = any_of(
    r"\bwhat (?:would|should|will|could) (?:stop|happen|change|break|go|be|you)\b",
    r"\b(?:explain|say|tell|describe|put) (?:it|that|this|them)? ?(?:back|in your own words)\b",
    r"\bin your own words\b",
    r"\bwhat (?:would|will|does|do|should|might)\b.{0,80}\b(?:print|return|output|show|produce|give|evaluate|be|contain|happen|get|see|know|need|mean)\b",
    r"\bpredict\b",
    r"\bcan you (?:tell me|explain|say|spot|see|find|figure|think)\b.{0,40}\b(?:why|what|how|which|where)\b",
    r"\bhow (?:would|could|might|will|do) you\b",
    r"\bwhy do you think\b",
    r"\bwhat(?:'s| is) the difference\b",
    r"\bwhich (?:one|line|of|part|version)\b",
    r"\bquick (?:check|question|quiz|test)\b",
    r"\bwhat (?:changed|changes|went wrong)\b",
    r"\bwhy (?:does|did|is|would|do)\b",
    r"\bteach (?:it|this) (?:back|to me)\b",
    r"\bif (?:i|we|you) (?:changed?|swap|replace|remove|add|ran|run|call)\b.{0,60}\?",
)
PRACTICE = any_of(
    r"\byour turn\b",
    r"\b(?:try|write|change|modify|rewrite|fix|add|turn|refactor|draft|improve|build|sketch|design|make|run|test|pick|list) (?:writing |a |an |the |it |this |that |one |two |three |your |them )",
    r"\b(?:here'?s|here is|try|do) (?:a|an|one|this|the) (?:quick |small |little |short |mini |last |next )?(?:exercise|challenge|quiz|practice|task|puzzle)\b",
    r"\b(?:exercise|challenge|quiz|practice|task|puzzle|mini-task)(?: \d)?:",
    r"\bpractice (?:round|problem|question)\b",
    r"\b(?:mini|small|next|little) task\b",
    r"\bgive it a (?:go|try|shot)\b",
    r"\bsee if you can\b",
    r"\bhave a go\b",
    r"\btry (?:it|that|this) (?:out|yourself|on|with)\b",
    r"\bcan you (?:write|make|add|change|fix|rewrite|turn|draft|improve|come up)\b",
)
HINT = any_of(
    r"\bhint\b",
    r"\b(?:look|looking) (?:at|closely)\b",
    r"\bnotice\b",
    r"\bthink about\b",
    r"\bconsider\b",
    r"\bremember (?:that|how|what|when)\b",
    r"\bwhat (?:happens|would happen) (?:if|when)\b",
    r"\bwhat if\b",
    r"\bhere'?s a (?:nudge|clue|tip)\b",
    r"\bhow about\b",
    r"\bkeep in mind\b",
    r"\bpay attention\b",
    r"\bone (?:small )?step at a time\b",
    r"\bstart (?:by|with)\b",
    r"\bfocus on\b",
    r"\bclose[!.,]",
    r"\balmost\b",
    r"\bnearly\b",
    r"\bon the right track\b",
)
EXPLAIN = any_of(
    r"\b(?:is|are) (?:a|an|the|just|basically|like)\b",
    r"\bmeans\b",
    r"\blets? you\b",
    r"\bworks by\b",
    r"\bthink of (?:it|them|this)\b",
    r"\bit'?s like\b",
    r"\bin other words\b",
    r"\bthe idea is\b",
    r"\bthe reason\b",
    r"\bbecause\b",
    r"\bthat'?s (?:why|because|what)\b",
    r"\bfor example\b",
    r"\bhappens when\b",
    r"\bwhen you\b",
)
RECAP = any_of(
    r"\b(?:bring|bringing|pull|pulling|tie|tying|put|putting|wrap|wrapping) (?:it|this|everything|that|them) (?:all )?(?:together|up)\b",
    r"\blooking back\b",
    r"\bin a nutshell\b",
    r"\b(?:thing|rule|idea|pattern|lesson|message|point)s? to (?:hold on to|remember|keep|take away|take with you)\b",
    r"\bwhere you'?ve (?:landed|got to|ended up)\b",
    r"\byou now (?:have|know|understand)\b",
    r"\bnow you (?:have|know|understand)\b",
    r"\bone line each\b",
    r"\bsumm(?:ing|ed) (?:it )?up\b",
    r"\b(?:the )?short version\b",
    r"\bin short\b",
    r"\b(?:putting|put) it (?:all )?together\b",
    r"\btl;?dr\b",
    r"\bto (?:sum (?:it )?up|recap|summari[sz]e|wrap (?:it |this )?up|pull (?:it|this|that) together)\b",
    r"\bin summary\b",
    r"\brecap\b",
    r"\bsummary\b",
    r"\bkey (?:takeaways?|points?|ideas?|lessons?)\b",
    r"\btakeaways?\b",
    r"\bso (?:today|far|now) (?:you|we)(?:'ve| have)?\b",
    r"\bwhat (?:you(?:'ve| have)?|we(?:'ve| have)?) (?:learned|covered|practi[sc]ed|done|built)\b",
    r"\blet'?s review\b",
    r"\b(?:you|we) (?:learned|covered|practi[sc]ed) (?:today|how|that|about|three|two)\b",
    r"\bthe (?:two|three|four|main|big) (?:things|ideas|rules|points|lessons)\b",
    r"\bbefore you go\b",
    r"\bremember these\b",
    r"\bwhat you now know\b",
    r"\byou(?:'ve| have) now\b",
    r"\bwhat(?:'s| is) the (?:main|biggest|one) (?:thing|idea|lesson|takeaway)\b",
    r"\bwhat would you (?:take away|remember)\b",
)
REVEAL = any_of(
    r"\b(?:a |the )?(?:stronger|better|improved|revised|fixed|corrected|cleaner|working) (?:version|prompt|one)\b",
    r"\byou (?:want|need|should use|can use|just need) `",
    r"\bhere'?s how\b",
    r"\b(?:use|try|write) `_*` instead\b",
    r"\bthe (?:final |correct |right )?answer is\b",
    r"\bhere(?:'s| is) (?:the|a|your|an) (?:corrected|fixed|complete|full|final|working|improved|revised|updated|better|rewritten|solution|answer|finished|correct)\b",
    r"\bhere(?:'s| is) (?:how (?:to|you) (?:solve|fix|write|do)|the code|the solution|the fix|the prompt|a prompt|a version|one way)\b",
    r"\bthe (?:solution|fix) is\b",
    r"\b(?:output|result) (?:will be|would be|is)\b",
    r"\bthis (?:prints|returns|outputs|gives you)\b",
    r"\bchange (?:it|line \d+|that|this) to\b",
    r"\byou (?:should|need to|want to|can) (?:write|use|change|replace)\b.{0,40}`",
    r"\bso (?:it|the answer|that) (?:is|equals|comes to)\b",
    r"\bthe (?:corrected|fixed|final|full|complete|working) (?:code|version|function|prompt|solution)\b",
    r"\bjust (?:use|write|replace|change)\b",
    r"\bhere(?:'s| is) what (?:it|that|the prompt|the code) (?:should|would) look like\b",
)
ENCOURAGE = any_of(
    r"\b(?:great|nice|good|excellent|awesome|perfect|brilliant|lovely|solid)\b(?: (?:job|work|thinking|question|catch|start|try|instinct|guess|effort|point))?[!.,]",
    r"\bwell done\b",
    r"\bexactly\b",
    r"\byou got it\b",
    r"\bthat'?s (?:right|correct|it|spot on|a great|a good)\b",
    r"\bdon'?t worry\b",
    r"\bno worries\b",
    r"\btotally (?:normal|fine|okay)\b",
    r"\byou'?re (?:close|on the right track|getting there|doing (?:great|well))\b",
    r"\bgood (?:job|work|thinking|question|catch|instinct)\b",
    r"\bspot on\b",
    r"\bnailed it\b",
)
CLOSING_AFTER_QUESTION = any_of(
    r"^(?:take your time|no rush|no pressure|go ahead|give it a (?:go|try|shot)|i'?ll wait|let me know|over to you|try it|have a go|good luck)\b",
)
ANSWERS_OWN_QUESTION = any_of(
    r"^(?:because\b|that'?s because\b|it'?s because\b|the answer is\b|answer:|simple[:,]|well,|easy[:,]|it (?:prints|returns|outputs|gives)\b|this (?:prints|returns|outputs)\b|it'?s\b|yes[,.!]|no[,.!]|the reason\b)",
)
SOLUTION_CODE = re.compile(r"^\s*(?:def |class |for |while |return |import |from |with |try:|if __name__)", re.M)

LECTURE_WORDS = 150
EXPLAIN_MIN_WORDS = 25


@dataclass(slots=True)
class TurnTags:
    """What one assistant turn does, with the phrase behind every tag."""

    index: int
    question_count: int = 0
    questions: list[Sentence] = field(default_factory=list)
    words: int = 0
    code_lines: int = 0
    evidence: dict[Action, str] = field(default_factory=dict)
    prose: Prose | None = None
    continues_after_question: str | None = None
    guiding_question: str | None = None  # a question about the material (not an offer like "want more?")
    demeaning: str | None = None  # a sentence that talks down to the learner
    _confirms: bool | None = field(default=None, repr=False, compare=False)  # `confirms`, once computed

    @property
    def actions(self) -> KeysView[Action]:
        """The actions this turn makes: exactly those with a piece of evidence."""
        return self.evidence.keys()

    def has(self, action: Action) -> bool:
        return action in self.evidence

    @property
    def confirms(self) -> bool:
        """Whether the turn opens by confirming the learner got it right ("Exactly!").

        Computed on first use (a check and two dimensions ask) and kept."""
        found = self._confirms
        if found is None:
            found = self._confirms = self.prose is not None and SUCCESS.search(self.prose.lower[:200]) is not None
        return found


DIAGNOSE_PROSE = "diagnose_prose"
CHECK_PROSE_KEY = "check_prose"
DEMEANING_KEY = "demeaning"

_TURN_CUE_SOURCES = {
    Action.RECAP.value: RECAP,
    Action.ANSWER_REVEAL.value: REVEAL,
    Action.PRACTICE.value: PRACTICE,
    Action.HINT.value: HINT,
    Action.ENCOURAGEMENT.value: ENCOURAGE,
    Action.MICRO_EXPLAIN.value: EXPLAIN,
    DIAGNOSE_PROSE: DIAGNOSE_ASK,
    CHECK_PROSE_KEY: CHECK_PROSE,
    DEMEANING_KEY: DEMEANING,
}


@cache
def turn_cues() -> tuple[re.Pattern[str], dict[str, str]]:
    """The one-pass regex over all prose cues and its group -> cue map, built on first use (start-up cost)."""
    pattern = combine(_TURN_CUE_SOURCES)
    return pattern, {group: group.split("__", 1)[0] for group in pattern.groupindex}


def _scan(prose: Prose) -> dict[str, str]:
    """One pass over the turn: the first qualifying sentence for each prose-level cue."""
    found: dict[str, str] = {}
    pattern, cue_of_group = turn_cues()
    for m in pattern.finditer(prose.lower):
        key = cue_of_group[m.lastgroup or ""]
        if key in found:
            continue
        idx = prose.sentence_at(m.start())
        sentence = prose.sentences[idx]
        if key == Action.ENCOURAGEMENT and idx >= 3:
            continue
        if key == Action.MICRO_EXPLAIN and "?" in sentence.text:
            continue
        found[key] = sentence.text
    return found


def _find_question(cue: Cue, qs: list[Sentence], lowered_qs: list[str]) -> str | None:
    for q, low in zip(qs, lowered_qs, strict=True):
        if cue.search(low):
            return q.text
    return None


def tag_turn(content: str, index: int = 0) -> TurnTags:
    """Tag one assistant turn."""
    prose = split_prose(content)
    tags = TurnTags(index=index, words=prose.words, code_lines=prose.code_lines, prose=prose)
    sents = prose.sentences
    learner_qs: list[Sentence] = []
    last_q_sentence = -1
    for i, q in questions(prose):
        nxt = sents[i + 1].text if i + 1 < len(sents) else ""
        if nxt and "?" not in nxt and ANSWERS_OWN_QUESTION.search(prose.lower_of(sents[i + 1])):
            # Answered in the very next sentence: rhetorical, the tutor does not wait for the learner.
            tags.continues_after_question = f"{q.text} {nxt}"
            continue
        learner_qs.append(q)
        last_q_sentence = i
    tags.questions = learner_qs
    tags.question_count = sum(question_weight(q) for q in learner_qs)

    evidence = tags.evidence

    def mark(action: Action, snippet: str | None) -> None:
        if snippet is not None and action not in evidence:
            evidence[action] = snippet

    scanned = _scan(prose)
    lowered_qs = [prose.lower_of(q) for q in learner_qs]
    mark(Action.DIAGNOSE, _find_question(DIAGNOSE_Q, learner_qs, lowered_qs) or scanned.get(DIAGNOSE_PROSE))
    mark(Action.CHECK_UNDERSTANDING, _find_question(CHECK_Q, learner_qs, lowered_qs) or scanned.get(CHECK_PROSE_KEY))
    tags.guiding_question = next(
        (q.text for q, low in zip(learner_qs, lowered_qs, strict=True) if not OFFER_Q.search(low)), None
    )
    tags.demeaning = scanned.get(DEMEANING_KEY)
    for action in (Action.PRACTICE, Action.HINT, Action.RECAP, Action.ENCOURAGEMENT):
        mark(action, scanned.get(action))
    if prose.words >= LECTURE_WORDS:
        mark(Action.LECTURE, f"({prose.words} words of prose) " + (prose.sentences[0].text if prose.sentences else ""))
    reveal = scanned.get(Action.ANSWER_REVEAL)
    if reveal is None and prose.code_blocks:
        reveal = _code_reveal(prose, tags, scanned)
    mark(Action.ANSWER_REVEAL, reveal)
    if not tags.has(Action.LECTURE):
        explained = scanned.get(Action.MICRO_EXPLAIN)
        if explained is None:
            explained = _plain_explanation(prose)
        mark(Action.MICRO_EXPLAIN, explained)
    if learner_qs and tags.continues_after_question is None:
        after = [s for s in sents[last_q_sentence + 1 :] if "?" not in s.text]
        after_words = sum(len(s.text.split()) for s in after)
        if (
            after
            and not CLOSING_AFTER_QUESTION.search(prose.lower_of(after[0]))
            and (after_words >= 25 or (prose.code_blocks and _code_after(content, learner_qs[-1].text)))
        ):
            tags.continues_after_question = f"{learner_qs[-1].text} {after[0].text}"
    return tags


def _plain_explanation(prose: Prose) -> str | None:
    """A few sentences of plain statement (8+ words, no '?') are an explanation even without a telltale
    phrase: the first of them once they add up to EXPLAIN_MIN_WORDS (counting stops there)."""
    first: str | None = None
    total = 0
    for s in prose.sentences:
        if "?" in s.text:
            continue
        k = len(s.text.split())
        if k >= 8:
            if first is None:
                first = s.text
            total += k
            if total >= EXPLAIN_MIN_WORDS:
                return first
    return None


def _code_reveal(prose: Prose, tags: TurnTags, scanned: dict[str, str]) -> str | None:
    """Code handed over as the answer, as opposed to code given as material for the learner's task.

    Code is material when the turn then asks the learner about it or sets them to work on it (a
    question or an exercise *after* the code); otherwise a turn that brings code brings an answer.
    """
    first_code = prose.code_at[0] if prose.code_at else 0
    invites_after = tags.guiding_question is not None and any(
        q.start >= first_code for q in tags.questions if not OFFER_Q.search(lowered(q.text))
    )
    for action in (Action.PRACTICE, Action.CHECK_UNDERSTANDING):
        text = scanned.get(action) or tags.evidence.get(action)
        if text is not None and prose.text.find(text) >= first_code:
            invites_after = True
    block = prose.code_blocks[0]
    body = [ln for ln in block.splitlines()[1:] if ln.strip() and ln.strip() != "```"]
    if tags.has(Action.LECTURE) and len(body) >= 3:
        return f"(lecture with {len(body)} lines of code) " + body[0].strip()
    if invites_after:
        return None
    if not body:
        return None
    invited_before = any(
        (scanned.get(a) or tags.evidence.get(a)) for a in (Action.PRACTICE, Action.CHECK_UNDERSTANDING)
    )
    if invited_before and not (len(body) >= 4 and SOLUTION_CODE.search(block)):
        return None  # a small snippet to run or look at for the exercise just set
    return f"(code, {len(body)} lines) " + body[0].strip()


def _code_after(content: str, question: str) -> bool:
    pos = content.find(question[:40])
    return pos >= 0 and "```" in content[pos:]


@dataclass(slots=True)
class TaggedSession:
    session: Session
    assistant: list[TurnTags]
    user_indices: list[int]
    sensitive_request: int | None = None  # first learner turn with a safety-sensitive request
    # Learner turns the meaning-based tier found (safety_semantic.enrich); None: that tier has not run.
    semantic: dict[int, SemanticHit] | None = None
    # Per-turn text facts that several checks and dimensions read, computed once per session.
    _lower: dict[int, str] = field(default_factory=dict, repr=False)
    _attempt: dict[int, bool] = field(default_factory=dict, repr=False)

    def lower(self, index: int) -> str:
        """`text.lowered` of a turn's content, for Cue searches (learner turns are lowered while tagging)."""
        low = self._lower.get(index)
        if low is None:
            low = self._lower[index] = lowered(self.session.trajectory[index].content)
        return low

    def attempt(self, index: int) -> bool:
        """`signals.is_attempt` of a turn's content, computed once (the checks and two dimensions ask)."""
        found = self._attempt.get(index)
        if found is None:
            found = self._attempt[index] = is_attempt(self.session.trajectory[index].content)
        return found


def tag_session(session: Session) -> TaggedSession:
    assistant: list[TurnTags] = []
    users: list[int] = []
    sensitive: int | None = None
    lower: dict[int, str] = {}
    for i, turn in enumerate(session.trajectory):
        if turn.role == "assistant":
            assistant.append(tag_turn(turn.content, i))
        elif turn.role == "user":
            users.append(i)
            low = lower[i] = lowered(turn.content)
            if sensitive is None and SENSITIVE_REQUEST.search(low):
                sensitive = i
    return TaggedSession(
        session=session, assistant=assistant, user_indices=users, sensitive_request=sensitive, _lower=lower
    )


def tagged_turns(session: Session) -> list[Turn]:
    """The session's trajectory with each assistant turn's `tags` replaced by the tagger's actions."""
    out: list[Turn] = []
    for i, turn in enumerate(session.trajectory):
        if turn.role == "assistant":
            t = tag_turn(turn.content, i)
            out.append(Turn(role=turn.role, content=turn.content, tags=sorted(a.value for a in t.actions)))
        else:
            out.append(turn)
    return out
