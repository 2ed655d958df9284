"""`evalwheel calibrate`: the LLMBar loader, the pairwise / faithfulness runners against scripted fake-server
judges, threshold tuning on synthetic scores, and the `calibrate_app` CLI (JSON shape, exit 2 on bad input)."""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalwheel.calibration import (
    LLMBarFormatError,
    calibrate_faithfulness,
    calibrate_pairwise,
    calibrate_threshold,
    load_llmbar,
)
from evalwheel.calibration.cli import calibrate_app
from evalwheel.calibration.record import load_calibration_record
from evalwheel.datasets.faithbench import load_faithbench
from evalwheel.models.http import OpenAIModel
from evalwheel.models.reliability import RetryPolicy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from fake_openai_server import FakeOpenAIServer  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
LLMBAR = FIXTURES / "llmbar_tiny.json"
LLMBAR_BAD = FIXTURES / "llmbar_malformed.json"
FAITHBENCH = FIXTURES / "faithbench_tiny.csv"
FAST = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.02)
runner = CliRunner()

Reply = Callable[[dict[str, Any]], str]


class RoutedJudge(FakeOpenAIServer):
    """The fake server answering every well-formed request through `fn(body)`."""

    def __init__(self, fn: Reply, **kw: Any) -> None:
        super().__init__(**kw)
        self.fn = fn

    async def __aenter__(self) -> RoutedJudge:
        await self.start()
        return self

    def _text(self, body: dict[str, Any], *, garbage: bool) -> str:
        if garbage:
            text: str = super()._text(body, garbage=True)
            return text
        return self.fn(body)


def _user(body: dict[str, Any]) -> str:
    return str(body["messages"][1]["content"])


def _tag(text: str, tag: str) -> str:
    return html.unescape(text.split(f"<{tag}>\n", 1)[1].split(f"\n</{tag}>", 1)[0])


def pick(winner: str) -> str:
    return json.dumps({"reason": "compared", "winner": winner})


def first_always(body: dict[str, Any]) -> str:
    """A purely position-biased judge: response 1 wins whatever it says."""
    return pick("1")


def correct(body: dict[str, Any]) -> str:
    """Knows the answer: the better output of the fixture is marked GOOD."""
    return pick("1" if "GOOD" in _tag(_user(body), "response_1") else "2")


def longer(body: dict[str, Any]) -> str:
    """Always prefers the longer response (in words)."""
    user = _user(body)
    return pick("1" if len(_tag(user, "response_1").split()) > len(_tag(user, "response_2").split()) else "2")


def garbage(body: dict[str, Any]) -> str:
    return "no JSON here"


def faith(body: dict[str, Any]) -> str:
    """Claim split: the whole summary is one claim. Verdict: 'moon' unsupported, 'GARBLE' unparseable."""
    user = _user(body)
    if "split an answer into atomic factual claims" in body["messages"][0]["content"]:
        return json.dumps({"claims": [_tag(user, "transcript")]})
    claim = _tag(user, "claim")
    if "GARBLE" in claim:
        return "not json at all"
    label = "UNSUPPORTED" if "moon" in claim else "SUPPORTED"
    return json.dumps({"reason": "checked", "evidence": "", "verdict": label})


_OPEN: list[OpenAIModel] = []


def judge(srv: FakeOpenAIServer) -> OpenAIModel:
    model = OpenAIModel("fake", srv.base_url, name="fake-judge", retry=FAST)
    _OPEN.append(model)
    return model


@pytest.fixture(autouse=True)
async def _close_models() -> AsyncIterator[None]:
    yield
    while _OPEN:
        await _OPEN.pop().aclose()


# ------------------------------------------------------------------------------------------- LLMBar loader


def test_llmbar_loader_maps_labels() -> None:
    pairs = load_llmbar(LLMBAR)
    assert [p.gold for p in pairs] == ["A", "B", "A", "B"]
    assert pairs[0].id == "llmbar-0" and pairs[3].input.startswith("Name a <primary>")


