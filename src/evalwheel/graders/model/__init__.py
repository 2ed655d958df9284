"""LLM judges: the rubric judge (`judge.rubric`), the order-swapped pairwise judge (`judge.pairwise`) and the
claim-level `faithfulness` grader.

Importing this package registers them.
"""

from evalwheel.graders.model import faithfulness as faithfulness
from evalwheel.graders.model.judge import (
    JudgeFailure,
    JudgeVerdict,
    Rubric,
    build_rubric_messages,
    escape_data,
    judge_with,
    output_schema,
    panel_kappa,
    rubric_judge,
    structured_call,
)
from evalwheel.graders.model.pairwise import (
    LabelledPair,
    LengthBias,
    PairVerdict,
    build_pairwise_messages,
    compare_pair,
    length_bias,
    pairwise_judge,
    position_consistency,
)

__all__ = [
    "JudgeFailure",
    "JudgeVerdict",
    "LabelledPair",
    "LengthBias",
    "PairVerdict",
    "Rubric",
    "build_pairwise_messages",
    "build_rubric_messages",
    "compare_pair",
    "escape_data",
    "judge_with",
    "length_bias",
    "output_schema",
    "pairwise_judge",
    "panel_kappa",
    "position_consistency",
    "rubric_judge",
    "structured_call",
]
