"""Provenance records of the BCI simulation parameters (internal).

Each number the sensor simulation or the closed loop uses is a
:class:`phantomlab._params.Param` (module ``"bci"``) with its value, unit and kind:
``source`` (with a citation), ``calibrated`` (with the data it was tuned to) or
``assumed`` (with the reason). The table is ``bci/data/params.csv`` (one row per
parameter: name, value, unit, kind, source, note), read at import; ``docs/bci.md``
lists them and :func:`param_table` returns them as a table.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from phantomlab._params import PARAM_COLUMNS, Param, read_params

__all__ = ["PARAMS", "param_table"]

#: Every BCI parameter by name, in the order of ``data/params.csv``.
PARAMS: dict[str, Param] = {
    p.name: p for p in read_params(resources.files("phantomlab.bci") / "data" / "params.csv", "bci")
}


def param_table() -> Any:
    """Return every BCI parameter with its provenance.

    Returns
    -------
    pandas.DataFrame
        Columns ``name, value, unit, kind, source, note``.
    """
    import pandas as pd

    return pd.DataFrame([[getattr(p, c) for c in PARAM_COLUMNS] for p in PARAMS.values()],
                        columns=list(PARAM_COLUMNS))  # fmt: skip


def _v(name: str) -> float:
    return PARAMS[name].value


# --- head and sources ---------------------------------------------------------------------
CORTEX_DEPTH = _v("cortex_radius_fraction")
HAND_ANGLE = _v("hand_zone_polar_offset")
MIN_POLAR = _v("min_polar_angle")
MAX_POLAR = _v("max_polar_angle")
RADIAL_MIX = _v("radial_fraction")
N_BACKGROUND = int(_v("n_background_sources"))

# --- signals -------------------------------------------------------------------------------
MU_FREQ = _v("mu_frequency")
MU_WIDTH = _v("mu_bandwidth")
BETA_FREQ = _v("beta_frequency")
BETA_REL = _v("beta_relative_amplitude")
MU_MOMENT = _v("mu_source_moment")
BG_MOMENT = _v("background_source_moment")
BG_EXPONENT = _v("background_exponent")
SENSOR_NOISE = _v("sensor_noise")
MEG_NOISE = _v("meg_sensor_noise")
ERD_MAX = _v("erd_max")
TRIAL_SD = _v("erd_trial_sd")
AMP_TRIAL_SD = _v("rhythm_trial_sd")
FREQ_TRIAL_SD = _v("mu_frequency_trial_sd")
IPSI = _v("ipsilateral_coupling")

# --- closed loop ---------------------------------------------------------------------------
LOOP_GAIN = _v("training_gain")
EXPECT_MEAN = _v("expectation_mean")
EXPECT_SD = _v("expectation_sd")
EXPECT_TAU = _v("expectation_decay_tau")
