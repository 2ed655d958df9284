"""Calibration of graders against human labels: `evalwheel calibrate GRADER|similarity|pairwise|faithfulness`.

`calibrate_grader` (any registered grader on a labels JSONL file), `calibrate_pairwise` (LLMBar pairs),
`calibrate_faithfulness` (FaithBench items) and the shared `calibrate_threshold` (tune a pass threshold on a
seeded dev part, report it on the held-out part). `--out` writes a `CalibrationRecord`; `check_min_agreement`
decides from one whether a grader may gate CI.

Re-exports are lazy (evalwheel.lazy_exports): a report that prints a verdict's agreement reads
`calibration.shipped` and must not pay for numpy and the LLM-judge runners it never uses.
"""

from typing import TYPE_CHECKING

from evalwheel.lazy_exports import lazy_exports

_EXPORTS = {
    "GraderCalibration": "evalwheel.calibration.generic",
    "GraderSetupError": "evalwheel.calibration.generic",
    "calibrate_grader": "evalwheel.calibration.generic",
    "roc_auc": "evalwheel.calibration.generic",
    "LabelledItem": "evalwheel.calibration.labels",
    "LabelsFormatError": "evalwheel.calibration.labels",
    "load_labels": "evalwheel.calibration.labels",
    "LLMBarFormatError": "evalwheel.calibration.llmbar",
    "LLMBarPair": "evalwheel.calibration.llmbar",
    "load_llmbar": "evalwheel.calibration.llmbar",
    "CalibrationRecord": "evalwheel.calibration.record",
    "CalibrationRecordError": "evalwheel.calibration.record",
    "check_min_agreement": "evalwheel.calibration.record",
    "load_calibration_record": "evalwheel.calibration.record",
    "write_record": "evalwheel.calibration.record",
    "FaithfulnessCalibration": "evalwheel.calibration.runner",
    "PairwiseCalibration": "evalwheel.calibration.runner",
    "ThresholdCalibration": "evalwheel.calibration.runner",
    "calibrate_faithfulness": "evalwheel.calibration.runner",
    "calibrate_pairwise": "evalwheel.calibration.runner",
    "calibrate_threshold": "evalwheel.calibration.runner",
}

if TYPE_CHECKING:
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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

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
