"""The support assistant as production runs it, with two prompt versions: v1 (shipped) and v2 (broken).

v2 adds an "empathy" rule for urgent customers. It reads well in review, and the offline dataset never
exercises it (no sample is written urgently), but on real traffic it makes the assistant promise an
"internal ticket queue" (internal jargon) and drop the house sign-off: exactly the kind of regression only
production monitoring sees, and what `traffic.py` feeds into `evalwheel monitor`.

`answer(sample, ctx)` is the python solver of `traffic-spec-v1.yaml` / `traffic-spec-v2.yaml`
(`options.prompt_version`). With a target model (`solver.model`, or `traffic.py --model`) it calls the real
assistant (retrieval + the model) under the version's system prompt. Without one it is *recorded* mode: the
reviewed answer recorded for the question (`recorded.jsonl`), and for v2 the failure the broken rule causes on
urgent messages, applied deterministically, so the loop runs in seconds and the same way every time.
"""

from __future__ import annotations

import json
import re
import sys
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from assistant import SYSTEM_PROMPT, build_messages, question_of, retrieve  # noqa: E402

from evalwheel.models.base import GenerateConfig, Message  # noqa: E402
from evalwheel.solvers.base import SolverContext  # noqa: E402
from evalwheel.types import Output, Sample  # noqa: E402

BROKEN_RULE = (
    "7. When a customer sounds urgent or frustrated, open with a warm apology, tell them their case is now in our "
    "internal ticket queue with top priority, and keep the reply short: skip the sign-off so it feels personal.\n"
)
PROMPTS = {"v1": SYSTEM_PROMPT, "v2": SYSTEM_PROMPT + BROKEN_RULE}
URGENT = re.compile(r"(?i)\b(urgent|asap|right now|immediately|emergency)\b|!!")
DECORATIONS = [
    (re.compile(r"(?i)^(urgent|asap|emergency)[:!,]*\s+"), ""),
    (re.compile(r"(?i)\s*(please answer asap|i need this right now|this is urgent)[.!]*$"), ""),
    (re.compile(r"\s*!!+$"), "?"),
]
SIGN_OFF = "\n\nBest regards,\nTaskHarbor Support"
UNKNOWN = (
    "I'm sorry, I don't have that information. Our support team can help at support@taskharbor.example." + SIGN_OFF
)


def is_urgent(question: str) -> bool:
    return bool(URGENT.search(question))


def plain_question(question: str) -> str:
    """The question without the urgency decorations `traffic.py` adds (the recorded answers are keyed by it)."""
    q = question.strip()
    for pattern, repl in DECORATIONS:
        q = pattern.sub(repl, q)
    return q.strip()


@cache
def recorded_answers() -> dict[str, str]:
    """Question text -> the reviewed recorded answer (from dataset.jsonl + recorded.jsonl)."""
    outputs = {}
    for line in (HERE / "recorded.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        outputs[row["id"]] = row["output"]["text"]
    answers = {}
    for line in (HERE / "dataset.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if isinstance(row["input"], str) and row["id"] in outputs:
            answers[row["input"]] = outputs[row["id"]]
    return answers


def recorded_answer(question: str, version: str) -> str:
    """Recorded mode: the reviewed answer; under v2 an urgent question gets the broken rule's reply."""
    text = recorded_answers().get(plain_question(question), UNKNOWN)
    if version == "v2" and is_urgent(question):
        body = text.replace(SIGN_OFF, "").strip()
        return "So sorry for the trouble! Your case is now in our internal ticket queue with top priority. " + body
    return text


def messages_for(question: str, version: str) -> list[Message]:
    msgs = build_messages(question, retrieve(question))
    return [Message(role="system", content=PROMPTS[version]), *msgs[1:]]


async def answer(sample: Sample, ctx: SolverContext) -> Output:
    """Python solver: `options.prompt_version` v1 or v2; live with `ctx.model`, recorded without."""
    version = str(ctx.config.get("prompt_version", "v1"))
    if version not in PROMPTS:
        raise ValueError(f"prompt_version must be one of {', '.join(PROMPTS)}, got {version!r}")
    question = question_of(sample)
    if ctx.model is None:
        return Output(text=recorded_answer(question, version))
    config = GenerateConfig(temperature=0.0, max_tokens=int(ctx.config.get("max_tokens", 300)), seed=0)
    completion = await ctx.model.generate(messages_for(question, version), config)
    return Output(text=completion.text.strip(), usage=completion.usage, latency_ms=completion.latency_ms)
