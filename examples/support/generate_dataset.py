"""Write the support example's dataset.jsonl and recorded.jsonl (deterministic: same seed, same files).

    python examples/support/generate_dataset.py [--out-dir DIR] [--seed 7] [--n 220]

- golden, regression and adversarial samples come from the hand-written `cases.yaml` (their recorded answers
  too);
- the distribution partition is `n` queries drawn (seeded) from templates x the knowledge-base facts below,
  each with a reference and a templated recorded answer, like the traffic the assistant sees every day.

Every sample's `context` is `assistant.retrieve(input)`: exactly the passages the assistant answers from, so
the faithfulness grader checks recorded and live answers against what the assistant actually saw.
`metadata.expected_source` names the knowledge-base file that holds the answer (null when none should) and
`metadata.retrieved` the passage ids, so retrieval quality can be measured from the dataset alone.

The fact tables repeat the knowledge base on purpose (templates need structured facts); the test suite checks
that every fact used here still appears in `kb/`, so the two cannot drift apart silently.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from evalwheel.types import Output, Sample

HERE = Path(__file__).resolve().parent
SEED = 7
N_DISTRIBUTION = 220
CLOSING = "\n\nBest regards,\nTaskHarbor Support"
PLANS = ("Free", "Starter", "Pro", "Enterprise")


def load_assistant() -> ModuleType:
    """This example's assistant module, loaded by path once (the example directory is not a package)."""
    name = "evalwheel_examples_support_assistant"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "assistant.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# ------------------------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class PlanFacts:
    price: str
    users: str
    storage: str
    automations: str
    support: str


PLAN_FACTS: dict[str, PlanFacts] = {
    "Free": PlanFacts(
        price="The Free plan costs $0.",
        users="The Free plan allows up to 3 users and up to 2 projects per workspace.",
        storage="The Free plan includes 1 GB of file storage per workspace.",
        automations="The Free plan has no automations.",
        support="Free workspaces get help from the community forum only.",
    ),
    "Starter": PlanFacts(
        price="The Starter plan costs $8 per user per month billed annually, or $10 per user per month billed monthly.",
        users="The Starter plan allows up to 15 users and unlimited projects.",
        storage="The Starter plan includes 10 GB of file storage per user.",
        automations="The Starter plan includes 250 automation runs per month.",
        support="The Starter plan includes email support with a reply within 2 business days.",
    ),
    "Pro": PlanFacts(
        price="The Pro plan costs $16 per user per month billed annually, or $20 per user per month billed monthly.",
        users="The Pro plan allows up to 100 users and unlimited projects.",
        storage="The Pro plan includes 100 GB of file storage per user.",
        automations="The Pro plan includes 5,000 automation runs per month.",
        support="The Pro plan includes priority email support with a reply within 1 business day.",
    ),
    "Enterprise": PlanFacts(
        price="Enterprise pricing is custom and starts at $30 per user per month, billed annually only, with a "
        "minimum of 50 users.",
        users="The Enterprise plan includes unlimited users, with a minimum of 50 users.",
        storage="The Enterprise plan includes unlimited file storage.",
        automations="The Enterprise plan includes unlimited automation runs.",
        support="The Enterprise plan includes a dedicated customer success manager and 24/7 phone support.",
    ),
}

PLAN_TEMPLATES: dict[str, tuple[str, ...]] = {
    "price": (
        "How much does the {plan} plan cost?",
        "What's the price of {plan}?",
        "How much is {plan} per user?",
        "What does the {plan} plan cost per month?",
        "Can you tell me the pricing for {plan}?",
    ),
    "users": ("How many users can we have on the {plan} plan?", "What's the user limit on {plan}?"),
    "storage": ("How much storage do I get on {plan}?", "What is the file storage limit on the {plan} plan?"),
    "automations": ("How many automation runs does {plan} include?", "Are automations included in {plan}?"),
    "support": ("What kind of support comes with {plan}?", "How fast does support reply on the {plan} plan?"),
}

