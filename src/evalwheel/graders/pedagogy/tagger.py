"""Per-turn tagger: which Study Mode moves an assistant turn makes, and how many questions it asks.

Deterministic regular expressions over the prose of a turn, so every tag can be explained by the
phrase that triggered it (kept as evidence) and tagging 10,000 sessions takes seconds, not a GPU.
The patterns are deliberately about *moves* (asking about the learner, inviting a prediction, handing
over a solution), not about any subject, so they carry over from Python lessons to prompt engineering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from evalwheel.graders.pedagogy.text import Prose, any_of, Sentence, question_weight, questions, split_prose
from evalwheel.types import Session, Turn


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
CHECK_Q = any_of(
    r"\b(?:explain|say|tell|describe|put) (?:it|that|this|them)? ?(?:back|in your own words)\b",
    r"\bin your own words\b",
    r"\bwhat (?:would|will|does|do|should|might)\b.{0,80}\b(?:print|return|output|show|produce|give|evaluate|be|contain|happen|get)\b",
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
    r"\b(?:now )?(?:try|write|change|modify|rewrite|fix|add|turn|refactor|draft|improve|build) (?:writing |a |an |the |it |this |that |one |your )",
    r"\b(?:exercise|challenge|practice (?:round|problem|question)|mini-task|small task|quiz)\b",
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
    r"\bthe (?:final |correct |right )?answer is\b",
    r"\bhere(?:'s| is) (?:the|a|your|an) (?:corrected|fixed|complete|full|final|working|improved|revised|updated|better|rewritten|solution|answer|finished|correct)\b",
    r"\bhere(?:'s| is) (?:how (?:to|you) (?:solve|fix|write|do)|the code|the solution|the fix|the prompt|a prompt|a version|one way)\b",
    r"\bthe (?:solution|fix) is\b",
    r"\b(?:the )?(?:output|result) (?:will be|would be|is)\b",
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
EXPLAIN_MAX_WORDS = 150


@dataclass(slots=True)
class TurnTags:
    """What one assistant turn does, with the phrase behind every tag."""

    index: int
    actions: set[Action] = field(default_factory=set)
    question_count: int = 0
    questions: list[Sentence] = field(default_factory=list)
    words: int = 0
    code_lines: int = 0
    evidence: dict[Action, str] = field(default_factory=dict)
    prose: Prose | None = None
    continues_after_question: str | None = None

    def has(self, action: Action) -> bool:
        return action in self.actions


def _first(pattern: re.Pattern[str], sentences: list[Sentence] | tuple[Sentence, ...]) -> str | None:
    for s in sentences:
        if pattern.search(s.text):
            return s.text
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
        if nxt and "?" not in nxt and ANSWERS_OWN_QUESTION.search(nxt):
            # Answered in the very next sentence: rhetorical, the tutor does not wait for the learner.
            tags.continues_after_question = f"{q.text} {nxt}"
            continue
        learner_qs.append(q)
        last_q_sentence = i
    tags.questions = learner_qs
    tags.question_count = sum(question_weight(q) for q in learner_qs)

    def mark(action: Action, snippet: str | None) -> None:
        if snippet is not None:
            tags.actions.add(action)
            tags.evidence.setdefault(action, snippet)

    mark(Action.DIAGNOSE, _first(DIAGNOSE_Q, learner_qs))
    mark(Action.CHECK_UNDERSTANDING, _first(CHECK_Q, learner_qs))
    mark(Action.PRACTICE, _first(PRACTICE, prose.sentences))
    mark(Action.HINT, _first(HINT, prose.sentences))
    mark(Action.RECAP, _first(RECAP, prose.sentences))
    mark(Action.ENCOURAGEMENT, _first(ENCOURAGE, prose.sentences[:3]))
    reveal = _first(REVEAL, prose.sentences)
    if reveal is None and prose.code_blocks:
        for block in prose.code_blocks:
            body_lines = [ln for ln in block.splitlines()[1:] if ln.strip() and ln.strip() != "```"]
            if len(body_lines) >= 4 and SOLUTION_CODE.search(block):
                reveal = f"(code block of {len(body_lines)} lines) " + body_lines[0].strip()
                break
    mark(Action.ANSWER_REVEAL, reveal)
    if prose.words >= LECTURE_WORDS:
        mark(Action.LECTURE, f"({prose.words} words of prose) " + (prose.sentences[0].text if prose.sentences else ""))
    else:
        mark(Action.MICRO_EXPLAIN, _first(EXPLAIN, [s for s in prose.sentences if "?" not in s.text]))
    if learner_qs and tags.continues_after_question is None:
        after = [s for s in sents[last_q_sentence + 1 :] if "?" not in s.text]
        after_words = sum(len(s.text.split()) for s in after)
        if after and not CLOSING_AFTER_QUESTION.search(after[0].text) and (
            after_words >= 25 or (prose.code_blocks and _code_after(content, learner_qs[-1].text))
        ):
            tags.continues_after_question = f"{learner_qs[-1].text} {after[0].text}"
    return tags


def _code_after(content: str, question: str) -> bool:
    pos = content.find(question[:40])
    return pos >= 0 and "```" in content[pos:]


@dataclass(slots=True)
class TaggedSession:
    session: Session
    assistant: list[TurnTags]
    user_indices: list[int]


def tag_session(session: Session) -> TaggedSession:
    assistant: list[TurnTags] = []
    users: list[int] = []
    for i, turn in enumerate(session.trajectory):
        if turn.role == "assistant":
            assistant.append(tag_turn(turn.content, i))
        elif turn.role == "user":
            users.append(i)
    return TaggedSession(session=session, assistant=assistant, user_indices=users)


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
