"""Preflight: setup errors are found before a run row exists, as one exit-2 message, not N error rows.

An unreachable server, a wrong key (401/403), a wrong model id (404) or a misspelt grader option would
otherwise surface once per sample: a run full of `error` rows and exit 3, for what is a configuration
mistake. So before `execute` creates the run, `preflight`:

1. checks every grader's configuration: the deterministic graders against their pydantic config models,
   the LLM judges and Study Mode graders against the options they read (`GRADER_OPTIONS`; other registered
   graders can declare theirs with `declare_options`), the rubric itself, an OpenAI Evals grader's JSON;
2. sends one cheap request per model endpoint (the target model and every judge): a chat completion with
   `max_tokens: 1`, bypassing the response cache. 401/403/404, 405/501/505, "cannot connect" and a 200 whose
   body is not an OpenAI chat completion (the URL points at a web page or a proxy, not at the API) are fatal;
   a 429, another 5xx or a probe that does not answer within `probe_timeout_s` is not (the run's own retries
   and timeouts deal with a flaky server), and is returned as a warning.

Recorded and offline solvers need no probe, and neither does the embedded `local` model (it is started, and
checked, when it is resolved).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from evalwheel.models.base import GenerateConfig, Message, Model, ModelConfigError
from evalwheel.runs.spec import EvalSpec, SpecError

JUDGE_OPTIONS = frozenset(
    {"judge_model", "judge_models", "name", "n", "temperature", "seed", "max_tokens", "max_repairs"}
)
RUBRIC_OPTIONS = frozenset({"criterion", "scale_max", "labels", "anchors", "pass_threshold", "pass_labels"})

GRADER_OPTIONS: dict[str, frozenset[str]] = {
    "judge.rubric": JUDGE_OPTIONS | RUBRIC_OPTIONS | {"stable_max_std", "stable_min_agreement"},
    "judge.pairwise": JUDGE_OPTIONS | {"criterion", "b_key", "pass_at"},
    "faithfulness": JUDGE_OPTIONS | {"pass_threshold", "max_claims", "precheck", "precheck_allow"},
    "studymode.fidelity": frozenset({"studymode"}),
    "studymode.llm_fallback": JUDGE_OPTIONS
    | {"fallback_threshold", "studymode", "pass_threshold", "stable_max_std", "stable_min_agreement"},
    "openai.grader": frozenset({"grader", "judge_model", "max_repairs"}),
}
"""Grader name -> the config keys it reads. A key outside the set is a typo, reported before the run."""

NUMERIC_OPTIONS = frozenset(
    {"n", "temperature", "seed", "max_tokens", "max_repairs", "scale_max", "pass_threshold", "pass_at",
     "stable_max_std", "stable_min_agreement", "max_claims", "fallback_threshold", "fallback_below"}
)  # fmt: skip
"""The numeric options of the graders above, which read them with `int()` / `float()`: a YAML `true` would be 1."""

PROBE_TIMEOUT_S = 10.0
PROBE_MESSAGES = (Message(role="user", content="ping"),)


class PreflightError(SpecError):
    """The setup cannot work (unknown option, unreachable server, bad key or model id): exit code 2."""


def declare_options(grader: str, options: Iterable[str]) -> None:
    """Declare the config keys a grader reads, so preflight rejects misspelt ones for it too."""
    GRADER_OPTIONS[grader] = frozenset(options)


STUDYMODE_JUDGE_OPTIONS = JUDGE_OPTIONS | {"pass_threshold", "stable_max_std", "stable_min_agreement"}


def _options_for(name: str) -> frozenset[str] | None:
    if name in GRADER_OPTIONS:
        return GRADER_OPTIONS[name]
    # Why the next three: these built-ins read their options with `config.get`, so a misspelt one (`tierr`) was
    # silently ignored by `run`, `calibrate` and `grade`.
    if name.startswith("pedagogy."):
        from evalwheel.graders.pedagogy.response.dimensions import DIMENSION_ORDER
        from evalwheel.graders.pedagogy.response.tiers import grader_name

        if name in {grader_name(d) for d in DIMENSION_ORDER}:
            return frozenset({"tier"})
    if name == "studymode.dimensions" or name.startswith("studymode.dimension."):
        return frozenset({"studymode"})
    if name == "studymode.accuracy_judged":
        return STUDYMODE_JUDGE_OPTIONS | {"studymode", "fallback_below"}
    if name.startswith("studymode."):  # imported only for Study Mode specs (start-up time)
        from evalwheel.graders.pedagogy.llm import STUDYMODE_GRADERS

        if name in STUDYMODE_GRADERS:  # the Study Mode rubric judges: the rubric is theirs, the judge settings yours
            return STUDYMODE_JUDGE_OPTIONS
    return None


def _check_values(name: str, config: Mapping[str, Any], known: frozenset[str]) -> None:
    """The values `check_grader_config` can check cheaply, each failure one line naming the option. Why: a bad
    `tier` or judge `temperature` failed only on the first item (a multi-line pydantic dump for the latter), and
    a boolean numeric option (`n: true`) was read as 1 by `int()`."""
    for option in sorted(NUMERIC_OPTIONS & known & set(config)):
        if isinstance(config[option], bool):
            value = str(config[option]).lower()
            raise ValueError(f"grader {name!r}: option {option!r}: expected a number, got a boolean ({value})")
    if name.startswith("pedagogy.") and "tier" in config:
        from evalwheel.graders.pedagogy.response.tiers import ALIASES, TIERS

        tiers = ("best", *TIERS, *ALIASES)
        if config["tier"] not in tiers:
            raise ValueError(f"grader {name!r}: option 'tier': {config['tier']!r} is not one of {', '.join(tiers)}")
    if known >= JUDGE_OPTIONS and {"temperature", "max_tokens", "seed"} & set(config):  # an LLM judge's settings
        from pydantic import ValidationError

        from evalwheel.graders.model.judge import generate_config

        try:
            generate_config(config, 0)
        except (ValidationError, TypeError, ValueError) as exc:
            errors = exc.errors() if isinstance(exc, ValidationError) else []
            field = str(errors[0]["loc"][0]) if errors and errors[0]["loc"] else "temperature / max_tokens / seed"
            cause = errors[0]["msg"] if errors else str(exc)
            raise ValueError(f"grader {name!r}: option {field!r}: {cause}") from None


def _check_studymode(name: str, config: Mapping[str, Any], known: frozenset[str]) -> None:
    """A Study Mode grader's `studymode:` block (the evaluation config), validated now rather than per session."""
    if "studymode" not in known or not config.get("studymode"):
        return
    from pydantic import ValidationError

    from evalwheel.graders.pedagogy.session import EvaluationConfig

    try:
        EvaluationConfig.model_validate(config["studymode"])
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(part) for part in ("studymode", *err["loc"]))
        raise ValueError(f"grader {name!r}: option {field!r}: {err['msg']}") from None