# feature name as a customer writes it -> the plans that have it (in PLANS order)
FEATURES: dict[str, tuple[str, ...]] = {
    "the Calendar view": ("Starter", "Pro", "Enterprise"),
    "the Timeline view": ("Pro", "Enterprise"),
    "the Slack integration": PLANS,
    "the Google Drive integration": ("Starter", "Pro", "Enterprise"),
    "the GitHub integration": ("Pro", "Enterprise"),
    "guest access": ("Pro", "Enterprise"),
    "API access": ("Enterprise",),
    "single sign-on (SSO) with SAML": ("Enterprise",),
    "SCIM user provisioning": ("Enterprise",),
    "the audit log": ("Enterprise",),
    "data residency in the EU": ("Enterprise",),
    "two-factor authentication": PLANS,
    "the mobile apps": PLANS,
    "automations": ("Starter", "Pro", "Enterprise"),
}

PLURAL_FEATURES = {"the mobile apps", "automations"}

FEATURE_TEMPLATES: tuple[str, ...] = (
    "Does the {plan} plan include {feature}?",
    "Can I use {feature} on {plan}?",
    "{Be} {feature} available on the {plan} plan?",
)
WHICH_PLANS_TEMPLATE = "Which plans have {feature}?"

# (category, paraphrases of one question, the knowledge-base answer)
POLICY_FACTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "billing",
        ("Which payment methods do you accept?", "Can I pay with American Express?", "Do you take crypto?"),
        "TaskHarbor accepts Visa, Mastercard and American Express credit or debit cards. Annual plans with 20 or "
        "more users can also pay by invoice with bank transfer. TaskHarbor does not accept PayPal or cryptocurrency.",
    ),
    (
        "billing",
        ("Which currency do you bill in?", "Can I be billed in euros?"),
        "All charges are in US dollars (USD).",
    ),
    (
        "billing",
        ("What happens when I remove a user?", "Do I get money back when I remove a seat?"),
        "When you remove a user, the seat stays paid until the end of the current billing period and the lower "
        "price applies from the next renewal.",
    ),
    (
        "billing",
        ("Can I switch from monthly to annual billing?", "How do I move to yearly billing?"),
        "You can switch from monthly to annual billing at any time; the unused part of the current month is "
        "credited to the annual invoice.",
    ),
    (
        "billing",
        ("Can I switch from annual to monthly billing?", "I want to go back to monthly billing, when does that apply?"),
        "Switching from annual to monthly billing takes effect at the next annual renewal.",
    ),
    (
        "billing",
        ("Where can I download my invoices?", "How do I get a PDF invoice?"),
        "Invoices are emailed to the billing contact and can be downloaded as PDF from Settings > Billing > Invoices.",
    ),
    (
        "billing",
        ("Do you charge VAT?", "We are an EU company with a VAT ID, do we pay VAT?"),
        "VAT or sales tax is added where required by law. EU business customers who enter a valid VAT ID are not "
        "charged VAT (reverse charge).",
    ),
    (
        "billing",
        ("What happens if my card payment fails?", "My payment failed, will I lose access?"),
        "If a payment fails, TaskHarbor retries the card 3 times over 7 days and emails the billing contact each "
        "time. If all retries fail, the workspace becomes read-only until the payment succeeds.",
    ),
    (
        "cancellation",
        ("How do I cancel my subscription?", "Where is the cancel button?"),
        "The workspace owner can cancel a paid plan at any time from Settings > Billing > Cancel plan. The "
        "workspace keeps its paid features until the end of the current billing period.",
    ),
    (
        "cancellation",
        ("Can I get a refund on my annual plan?", "What's your refund policy for yearly plans?"),
        "Annual plans get a full refund if cancelled within 30 days of the purchase or of the annual renewal. "
        "After those 30 days there is no refund.",
    ),
    (
        "cancellation",
        ("Do you refund monthly plans?", "Can I get a prorated refund on a monthly subscription?"),
        "Monthly plans are not refunded, not even partially. You keep access until the end of the month you "
        "already paid for.",
    ),
    (
        "cancellation",
        ("Can I downgrade instead of cancelling?", "How do I move to a cheaper plan?"),
        "You can downgrade to a cheaper plan from Settings > Billing > Change plan. A downgrade takes effect at the "
        "end of the current billing period, and your data is kept.",
    ),
    (
        "cancellation",
        ("How do I export my data?", "Can I download all my projects before leaving?"),
        "You can export all data as CSV or JSON from Settings > Export at any time.",
    ),
    (
        "cancellation",
        ("Can a deleted workspace be restored?", "I deleted our workspace by mistake, is it gone?"),
        "Deleted data can be restored by support for 14 days; after 14 days it is permanently erased.",
    ),
    (
        "pricing",
        ("Do you offer discounts for non-profits?", "Is there an education discount?"),
        "Registered non-profit organisations and accredited schools get 50% off the Starter and Pro plans. Apply "
        "from Settings > Billing > Discounts with proof of status.",
    ),
    (
        "pricing",
        ("How much do I save by paying annually?", "Is annual billing cheaper?"),
        "Paying annually costs 20% less than paying monthly.",
    ),
    (
        "troubleshooting",
        ("I forgot my password.", "How long is the password reset link valid?"),
        'Use "Forgot password" on the login page to get a reset link by email. The reset link is valid for 1 hour.',
    ),
    (
        "troubleshooting",
        ("My account is locked after too many login attempts.", "Why can't I log in after failed attempts?"),
        "After 5 failed login attempts the account is locked for 15 minutes.",
    ),
    (
        "troubleshooting",
        ("I lost my phone with my 2FA codes.", "How do I get into my account without my authenticator?"),
        "Sign in with one of the 10 backup codes you saved when you turned 2FA on. Without a backup code, ask your "
        "workspace owner to reset 2FA for your account from Settings > Members.",
    ),
    (
        "troubleshooting",
        ("TaskHarbor messages stopped showing up in Slack.", "How do I fix the Slack integration?"),
        "Reconnect the integration from Settings > Integrations > Slack. A Slack admin must approve the app again if "
        "it was removed from your Slack workspace.",
    ),
    (
        "troubleshooting",
        ("The mobile app is not syncing.", "My iPhone app doesn't show new tasks."),
        "The mobile apps need version 4.2 or later. Update the app, pull down on the task list to refresh, and if "
        "it still does not sync, sign out and sign in again.",
    ),
    (
        "troubleshooting",
        ("What is the maximum file size for uploads?", "Why does my 300 MB upload fail?"),
        "The maximum size of one file is 250 MB on paid plans and 25 MB on the Free plan.",
    ),
    (
        "troubleshooting",
        ("Which browsers do you support?", "Does TaskHarbor work in Safari?"),
        "TaskHarbor supports the latest two versions of Chrome, Firefox, Safari and Edge.",
    ),
    (
        "troubleshooting",
        ("Is TaskHarbor down right now?", "Where can I see planned maintenance?"),
        "Check status.taskharbor.example for incidents and planned maintenance.",
    ),
)


