"""LLM judges: the rubric judge (`judge.rubric`), the order-swapped pairwise judge (`judge.pairwise`) and the
claim-level `faithfulness` grader.

Re-exports are lazy (evalwheel.lazy_exports): a run using `judge.rubric` imports judge.py alone, not the
pairwise and faithfulness graders (start-up). `graders.registry` imports each grader's module by name.
"""

from typing import TYPE_CHECKING

from evalwheel.lazy_exports import lazy_exports

if TYPE_CHECKING:
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

_EXPORTS = {
    "JudgeFailure": "evalwheel.graders.model.judge",
    "JudgeVerdict": "evalwheel.graders.model.judge",
    "Rubric": "evalwheel.graders.model.judge",
    "build_rubric_messages": "evalwheel.graders.model.judge",
    "escape_data": "evalwheel.graders.model.judge",
    "judge_with": "evalwheel.graders.model.judge",
    "output_schema": "evalwheel.graders.model.judge",
    "panel_kappa": "evalwheel.graders.model.judge",
    "rubric_judge": "evalwheel.graders.model.judge",
    "structured_call": "evalwheel.graders.model.judge",
    "LabelledPair": "evalwheel.graders.model.pairwise",
    "LengthBias": "evalwheel.graders.model.pairwise",
    "PairVerdict": "evalwheel.graders.model.pairwise",
    "build_pairwise_messages": "evalwheel.graders.model.pairwise",
    "compare_pair": "evalwheel.graders.model.pairwise",
    "length_bias": "evalwheel.graders.model.pairwise",
    "pairwise_judge": "evalwheel.graders.model.pairwise",
    "position_consistency": "evalwheel.graders.model.pairwise",
}

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
