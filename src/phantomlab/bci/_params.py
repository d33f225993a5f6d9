"""Provenance records of the BCI simulation parameters (internal).

Each number the sensor simulation or the closed loop uses is a :class:`BCIParam`
with its value, unit and kind: ``source`` (with a citation), ``calibrated``
(with the data it was tuned to) or ``assumed`` (with the reason). ``docs/bci.md``
lists them; :func:`param_table` returns them as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["PARAMS", "BCIParam", "param_table"]


@dataclass(frozen=True)
class BCIParam:
    """One parameter with its provenance.

    Attributes
    ----------
    name : str
        Parameter name.
    value : float
        Value in ``unit``.
    unit : str
        Unit of ``value``.
    kind : {"source", "calibrated", "assumed"}
        Provenance kind.
    note : str
        Citation (source), fitted data (calibrated) or reason (assumed).
    """

    name: str
    value: float
    unit: str
    kind: str
    note: str


#: Every BCI parameter by name.
PARAMS: dict[str, BCIParam] = {}


def _p(name: str, value: float, unit: str, kind: str, note: str) -> float:
    PARAMS[name] = BCIParam(name, float(value), unit, kind, note)
    return float(value)


def param_table() -> Any:
    """Return every BCI parameter with its provenance.

    Returns
    -------
    pandas.DataFrame
        Columns ``name, value, unit, kind, note``.
    """
    import pandas as pd

    return pd.DataFrame([p.__dict__ for p in PARAMS.values()])


# --- head and sources ---------------------------------------------------------------------
CORTEX_DEPTH = _p(
    "cortex_radius_fraction", 0.75, "1", "assumed",
    "sources lie at 75% of the fitted scalp-sphere radius (about 2.4 cm below the scalp "
    "for a 95 mm head), the usual depth of the central region in a sphere head",
)  # fmt: skip
HAND_ANGLE = _p(
    "hand_zone_polar_offset", 0.0, "deg", "assumed",
    "offset of the hand-zone centroid from the polar angle of C3/C4: 0 puts it under the "
    "electrode, the convention of sensorimotor mu recordings",
)  # fmt: skip
MIN_POLAR = _p(
    "min_polar_angle", 6.0, "deg", "assumed",
    "medial (arm) units beyond the vertex are clipped 6 deg from the midline so that no "
    "source crosses into the other hemisphere",
)  # fmt: skip
MAX_POLAR = _p(
    "max_polar_angle", 100.0, "deg", "assumed",
    "lateral (lip/face) units are clipped at 100 deg from the vertex, the level of the "
    "Sylvian fissure in a sphere head centred above the ears",
)  # fmt: skip
RADIAL_MIX = _p(
    "radial_fraction", 0.5, "1", "assumed",
    "dipole orientation: equal mix of radial (crown of the postcentral gyrus) and "
    "anterior-posterior tangential (area 3b in the posterior bank of the central sulcus)",
)  # fmt: skip
N_BACKGROUND = int(
    _p(
        "n_background_sources", 120, "sources", "assumed",
        "random dipoles in the brain sphere carrying the 1/f background; enough to give "
        "spatially correlated, full-rank sensor noise",
    )
)  # fmt: skip

# --- signals -------------------------------------------------------------------------------
MU_FREQ = _p(
    "mu_frequency", 10.5, "Hz", "assumed",
    "sensorimotor mu peak in the alpha band (8-13 Hz), the band MI decoders filter",
)  # fmt: skip
MU_WIDTH = _p("mu_bandwidth", 1.5, "Hz", "assumed", "Gaussian spectral width of the mu rhythm")
BETA_FREQ = _p("beta_frequency", 21.0, "Hz", "assumed", "sensorimotor beta peak (13-30 Hz)")
BETA_REL = _p(
    "beta_relative_amplitude", 0.5, "1", "assumed", "beta amplitude relative to mu"
)  # fmt: skip
MU_MOMENT = _p(
    "mu_source_moment", 8e-9, "A*m", "assumed",
    "RMS dipole moment of the rhythm of one cortical unit (about 6 mm of strip); gives "
    "sensorimotor rhythms of a few microvolts at C3/C4",
)  # fmt: skip
BG_MOMENT = _p(
    "background_source_moment", 12e-9, "A*m", "assumed",
    "RMS moment of each 1/f background source; background of the order of 10 uV RMS",
)  # fmt: skip
BG_EXPONENT = _p(
    "background_exponent", 1.0, "1", "assumed",
    "power spectral density of the background ~ 1/f^1 (the 1/f of resting EEG)",
)  # fmt: skip
SENSOR_NOISE = _p(
    "sensor_noise", 2e-6, "V", "assumed", "white electrode/amplifier noise, RMS per channel"
)  # fmt: skip
MEG_NOISE = _p(
    "meg_sensor_noise", 2e-14, "T", "assumed",
    "white magnetometer noise RMS in the simulated band (order of a few fT/sqrt(Hz) "
    "over ~80 Hz); not read from a system specification",
)  # fmt: skip
ERD_MAX = _p(
    "erd_max", 0.5, "1", "assumed",
    "fraction of the sensorimotor rhythm amplitude suppressed (ERD) in a unit at the "
    "reference activity of an intact hand moving; capped at 0.9",
)  # fmt: skip
TRIAL_SD = _p(
    "erd_trial_sd", 0.35, "1", "assumed",
    "log-normal SD of the ERD depth across trials (trial-to-trial variability)",
)  # fmt: skip
AMP_TRIAL_SD = _p(
    "rhythm_trial_sd", 0.2, "1", "assumed",
    "log-normal SD of the rhythm amplitude across trials",
)  # fmt: skip
FREQ_TRIAL_SD = _p("mu_frequency_trial_sd", 0.7, "Hz", "assumed", "mu peak jitter across trials")
IPSI = _p(
    "ipsilateral_coupling", 0.3, "1", "assumed",
    "activity of the hand zone ipsilateral to a moving hand, relative to the contralateral "
    "zone (bilateral mu ERD during unilateral movement); used for the intact decoder",
)  # fmt: skip

# --- closed loop ---------------------------------------------------------------------------
LOOP_GAIN = _p(
    "training_gain", 3.0, "1", "calibrated",
    "decoder_training lever per unit of above-chance feedback congruence (2*accuracy - 1), "
    "clipped to the lever's -1..1. Set to the size of Yanagisawa 2020 (VAS -32% at day 4, "
    "real decoder; optim_bci.md 3.1): on 40 chronic persistence patients (EEG32, CSP+LDA, "
    "intact decoder congruence 0.63) day-4 pain change was -15/-20/-24/-27% for gain "
    "1/2/3/4 (random decoder -9%); 3 is the largest gain before most levers clip. Gain 2 "
    "would reproduce the trial-calibrated therapies lever bci.strength = 0.50",
)  # fmt: skip
_CAL = (
    "trial calibration v1 (phantomlab.cohorts, calibration_v1.json, fitted to all replicable "
    "published arms incl. Malavera 2016 sham and Yanagisawa 2020); a test keeps them equal"
)
EXPECT_MEAN = _p(
    "expectation_mean", 0.3444960486212042, "1", "calibrated",
    "mean expectation (placebo) lever of a participant in a blinded training course = "
    "placebo.expectation_mean of " + _CAL,
)  # fmt: skip
EXPECT_SD = _p(
    "expectation_sd", 0.2, "1", "assumed",
    "between-patient SD of the expectation lever = therapies placebo.expectation_sd (assumed "
    "there: placebo responses vary widely)",
)  # fmt: skip
EXPECT_TAU = _p(
    "expectation_decay_tau", 54.55057100152127, "day", "calibrated",
    "expectation fades with this time constant after the last session = "
    "placebo.expectation_decay_tau of " + _CAL,
)  # fmt: skip