def join_plans(plans: tuple[str, ...]) -> str:
    return plans[0] if len(plans) == 1 else ", ".join(plans[:-1]) + " and " + plans[-1]


def feature_fact(feature: str, plans: tuple[str, ...]) -> str:
    where = "every plan" if plans == PLANS else f"the {join_plans(plans)} plan" + ("s" if len(plans) > 1 else "")
    subject = feature[0].upper() + feature[1:]
    only = " only" if plans != PLANS else ""
    return f"{subject} {'are' if feature in PLURAL_FEATURES else 'is'} available on {where}{only}."


@dataclass(frozen=True)
class Query:
    category: str
    template: str
    input: str
    reference: str
    answer: str


def distribution_pool() -> list[Query]:
    """Every (template, fact) combination, in a fixed order; the generator samples from it."""
    pool: list[Query] = []
    for plan in PLANS:
        facts = PLAN_FACTS[plan]
        for kind, templates in PLAN_TEMPLATES.items():
            fact = getattr(facts, kind)
            for t in templates:
                pool.append(Query("pricing", f"plan_{kind}", t.format(plan=plan), fact, fact))
    for feature, plans in FEATURES.items():
        fact = feature_fact(feature, plans)
        be = "Are" if feature in PLURAL_FEATURES else "Is"
        for plan in PLANS:
            # The answer states the fact rather than repeating the asked plan ("No. The audit log is available on
            # the Enterprise plan only."), so every specific in it comes from the knowledge base.
            answer = f"{'Yes' if plan in plans else 'No'}. {fact}"
            for t in FEATURE_TEMPLATES:
                question = t.format(plan=plan, feature=feature, Be=be)
                pool.append(Query("features", "feature_on_plan", question, answer, answer))
        pool.append(Query("features", "which_plans", WHICH_PLANS_TEMPLATE.format(feature=feature), fact, fact))
    for category, questions, fact in POLICY_FACTS:
        for q in questions:
            pool.append(Query(category, "policy", q, fact, fact))
    return pool


