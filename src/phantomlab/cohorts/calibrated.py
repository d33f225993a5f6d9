"""The stored calibration: versioned JSON in ``cohorts/data``, read by trials and the demo.

The file is written by :func:`phantomlab.trials.calibration.calibrate` (offline,
``phantomlab trial calibrate``) and holds the fitted therapy parameters
(``"module.name"`` keys), the fitted cohort values, the method, seed, date,
a SHA-256 of the evidence data it was fitted to, and the per-arm calibration
and leave-one-study-out results.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from phantomlab.cohorts.spec import CohortSpec, default_cohort_spec
from phantomlab.exceptions import InputError, Problem

__all__ = [
    "CALIBRATION_VERSION",
    "calibrated_cohort_spec",
    "calibrated_params",
    "calibration_path",
    "load_calibration",
]

#: Cohort keys of older calibration files that the cohort spec no longer has.
_RETIRED = ("enrol_min_nrs", "enrol_max_nrs")

#: Version of the calibration shipped with the package.
CALIBRATION_VERSION = "v1"


def calibration_path(version: str = CALIBRATION_VERSION) -> Path:
    """Path of the packaged calibration file of ``version``."""
    return Path(str(resources.files("phantomlab.cohorts") / "data" / f"calibration_{version}.json"))


def load_calibration(path: str | Path | None = None) -> dict[str, Any]:
    """Load a calibration file (default: the packaged current version).

    Parameters
    ----------
    path : str or Path, optional
        A calibration JSON.

    Returns
    -------
    dict
        The file's content.

    Raises
    ------
    InputError
        If the file is missing or not a calibration.
    """
    p = Path(path) if path is not None else calibration_path()
    if not p.is_file():
        raise InputError(
            Problem("calibration", str(p), "an existing calibration file", "",
                    "not found; run `phantomlab trial calibrate`")
        )  # fmt: skip
    data = json.loads(p.read_text())
    if not isinstance(data, dict) or "params" not in data or "cohort" not in data:
        raise InputError(Problem("calibration", str(p), "a calibration JSON", "", "malformed"))
    return data


def calibrated_params(path: str | Path | None = None) -> dict[str, float]:
    """Return the fitted therapy parameters (``"module.name"`` -> value); {} if none."""
    try:
        return {k: float(v) for k, v in load_calibration(path)["params"].items()}
    except InputError:
        if path is not None:
            raise
        return {}


def calibrated_cohort_spec(path: str | Path | None = None) -> CohortSpec:
    """Return the default cohort spec with its calibrated values (default spec if none)."""
    spec = default_cohort_spec()
    try:
        vals = load_calibration(path)["cohort"]
    except InputError:
        if path is not None:
            raise
        return spec
    # enrolment thresholds are no longer cohort values (each trial enrols by its own criteria)
    vals = {k: v for k, v in vals.items() if k not in _RETIRED}
    return spec.with_values(**{k: float(v) for k, v in vals.items()}) if vals else spec
