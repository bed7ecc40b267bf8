"""Saving and loading a fitted ``NodeDetector``: one joblib file with a format tag.

The file holds the constructor parameters and the fitted attributes.  Parameters
added since a model was saved take the value that reproduces its old behaviour
(``LEGACY_PARAMS``), so a shipped or user model keeps scoring as it did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import joblib

from detector.frame import DetectorInputError

MODEL_FORMAT = "fleetcast-detector/1"
FITTED = (
    "metrics_",
    "offsets_",
    "forest_",
    "envelope_",
    "scales_",
    "threshold_",
    "immediate_",
    "metadata_",
)
OPTIONAL = ("node_thresholds_", "node_envelopes_")  # older models: none
LEGACY_PARAMS: dict[str, Any] = {
    "smooth_windows": (),  # models saved before multi-scale channels
    "offset_windows": None,  # ... and before trailing peer offsets (detector/offsets.py)
}

T = TypeVar("T")


REMEDY = "write one with `fleetcast train detector`"


def save(model: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {"format": MODEL_FORMAT, "params": model.get_params()}
    payload |= {key: getattr(model, key) for key in FITTED}
    payload |= {key: getattr(model, key, {}) for key in OPTIONAL}
    joblib.dump(payload, path, compress=3)
    return path


def load(cls: type[T], path: str | Path) -> T:
    try:
        payload = joblib.load(path)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - unreadable/corrupt file: say which
        # the unpickler's own words ("pop from empty list") tell a user nothing
        raise DetectorInputError(f"{path}: not a fleetcast detector model (unreadable as "
                                 f"one; {REMEDY})") from exc
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise DetectorInputError(f"{path}: not a fleetcast detector model (no "
                                 f"{MODEL_FORMAT!r} inside; {REMEDY})")
    model = cls(**(LEGACY_PARAMS | dict(payload["params"])))
    for key in FITTED:
        setattr(model, key, payload[key])
    for key in OPTIONAL:
        setattr(model, key, payload.get(key, {}))
    return model