# ------------------------------------------------------------------------------------------- samples


def _sample(
    assistant: ModuleType, sid: str, partition: str, query: str, reference: str, tags: list[str], meta: dict[str, Any]
) -> Sample:
    hits = assistant.search(query)
    return Sample.model_validate(
        {
            "id": sid,
            "partition": partition,
            "input": query,
            "reference": reference,
            "context": [p.text for p, _ in hits],
            "tags": tags,
            "metadata": {**meta, "retrieved": [p.id for p, _ in hits]},
        }
    )


def hand_written(assistant: ModuleType, path: Path) -> list[tuple[Sample, Output]]:
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(cases, list):
        raise ValueError(f"{path}: expected a list of cases, got {type(cases).__name__}")
    out: list[tuple[Sample, Output]] = []
    for i, case in enumerate(cases):
        missing = [k for k in ("id", "partition", "category", "input", "reference", "answer") if k not in case]
        if missing:
            raise ValueError(f"{path}: case #{i} ({case.get('id', '?')}): missing field(s) {', '.join(missing)}")
        meta: dict[str, Any] = {"category": case["category"], "expected_source": case.get("source")}
        if case.get("note"):
            meta["note"] = case["note"]
        tags = [case["category"], *case.get("tags", [])]
        sample = _sample(assistant, case["id"], case["partition"], case["input"], case["reference"], tags, meta)
        out.append((sample, Output(text=str(case["answer"]).strip())))
    return out


def distribution(assistant: ModuleType, seed: int, n: int) -> list[tuple[Sample, Output]]:
    pool = distribution_pool()
    if n > len(pool):
        raise ValueError(f"--n {n} is larger than the {len(pool)} distinct generated queries")
    picked = random.Random(seed).sample(pool, n)
    openers = ("", "Hi! ", "Thanks for your question. ", "Happy to help. ")
    rng = random.Random(seed + 1)
    out: list[tuple[Sample, Output]] = []
    for i, q in enumerate(picked, 1):
        meta = {"category": q.category, "expected_source": q.category, "template": q.template}
        sample = _sample(assistant, f"dist-{i:04d}", "distribution", q.input, q.reference, [q.category], meta)
        out.append((sample, Output(text=rng.choice(openers) + q.answer + CLOSING)))
    return out


def build(seed: int = SEED, n: int = N_DISTRIBUTION) -> list[tuple[Sample, Output]]:
    assistant = load_assistant()
    items = hand_written(assistant, HERE / "cases.yaml") + distribution(assistant, seed, n)
    ids = [s.id for s, _ in items]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"duplicate sample ids: {', '.join(dupes)}")
    return items


def write(items: list[tuple[Sample, Output]], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    dataset, recorded = out_dir / "dataset.jsonl", out_dir / "recorded.jsonl"
    with dataset.open("w", encoding="utf-8") as f:
        for sample, _ in items:
            f.write(json.dumps(sample.model_dump(mode="json"), ensure_ascii=False) + "\n")
    with recorded.open("w", encoding="utf-8") as f:
        for sample, output in items:
            row = {"id": sample.id, "output": output.model_dump(mode="json", exclude_defaults=True)}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return dataset, recorded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out-dir", type=Path, default=HERE)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--n", type=int, default=N_DISTRIBUTION, help="number of distribution queries")
    args = parser.parse_args(argv)
    dataset, recorded = write(build(args.seed, args.n), args.out_dir)
    print(f"wrote {dataset} and {recorded}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
