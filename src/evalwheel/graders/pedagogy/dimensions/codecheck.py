"""Code claims in a session, checked by running the code in the sandbox.

Four kinds of claim are read from tutor turns, all of them about what Python prints or evaluates to:

- REPL transcripts in a code block (`>>> expr` followed by the output the tutor says it gives);
- a code block followed by a short "Output:" / "This prints:" line and a block with the output;
- `print(...)  # X` comments in straight-line code ("# -> X", "# prints X", "# Output: X");
- inline prose claims: `` `len(xs)` returns `3` ``, `` `10 // 3` is 3 ``.

and one about the learner: when the tutor asks what a shown snippet prints, the learner answers, and the
tutor confirms or rejects the answer, the real output says whether that judgement was right.

All of a session's code runs in one sandboxed interpreter (earlier blocks define names later snippets
use). When the sandbox stops it (time, output, network or file access), every code claim of the session
is unscored with that reason; code that raises is compared like any other output.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from evalwheel.graders.pedagogy.text import split_prose
from evalwheel.sandbox import SandboxLimits, SandboxResult, run_python_many, split_outputs
from evalwheel.types import Session

_FENCE_LANG = re.compile(r"^```[ \t]*([\w+-]*)")
_PY_LANGS = {"", "python", "py", "python3", "pycon", "console-python"}
_OUTPUT_INTRO = re.compile(
    r"(?:output|prints?|printed|you(?:'ll| will|'d| would)? (?:see|get)|result|gives|shows)\b[^\n]{0,40}:\s*$", re.I
)
_PRINT_COMMENT = re.compile(r"^\s*print\(.*\)\s*#\s*(?:->|=>|→|prints:?|output:?|outputs:?)?\s*(.+?)\s*$", re.I)
_LOOPY = re.compile(r"^\s*(?:for|while|def|class|async|with|try|if)\b", re.M)
_INLINE_CLAIM = re.compile(
    r"`([^`\n]{2,80})`\s+(?:returns|gives(?: you)?|evaluates to|is|equals|prints|produces|outputs|yields|will print|"
    r"would print|will return|would return)\s+(`[^`\n]{1,80}`|-?\d+ (?:to|through) -?\d+\b|-?\d+(?:\.\d+)?\b|"
    r"True\b|False\b|None\b|'[^'\n]{0,40}'|"
    r"\"[^\"\n]{0,40}\"|\[[^\]\n]{0,80}\])(?!\s*,\s*-?\d)"
)
# The same claim in prose without backticks, for expressions no sentence could mean otherwise: Python's own
# operators between numbers ("-7 // 2 is -3", "17 % 5 gives 2") and subscripts or slices ("name[4:7] gives '204'").
_VALUE = r"(-?\d+(?:\.\d+)?\b|True\b|False\b|None\b|'[^'\n]{0,40}'|\"[^\"\n]{0,40}\"|\[[^\]\n]{0,80}\])"
_BARE_CLAIM = re.compile(
    r"(?<![\w`.\]])(-?\d+\s*(?://|%|\*\*)\s*-?\d+|[A-Za-z_]\w*\[-?\d*(?::-?\d*){0,2}\])\s+"
    r"(?:is|gives(?: you)?|returns|evaluates to|equals|prints|will give|would give|will return|would return)\s+"
    + _VALUE
    + r"(?!\s*,\s*-?\d)"
)
# A string or list literal given a name in prose ("for name = 'IMG_2041.jpg', ..."), which later claims use.
_PROSE_ASSIGN = re.compile(r"(?<![\w.`])([A-Za-z_]\w*)\s*=\s*('[^'\n]{0,80}'|\"[^\"\n]{0,80}\"|\[[^\]\n]{0,80}\])")
# A sentence right after a one-print block saying what it prints ("This prints [1, 2, 3], because ...").
_OUTPUT_SENTENCE = re.compile(
    r"^\s*(?:this|it|that|the code|the snippet)\s+(?:will |would |then )?(?:prints?|outputs?|shows?|displays?)"
    r"\s*:?\s*`?" + _VALUE,
    re.I,
)
_PREDICT_Q = re.compile(
    r"\b(?:what|which)\b.{0,60}\b(?:will|would|does|do)\b.{0,60}\b(?:print|return|output|produce|give|evaluate|show)",
    re.I,
)
_MISSING_CONTEXT = ("NameError", "ModuleNotFoundError", "ImportError")
_OUTPUTISH = re.compile(r"[^A-Za-z]*|[^\s]+|[^A-Za-z]*\d[^A-Za-z]*(?:\s+\S+)?")
# Lazy iterables print as 'range(5, 9)'; a learner or tutor means their items.
_LAZY = str(("range", "map", "filter", "generator", "zip", "enumerate", "reversed", "dict_keys", "dict_values"))
_SHOW = "_v = ({}); print(list(_v) if type(_v).__name__ in " + _LAZY + " else repr(_v))"
_INLINE_CODE = re.compile(r"`([^`\n]{2,80})`")
_NUM = re.compile(r"-?\d+(?:\.\d+)?")
_RANGE_WORDS = re.compile(r"(-?\d+)\s*(?:to|through|thru|-|–|\.\.\.?|…)\s*(-?\d+)")


@dataclass(frozen=True, slots=True)
class CodeClaim:
    turn_index: int
    kind: str  # repl | output_block | print_comment | inline | learner_prediction
    code: str
    stated: str  # what the tutor (or, for predictions, the learner) says it gives
    chunk: int  # index of the chunk whose output decides it


@dataclass(slots=True)
class CodeFinding:
    claim: CodeClaim
    verdict: str  # correct | wrong | unknown | stopped
    actual: str
    reason: str = ""


@dataclass(slots=True)
class CodeReport:
    findings: list[CodeFinding] = field(default_factory=list)
    stopped: str | None = None  # why the sandbox stopped the session's code, if it did
    seconds: float = 0.0


def _blocks(content: str) -> list[tuple[int, int, str, str]]:
    """(start, end, language, body) of each fenced block in a turn."""
    out: list[tuple[int, int, str, str]] = []
    i = content.find("```")
    while i != -1:
        j = content.find("```", i + 3)
        end = len(content) if j == -1 else j + 3
        raw = content[i:end]
        lines = raw.splitlines()
        m = _FENCE_LANG.match(lines[0]) if lines else None
        lang = (m.group(1) if m else "").lower()
        body = "\n".join(ln for ln in lines[1:] if ln.strip() != "```")
        out.append((i, end, lang, body))
        i = content.find("```", end) if j != -1 else -1
    return out


def _compiles(code: str, mode: str) -> bool:
    try:
        compile(code, "<claim>", mode)
    except (SyntaxError, ValueError):
        return False
    return True


def _repl_chunks(body: str) -> list[tuple[str, str]]:
    """(statement, expected output) pairs of a `>>>` transcript."""
    pairs: list[tuple[str, str]] = []
    stmt: list[str] = []
    expected: list[str] = []
    for line in body.splitlines():
        if line.startswith(">>>"):
            if stmt:
                pairs.append(("\n".join(stmt), "\n".join(expected)))
            stmt, expected = [line[4:] if line.startswith(">>> ") else line[3:]], []
        elif line.startswith("...") and stmt and not expected:
            stmt.append(line[4:] if line.startswith("... ") else line[3:])
        elif stmt:
            expected.append(line)
    if stmt:
        pairs.append(("\n".join(stmt), "\n".join(expected)))
    return pairs


def _literal(text: str) -> object:
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _NOT_LITERAL


_NOT_LITERAL = object()


def same_output(stated: str, actual: str) -> bool | None:
    """Does the stated output match the real one? None when the statement is elided ("...")."""
    s, a = " ".join(stated.split()), " ".join(actual.split())
    if s == a:
        return True
    spans = _RANGE_WORDS.fullmatch(s)
    if spans is not None and _literal(actual) is not _NOT_LITERAL:
        # "`range(1, 10)` gives 1 to 10": the numbers the tutor says, against the numbers it gives.
        return list(_span(int(spans.group(1)), int(spans.group(2)))) == _literal(actual)
    if "..." in s or "…" in s or "0x" in a:
        return None
    ls, la = _literal(stated), _literal(actual)
    if ls is not _NOT_LITERAL and la is not _NOT_LITERAL:
        return ls == la
    if s.strip("'\"") == a.strip("'\""):
        return True
    # A REPL error: the stated traceback names the same exception type as the real one.
    err_s = re.search(r"\b(\w+(?:Error|Exception))\b", s)
    if err_s:
        return err_s.group(1) in a
    return False


def _learner_numbers(text: str) -> list[float]:
    expanded = _RANGE_WORDS.sub(lambda m: " ".join(str(k) for k in _span(int(m.group(1)), int(m.group(2)))), text)
    return [float(x) for x in _NUM.findall(expanded)]


def _span(a: int, b: int) -> range:
    if abs(b - a) > 200:
        return range(0)
    return range(a, b + 1) if b >= a else range(a, b - 1, -1)


def learner_matches(answer: str, actual: str) -> bool | None:
    """Is a learner's free-text prediction of an output right? None when it cannot be told."""
    act = actual.strip()
    if len(act) >= 2 and act[0] == act[-1] and act[0] in "'\"":
        shown = _literal(act)  # an inline expression's value is shown as its repr: '2' is what print shows as 2
        if isinstance(shown, str):
            act = shown.strip()
    if not act:
        return None
    if re.fullmatch(r"[\w.]*(?:Error|Exception)", act):
        return (
            True
            if re.search(r"\berror|exception|crash|fail", answer, re.I)
            else (False if _NUM.search(answer) else None)
        )
    numbers_only = re.fullmatch(r"[-\d.,\s\[\]()]+", act) is not None
    if numbers_only:
        want = [float(x) for x in _NUM.findall(act)]
        got = _learner_numbers(answer)
        if not got:
            return None
        return got == want
    tokens = act.split()
    if len(tokens) <= 3 and all(t in answer for t in tokens):
        return True
    for lit in ("True", "False", "None"):
        if re.search(rf"\b{lit}\b", answer, re.I) and lit not in act:
            return False
    return None