def test_llmbar_loader_on_shared_data_shape() -> None:
    path = ROOT.parent / "shared" / "data" / "llmbar" / "LLMBar_Natural.json"
    if not path.exists():
        pytest.skip("shared LLMBar data not present")
    pairs = load_llmbar(path)
    assert pairs and {p.gold for p in pairs} == {"A", "B"}


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("not json", "invalid JSON"),
        ('{"input": "x"}', "expected a JSON list"),
        ("[]", "no pairs"),
        ('[{"input": "q", "output_1": "a", "label": 1}]', "item 0: missing field(s) output_2"),
        ('[{"input": "q", "output_1": "a", "output_2": "b", "label": 3}]', "item 0: label 3 is not 1 or 2"),
        ('[{"input": "q", "output_1": "a", "output_2": "b", "label": true}]', "label True"),
        ('[{"input": " ", "output_1": "a", "output_2": "b", "label": 1}]', "empty input"),
        ('[{"input": "q", "output_1": 5, "output_2": "b", "label": 1}]', "output_1 must be a string"),
        ("[3]", "expected an object"),
    ],
)
def test_llmbar_loader_rejects_malformed_input(tmp_path: Path, text: str, cause: str) -> None:
    path = tmp_path / "bar.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LLMBarFormatError) as err:
        load_llmbar(path)
    assert cause in str(err.value) and str(path) in str(err.value)


def test_llmbar_loader_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LLMBarFormatError, match="cannot read the file"):
        load_llmbar(tmp_path / "nope.json")


# ------------------------------------------------------------------------------------------- pairwise runner


async def test_position_biased_judge_gives_only_ties() -> None:
    async with RoutedJudge(first_always) as srv:
        ticks: list[int] = []
        res = await calibrate_pairwise(load_llmbar(LLMBAR), judge(srv), concurrency=2, on_progress=ticks.append)
    assert res.n == res.scored == 4 and res.unscored == 0 and sum(ticks) == 4
    assert res.ties == 4 and res.correct == 0 and res.wrong == 0
    assert res.accuracy == 0.0 and res.accuracy_ties_half == 0.5 and res.tie_rate == 1.0
    assert res.position_consistency == 0.0
    assert res.judge == "fake-judge"


async def test_correct_judge_has_accuracy_one() -> None:
    async with RoutedJudge(correct) as srv:
        res = await calibrate_pairwise(load_llmbar(LLMBAR), judge(srv))
    assert res.accuracy == 1.0 and res.accuracy_ties_half == 1.0 and res.ties == 0
    assert res.position_consistency == 1.0
    assert res.length_bias.n == 4 and res.length_bias.reference_longer_rate == 0.5 and res.length_bias.bias == 0.0


async def test_length_loving_judge_shows_length_bias_and_limit() -> None:
    async with RoutedJudge(longer) as srv:
        res = await calibrate_pairwise(load_llmbar(LLMBAR), judge(srv))
        limited = await calibrate_pairwise(load_llmbar(LLMBAR), judge(srv), limit=1)
    assert res.accuracy == 0.5 and res.position_consistency == 1.0
    assert res.length_bias.bias == 0.5 and res.length_bias.longer_wins_when_shorter_preferred == 1.0
    assert limited.n == 1 and limited.accuracy == 0.0


async def test_unscored_pairs_are_counted_apart() -> None:
    async with RoutedJudge(garbage) as srv:
        res = await calibrate_pairwise(load_llmbar(LLMBAR), judge(srv), limit=2)
    assert res.n == 2 and res.unscored == 2 and res.scored == 0
    assert res.accuracy is None and res.accuracy_ties_half is None and res.position_consistency is None


async def test_bad_limit_and_concurrency() -> None:
    pairs = load_llmbar(LLMBAR)
    with pytest.raises(ValueError, match="limit"):
        await calibrate_pairwise(pairs, judge(RoutedJudge(garbage)), limit=0)
    with pytest.raises(ValueError, match="concurrency"):
        await calibrate_pairwise(pairs, judge(RoutedJudge(garbage)), concurrency=0)


# ------------------------------------------------------------------------------------------- faithfulness