def check_grader_config(name: str, config: Mapping[str, Any]) -> None:
    """Raise ValueError naming the grader and the first problem with its configuration."""
    known = _options_for(name)
    if known is None:
        from evalwheel.graders.deterministic import CONFIG_MODELS, check_config

        if name in CONFIG_MODELS:
            check_config(name, dict(config))
        return  # otherwise a user-registered grader that declared nothing: its own code validates its config
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(
            f"grader {name!r}: unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"(known options: {', '.join(sorted(known))})"
        )
    _check_values(name, config, known)
    _check_studymode(name, config, known)
    if name == "judge.rubric":
        from evalwheel.graders.model.judge import rubric_from_config

        try:
            rubric_from_config(config)
        except ValueError as exc:
            raise ValueError(f"grader {name!r}: invalid rubric: {' '.join(str(exc).split())}") from None
    if name == "openai.grader" and "grader" in config:
        from evalwheel.graders.openai_evals import import_openai_grader

        import_openai_grader(config["grader"])


def check_graders(spec: EvalSpec) -> list[str]:
    problems = []
    for i, g in enumerate(spec.graders):
        try:
            check_grader_config(g.name, spec.grader_config(g))
        except ValueError as exc:  # GraderConfigError, OpenAIGraderError and pydantic errors are ValueErrors
            problems.append(f"graders[{i}] ({g.name}): {exc}")
    return problems