def extract(session: Session) -> tuple[list[tuple[str, str]], list[CodeClaim]]:
    """The session's code as sandbox chunks, and the claims tied to chunk outputs."""
    chunks: list[tuple[str, str]] = []
    claims: list[CodeClaim] = []
    traj = session.trajectory
    for idx, turn in enumerate(traj):
        if turn.role == "system":
            continue
        content = turn.content
        blocks = _blocks(content) if "```" in content else []
        block_chunk: dict[int, int] = {}
        for k, (start, end, lang, body) in enumerate(blocks):
            if lang not in _PY_LANGS or not body.strip():
                continue
            if ">>>" in body:
                if turn.role == "assistant":
                    for stmt, expected in _repl_chunks(body):
                        if _compiles(stmt, "single"):
                            chunks.append(("single", stmt))
                            if expected.strip():
                                claims.append(CodeClaim(idx, "repl", stmt, expected, len(chunks) - 1))
                continue
            if not _compiles(body, "exec"):
                continue
            # An "Output:" block is the output of the block before it, not code to run.
            prev = blocks[k - 1] if k else None
            if prev is not None and (k - 1) in block_chunk and _OUTPUT_INTRO.search(content[prev[1] : start].strip()):
                continue
            chunks.append(("exec", body))
            block_chunk[k] = len(chunks) - 1
            if turn.role != "assistant":
                continue
            nxt = blocks[k + 1] if k + 1 < len(blocks) else None
            between = content[end : nxt[0]] if nxt is not None else ""
            if nxt is not None and len(between.split()) <= 12 and _OUTPUT_INTRO.search(between.strip()):
                claims.append(CodeClaim(idx, "output_block", body, nxt[3], len(chunks) - 1))
            elif body.count("print(") == 1 and not _LOOPY.search(body) and (
                said := _OUTPUT_SENTENCE.match(content[end : nxt[0] if nxt is not None else len(content)])
            ):
                claims.append(CodeClaim(idx, "output_prose", body, said.group(1), len(chunks) - 1))
            elif not _LOOPY.search(body):
                stated = [m.group(1) for ln in body.splitlines() if (m := _PRINT_COMMENT.match(ln))]
                prints = body.count("print(")
                outputish = all(_literal(x) is not _NOT_LITERAL or _OUTPUTISH.fullmatch(x) for x in stated)
                if stated and len(stated) == prints and outputish:
                    claims.append(CodeClaim(idx, "print_comment", body, "\n".join(stated), len(chunks) - 1))
        if turn.role != "assistant":
            continue
        prose = split_prose(content).text  # fenced code removed: claims in code are read by the block rules
        for m in _PROSE_ASSIGN.finditer(prose):
            if _compiles(m.group(0), "exec"):
                chunks.append(("exec", m.group(0)))
        for m in _BARE_CLAIM.finditer(prose):
            expr, value = m.group(1), m.group(2)
            if _compiles(expr, "eval"):
                chunks.append(("exec", _SHOW.format(expr)))
                claims.append(CodeClaim(idx, "inline", expr, value, len(chunks) - 1))
        for m in _INLINE_CLAIM.finditer(content):
            expr, value = m.group(1), m.group(2).strip("`")
            if not _compiles(expr, "eval") or not re.search(r"[(\[+*/%-]", expr):
                continue
            chunks.append(("exec", _SHOW.format(expr)))
            claims.append(CodeClaim(idx, "inline", expr, value, len(chunks) - 1))
        _prediction(session, idx, blocks, block_chunk, chunks, claims)
    return chunks, claims