async def test_faithfulness_agreement_and_unscored() -> None:
    async with RoutedJudge(faith) as srv:
        res = await calibrate_faithfulness(load_faithbench(FAITHBENCH), judge(srv), concurrency=3)
    assert res.n == 5 and res.scored == 4 and res.unscored == 1
    a = res.agreement
    assert a.labels == ["hallucinated", "faithful"]
    assert a.confusion == [[1, 1], [0, 2]]  # rows gold, cols predicted
    assert a.accuracy == 0.75
    assert a.per_label["hallucinated"].precision == 1.0 and a.per_label["hallucinated"].recall == 0.5
    assert a.kappa == pytest.approx(0.5)
    assert a.macro_f1 == pytest.approx((2 / 3 + 0.8) / 2)
    assert res.threshold is not None and res.threshold.n == 4


# ------------------------------------------------------------------------------------------- threshold


def test_threshold_tuning_on_separable_scores() -> None:
    scores = [0.03 * i for i in range(10)] + [0.7 + 0.03 * i for i in range(10)]  # a gap between 0.27 and 0.7
    labels = [s >= 0.5 for s in scores]
    res = calibrate_threshold(scores, labels, dev_fraction=0.5, seed=3)
    assert res.n_dev == 10 and res.n_heldout == 10 and res.n == 20
    assert res.dev.accuracy == 1.0
    assert 0.27 < res.threshold < 0.7  # a midpoint in the gap, not a dev score
    assert res.heldout.n == 10 and res.heldout.accuracy == 1.0 and res.heldout.kappa == 1.0
    again = calibrate_threshold(scores, labels, dev_fraction=0.5, seed=3)
    assert again == res  # seeded: same split, same threshold


def test_threshold_tuning_noisy_scores_report_heldout_apart() -> None:
    scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    labels = [False, True, False, False, True, False, True, True, False, True]
    res = calibrate_threshold(scores, labels, dev_fraction=0.3, seed=0)
    assert res.n_dev == 3 and res.n_heldout == 7
    assert res.dev.n == 3 and res.heldout.n == 7 and res.heldout.labels == ["pass", "fail"]
    assert res.dev.accuracy is not None and res.heldout.accuracy is not None


@pytest.mark.parametrize(
    ("scores", "labels", "frac", "cause"),
    [
        ([0.1], [True], 0.5, "at least 2"),
        ([0.1, 0.2], [True], 0.5, "differ in length"),
        ([0.1, 0.2], [True, False], 1.0, "dev_fraction"),
    ],
)
def test_threshold_tuning_rejects_bad_input(scores: list[float], labels: list[bool], frac: float, cause: str) -> None:
    with pytest.raises(ValueError, match=cause):
        calibrate_threshold(scores, labels, dev_fraction=frac)


# ------------------------------------------------------------------------------------------- CLI


