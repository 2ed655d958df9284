"""Calibration of judges against human labels: `evalwheel calibrate pairwise|faithfulness`.

`calibrate_pairwise` (LLMBar pairs), `calibrate_faithfulness` (FaithBench items) and the generic
`calibrate_threshold` (tune a pass threshold on a seeded dev part, report it on the held-out part).
"""

from evalwheel.calibration.llmbar import LLMBarFormatError, LLMBarPair, load_llmbar
from evalwheel.calibration.runner import (
    FaithfulnessCalibration,
    PairwiseCalibration,
    ThresholdCalibration,
    calibrate_faithfulness,
    calibrate_pairwise,
    calibrate_threshold,
)

__all__ = [
    "FaithfulnessCalibration",
    "LLMBarFormatError",
    "LLMBarPair",
    "PairwiseCalibration",
    "ThresholdCalibration",
    "calibrate_faithfulness",
    "calibrate_pairwise",
    "calibrate_threshold",
    "load_llmbar",
]