def _prediction(
    session: Session,
    idx: int,
    blocks: list[tuple[int, int, str, str]],
    block_chunk: dict[int, int],
    chunks: list[tuple[str, str]],
    claims: list[CodeClaim],
) -> None:
    """A tutor question 'what does this print?' answered by the learner in the next turn."""
    traj = session.trajectory
    if idx + 1 >= len(traj) or traj[idx + 1].role != "user":
        return
    content = traj[idx].content
    questions = [q for q in re.split(r"(?<=\?)", content) if q.strip().endswith("?")]
    if not questions:
        return
    last_q = re.split(r"(?<=[.!:])\s+|\n", questions[-1].strip())[-1]
    if not _PREDICT_Q.search(last_q):
        return
    answer = traj[idx + 1].content
    inline = [c for c in _INLINE_CODE.findall(last_q) if _compiles(c, "eval") and re.search(r"[(\[{+*/%-]", c)]
    if inline:
        chunks.append(("exec", _SHOW.format(inline[0])))
        claims.append(CodeClaim(idx + 1, "learner_prediction", inline[0], answer, len(chunks) - 1))
        return
    q_at = content.rfind(last_q.strip()[:40])
    before = [k for k, (_, end, _, _) in enumerate(blocks) if end <= q_at and k in block_chunk]
    if before:
        k = before[-1]
        claims.append(CodeClaim(idx + 1, "learner_prediction", blocks[k][3], answer, block_chunk[k]))


def check_code(session: Session, limits: SandboxLimits | None = None) -> CodeReport:
    """Run the session's code once and judge every code claim against the real outputs."""
    chunks, claims = extract(session)
    report = CodeReport()
    if not claims:
        return report
    result: SandboxResult = run_python_many(chunks, limits)
    report.seconds = result.seconds
    if result.stopped:
        report.stopped = f"code not checked: the sandbox stopped it ({result.status}: {result.reason})"
        report.findings = [CodeFinding(c, "stopped", "", report.stopped) for c in claims]
        return report
    outputs = split_outputs(result.stdout)
    for c in claims:
        actual = outputs[c.chunk].rstrip("\n") if c.chunk < len(outputs) else ""
        if actual.strip() in _MISSING_CONTEXT and actual.strip() not in c.stated:
            # The snippet leans on names from outside the transcript: its real output is unknowable here.
            report.findings.append(CodeFinding(c, "unknown", actual, "needs context the session does not show"))
            continue
        same = learner_matches(c.stated, actual) if c.kind == "learner_prediction" else same_output(c.stated, actual)
        verdict = "unknown" if same is None else ("correct" if same else "wrong")
        report.findings.append(CodeFinding(c, verdict, actual))
    return report