def _endpoint(model: Model) -> Model | None:
    """The HTTP model behind a (possibly cached) model, or None when there is nothing to probe."""
    from evalwheel.models.cache import CachedModel
    from evalwheel.models.http import OpenAIModel
    from evalwheel.models.registry import LOCAL_NAMES

    inner = model.inner if isinstance(model, CachedModel) else model
    if not isinstance(inner, OpenAIModel) or inner.name in LOCAL_NAMES:
        return None
    return inner


async def probe_endpoint(model: Model, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """`probe` the HTTP endpoint behind `model` (a cached model's inner one); nothing to probe for the embedded
    model or a non-HTTP model. For commands without a spec (`calibrate`) that still want `run`'s setup check."""
    inner = _endpoint(model)
    return None if inner is None else await probe(inner, timeout_s)


async def probe(model: Model, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """One `max_tokens: 1` request. Raises ModelConfigError when the setup is wrong; returns a warning (or None
    when the endpoint answered) when the result is inconclusive.

    The probe runs on a shallow copy of the client with a short retry policy: the run's policy would spend
    ~20 s backing off from a server that answers 5xx, and a probe only needs to tell "cannot work" apart
    from "answers (even if badly)"."""
    import copy

    from evalwheel.models.base import MalformedResponseError, ModelError
    from evalwheel.models.http import OpenAIModel
    from evalwheel.models.reliability import AdaptiveLimiter, RetryPolicy

    client = model
    if isinstance(model, OpenAIModel):
        # Its own session and limiter: a model already in use (a judge `calibrate` probes after building it, a
        # model object reused across runs) must not lose its open session to the probe's close, and the probe
        # must not wait behind the model's in-flight calls for a slot.
        client = copy.copy(model)
        client.retry = RetryPolicy(max_attempts=2, max_connection_attempts=2, base_delay_s=0.1, max_delay_s=0.2)
        client.limiter = AdaptiveLimiter(1)
        client._session = client._session_loop = None
    cfg = GenerateConfig(max_tokens=1, temperature=0.0, timeout_s=timeout_s)
    try:
        await asyncio.wait_for(client.generate(list(PROBE_MESSAGES), cfg), timeout_s + 1.0)
    except ModelConfigError:
        raise
    except MalformedResponseError as exc:
        where = f" at {model.url}" if isinstance(model, OpenAIModel) else ""
        raise ModelConfigError(
            f"model {model.name}{where} answered, but not with an OpenAI chat completion "
            f"({' '.join(str(exc).split())[:200]}); check the base URL: it must be the API root "
            "that serves /chat/completions (often ending in /v1)"
        ) from None
    except TimeoutError:
        return f"model {model.name}: the preflight probe got no answer within {timeout_s:g} s; running anyway"
    except ModelError as exc:
        return f"model {model.name}: the preflight probe failed ({' '.join(str(exc).split())[:200]}); running anyway"
    finally:
        if client is not model:
            await client.aclose()  # its own session
    return None


async def preflight(spec: EvalSpec, models: Iterable[Model], *, probe_timeout_s: float = PROBE_TIMEOUT_S) -> list[str]:
    """Check the graders' configs and probe each model endpoint; raises PreflightError listing every problem.

    Returns warnings (inconclusive probes)."""
    problems = check_graders(spec)
    endpoints: dict[str, Model] = {}
    for m in models:
        inner = _endpoint(m)
        if inner is not None:
            endpoints.setdefault(inner.name, inner)
    outcomes = await asyncio.gather(*(probe(m, probe_timeout_s) for m in endpoints.values()), return_exceptions=True)
    warnings: list[str] = []
    for outcome in outcomes:
        if isinstance(outcome, ModelConfigError):
            problems.append(" ".join(str(outcome).split()))
        elif isinstance(outcome, BaseException):
            raise outcome
        elif outcome is not None:
            warnings.append(outcome)
    if problems:
        head = "preflight found a setup problem" if len(problems) == 1 else "preflight found setup problems"
        raise PreflightError(f"{head} (nothing was run, no run was recorded):\n  " + "\n  ".join(problems))
    return warnings
