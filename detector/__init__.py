"""Detector: Isolation Forest node-fault detection with hysteresis and localization.

``NodeDetector`` (``detector.model``) is the estimator; ``detect_frame``
(``detector.batch``) runs its online logic over a whole long-format frame.
"""

from detector.batch import BatchResult, detect_frame
from detector.frame import DetectorInputError
from detector.model import NodeDetector, NotFittedError
from detector.types import Anomaly, FleetAnomaly, StepResult

__all__ = [
    "Anomaly",
    "BatchResult",
    "DetectorInputError",
    "FleetAnomaly",
    "NodeDetector",
    "NotFittedError",
    "StepResult",
    "detect_frame",
]
