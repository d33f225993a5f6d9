"""The stored calibration: versioned JSON in ``cohorts/data``, read by trials and the demo.

The file is made by :func:`phantomlab.trials.calibration.calibrate` (offline,
``phantomlab trial calibrate``, which writes to the user data folder or ``--out``, never
into the installed package: :func:`write_calibration`) and holds the fitted therapy parameters
(``"module.name"`` keys), the fitted cohort values, the method, seed, date,
a SHA-256 of the evidence data it was fitted to, and the per-arm calibration
and leave-one-study-out results.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from phantomlab._io import atomic_write, user_data_dir
from phantomlab._yaml import load_file
from phantomlab.cohorts.spec import CohortSpec, default_cohort_spec
from phantomlab.exceptions import InputError, Problem

__all__ = [
    "CALIBRATION_VERSION",
    "calibrated_cohort_spec",
    "calibrated_params",
    "calibration_path",
    "default_calibration_output",
    "load_calibration",
    "write_calibration",
]

#: Cohort keys of older calibration files that the cohort spec no longer has.
_RETIRED = ("enrol_min_nrs", "enrol_max_nrs")

#: Version of the calibration shipped with the package.
CALIBRATION_VERSION = "v1"


def calibration_path(version: str = CALIBRATION_VERSION) -> Path:
    """Path of the packaged calibration file of ``version``."""
    return Path(str(resources.files("phantomlab.cohorts") / "data" / f"calibration_{version}.json"))


def default_calibration_output() -> Path:
    """Where ``phantomlab trial calibrate`` writes without ``--out``: the user data folder.

    ``<user data folder>/calibration_<version>.json`` (the folder is
    ``$PHANTOMLAB_DATA_DIR`` or the platform's, see :func:`phantomlab._io.user_data_dir`;
    created if missing). Never the installed package.

    Returns
    -------
    Path
        The file path.
    """
    return user_data_dir(create=True) / calibration_path().name


def write_calibration(
    record: Mapping[str, Any], path: str | Path | None = None, *, overwrite: bool = False
) -> Path:
    """Write a calibration record as JSON, atomically; never into the installed package.

    The packaged calibration stays the default of every loader
    (:func:`load_calibration`); a calibration you make is used only
    where you pass its path (``calibration_report(path)``, ``calibrated_params(path)``,
    ``phantomlab trial calibration --file``).

    Parameters
    ----------
    record : mapping
        From :func:`phantomlab.trials.calibration.calibrate`.
    path : str or Path, optional
        Target file (default: :func:`default_calibration_output`).
    overwrite : bool
        Replace an existing file (otherwise ``InputError``, the file is kept).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputError
        If the file exists and ``overwrite`` is false, or the path is the packaged
        calibration.
    """
    p = Path(path) if path is not None else default_calibration_output()
    if p.resolve() == calibration_path().resolve():
        raise InputError(
            Problem(
                "out",
                str(p),
                "a file outside the installed package",
                "",
                "the packaged calibration is never rewritten; write yours elsewhere and "
                "pass its path",
            )
        )
    return atomic_write(
        p, json.dumps(record, indent=1, sort_keys=False) + "\n", overwrite=overwrite, field="out"
    )


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
    data = load_file(p, field="calibration")
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
