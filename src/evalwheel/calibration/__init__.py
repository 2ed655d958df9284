"""Calibration of graders against human labels: `evalwheel calibrate GRADER|similarity|pairwise|faithfulness`.

`calibrate_grader` (any registered grader on a labels JSONL file), `calibrate_pairwise` (LLMBar pairs),
`calibrate_faithfulness` (FaithBench items) and the shared `calibrate_threshold` (tune a pass threshold on a
seeded dev part, report it on the held-out part). `--out` writes a `CalibrationRecord`; `check_min_agreement`
decides from one whether a grader may gate CI.
"""

from evalwheel.calibration.generic import GraderCalibration, GraderSetupError, calibrate_grader, roc_auc
from evalwheel.calibration.labels import LabelledItem, LabelsFormatError, load_labels
from evalwheel.calibration.llmbar import LLMBarFormatError, LLMBarPair, load_llmbar
from evalwheel.calibration.record import (
    CalibrationRecord,
    CalibrationRecordError,
    check_min_agreement,
    load_calibration_record,
    write_record,
)
from evalwheel.calibration.runner import (
    FaithfulnessCalibration,
    PairwiseCalibration,
    ThresholdCalibration,
    calibrate_faithfulness,
    calibrate_pairwise,
    calibrate_threshold,
)

__all__ = [
    "CalibrationRecord",
    "CalibrationRecordError",
    "FaithfulnessCalibration",
    "GraderCalibration",
    "GraderSetupError",
    "LLMBarFormatError",
    "LLMBarPair",
    "LabelledItem",
    "LabelsFormatError",
    "PairwiseCalibration",
    "ThresholdCalibration",
    "calibrate_faithfulness",
    "calibrate_grader",
    "calibrate_pairwise",
    "calibrate_threshold",
    "check_min_agreement",
    "load_calibration_record",
    "load_labels",
    "load_llmbar",
    "roc_auc",
    "write_record",
]
