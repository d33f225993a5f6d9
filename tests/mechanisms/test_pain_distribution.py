"""Cross-sectional PLP intensity among chronic amputees (issue #15; in silico).

Survey references (independent of the trial baselines that the cohort acceptance check
uses):

* Ephraim et al. 2005, Arch Phys Med Rehabil 86:1910 (telephone survey, 914 amputees):
  mean phantom-pain intensity 5.5 on a 1-10 scale among those with phantom pain (value
  read on the Amputee Coalition's summary of the survey,
  amputee-coalition.org/people-speak-out/what-you-said-about-pain.html; the abstract,
  seen, says only that a large proportion rated phantom pain severe, 7-10). The parameter
  ``patient.cortical_gain_saturation`` is *calibrated* to this mean on this cohort, so
  the mean check is a calibration check, not a validation.
* Corbett et al. 2018, NIHR HTA (via the INAHTA record, shared/research/evidence.md):
  severe chronic PLP in about 30-40 % of the chronic PLP population. Not tuned to; the
  cut-off for "severe" was not seen, here NRS >= 7 as in Ephraim.

The mechanism: under the reorganization hypothesis the cortical amplification of pain
grows with the lip shift, and the lip map keeps drifting for years. With a linear gain
(ablation ``cortical_saturation``) chronic pain is multiplied about 5-fold and runs into
the saturating readout: the distribution among patients with PLP piles up at 9-10
(bimodal). With the saturating gain it does not.
"""

from functools import cache

import numpy as np
import pytest

from phantomlab.mechanisms.patient import Cohort

N = 500
DAYS = 1095  # three years after amputation, a typical survey respondent's chronic state
SURVEY_MEAN = 5.5  # Ephraim 2005 (Amputee Coalition summary), 1-10 scale
SEVERE_SHARE = (0.30, 0.40)  # Corbett 2018 HTA (INAHTA record)


@cache
def _plp_intensity(ablate: tuple[str, ...]) -> np.ndarray:
    c = Cohort(N, rng=7, ectopia_gain=0.9, ablate=ablate)
    m = c.run(DAYS).mean_nrs(28)
    return m[m >= 1.0]


def _top_to_middle(x: np.ndarray) -> float:
    """Patients in the top NRS bin [9, 10] over the mean count of one bin in [4, 8)."""
    top = np.count_nonzero(x >= 9.0)
    middle = np.count_nonzero((x >= 4.0) & (x < 8.0)) / 4.0
    return top / max(middle, 1.0)


def test_plp_intensity_matches_survey():
    """Mean intensity among patients with PLP 5.5 +- 0.5 (calibrated), share severe (>= 7)
    inside Corbett's 30-40 % widened by 0.05 (not tuned), and no pile-up at 9-10: the top
    bin holds at most twice a middle bin's count (measured: mean 5.47, SD 2.86, severe
    0.37, ratio about 1.5)."""
    x = _plp_intensity(())
    assert x.size > 150
    assert abs(x.mean() - SURVEY_MEAN) <= 0.5
    severe = np.mean(x >= 7.0)
    assert SEVERE_SHARE[0] - 0.05 <= severe <= SEVERE_SHARE[1] + 0.05
    assert _top_to_middle(x) <= 2.0


@pytest.mark.parametrize("check", ["bimodal", "severe"])
def test_plp_intensity_ablation_linear_cortical_gain(check):
    """Ablation: with the cortical amplification linear in the lip shift again, patients
    with PLP pile up at 9-10 (top bin > 3x a middle bin; measured about 4.5) and the share
    severe leaves the survey range (measured 0.49)."""
    x = _plp_intensity(("cortical_saturation",))
    if check == "bimodal":
        assert _top_to_middle(x) > 3.0
    else:
        assert np.mean(x >= 7.0) > SEVERE_SHARE[1] + 0.05