@contextmanager
def served(fn: Reply) -> Iterator[RoutedJudge]:
    """The fake server on its own event loop in a thread (the CLI runs its own asyncio.run)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    srv = RoutedJudge(fn)
    asyncio.run_coroutine_threadsafe(srv.start(), loop).result(timeout=10)
    try:
        yield srv
    finally:
        asyncio.run_coroutine_threadsafe(srv.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_cli_pairwise_json() -> None:
    with served(correct) as srv:
        model = f"{srv.base_url}#fake"
        args = ["pairwise", "--llmbar", str(LLMBAR), "--model", model, "--json", "--no-cache", "--concurrency", "2"]
        result = runner.invoke(calibrate_app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["task"] == "pairwise" and data["model"] == model and data["file"] == str(LLMBAR)
    assert data["n"] == 4 and data["accuracy"] == 1.0 and data["position_consistency"] == 1.0
    for key in ("ties", "accuracy_ties_half", "unscored", "length_bias"):
        assert key in data


def test_cli_faithfulness_json_with_limit() -> None:
    with served(faith) as srv:
        args = ["faithfulness", "--faithbench", str(FAITHBENCH), "--model", f"{srv.base_url}#fake"]
        result = runner.invoke(calibrate_app, [*args, "--json", "--no-cache", "--limit", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["task"] == "faithfulness" and data["n"] == 2 and data["unscored"] == 0
    assert data["agreement"]["confusion"] == [[1, 0], [0, 1]] and data["agreement"]["kappa"] == 1.0
    assert set(data["agreement"]["per_label"]["hallucinated"]) >= {"precision", "recall", "f1"}
    assert data["threshold"]["n"] == 2 and data["threshold"]["heldout"]["n"] == 1


def test_cli_text_output() -> None:
    with served(first_always) as srv:
        args = ["pairwise", "--llmbar", str(LLMBAR), "--model", f"{srv.base_url}#fake", "--no-cache", "--limit", "1"]
        result = runner.invoke(calibrate_app, args)
    assert result.exit_code == 0, result.output
    assert "position_consistency: 0.0" in result.stdout


def test_cli_malformed_file_exits_2() -> None:
    result = runner.invoke(calibrate_app, ["pairwise", "--llmbar", str(LLMBAR_BAD), "--model", "local", "--json"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "llmbar_malformed.json: item 1: label 3 is not 1 or 2" in lines[0]
    assert result.stdout == ""


def test_cli_bad_faithbench_and_missing_file_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "fb.csv"
    bad.write_text("source,summary\nx,y\n", encoding="utf-8")
    result = runner.invoke(calibrate_app, ["faithfulness", "--faithbench", str(bad), "--model", "local"])
    assert result.exit_code == 2 and "missing column(s) worst-label" in result.stderr
    result = runner.invoke(calibrate_app, ["pairwise", "--llmbar", str(tmp_path / "none.json"), "--model", "local"])
    assert result.exit_code == 2 and "cannot read the file" in result.stderr


def test_cli_unknown_model_exits_2() -> None:
    result = runner.invoke(calibrate_app, ["pairwise", "--llmbar", str(LLMBAR), "--model", "nonsense", "--json"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "unknown model 'nonsense'" in result.stderr


# ------------------------------------------------------------------------------------------- records (--out)


async def test_pairwise_agreement_counts_ties_as_disagreement() -> None:
    async with RoutedJudge(first_always) as srv:
        res = await calibrate_pairwise(load_llmbar(LLMBAR), judge(srv))
    assert res.agreement is not None and res.agreement.labels == ["A", "B", "tie"]
    assert res.agreement.confusion == [[0, 0, 2], [0, 0, 2], [0, 0, 0]] and res.agreement.accuracy == 0.0


def test_cli_pairwise_out_writes_record(tmp_path: Path) -> None:
    out = tmp_path / "rec" / "pairwise.json"
    with served(correct) as srv:
        model = f"{srv.base_url}#fake"
        args = ["pairwise", "--llmbar", str(LLMBAR), "--model", model, "--no-cache", "--no-progress", "--out", str(out)]
        result = runner.invoke(calibrate_app, args)
    assert result.exit_code == 0, result.output
    rec = load_calibration_record(out)
    assert rec.task == "pairwise" and rec.grader == "judge.pairwise" and rec.model == model
    assert rec.kappa == 1.0 and rec.accuracy == 1.0 and rec.n == 4 and rec.dataset.items == 4
    assert rec.dataset.sha256 == hashlib.sha256(LLMBAR.read_bytes()).hexdigest()


def test_cli_faithfulness_out_writes_record(tmp_path: Path) -> None:
    out = tmp_path / "faith.json"
    with served(faith) as srv:
        args = ["faithfulness", "--faithbench", str(FAITHBENCH), "--model", f"{srv.base_url}#fake", "--no-cache"]
        result = runner.invoke(calibrate_app, [*args, "--no-progress", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rec = load_calibration_record(out)
    assert rec.task == "faithfulness" and rec.grader == "faithfulness"
    assert rec.n == 5 and rec.scored == 4 and rec.unscored == 1
    assert rec.kappa == pytest.approx(0.5) and rec.accuracy == 0.75
    assert rec.threshold is not None and rec.n_heldout == 2 and rec.seed == 0
