"""Fibre-threshold model against independent MRG thresholds and dorsal-column anatomy."""

from __future__ import annotations

import numpy as np
import pytest

from phantomlab.therapies import fibres as fb
from phantomlab.therapies.scs import SCSTherapy, dorsal_column_recruitment


@pytest.mark.parametrize(("diam_um", "mrg_mA"), [(5.7, 0.3058), (16.0, 0.1512)])
def test_thresholds_match_mrg_within_factor(diam_um: float, mrg_mA: float) -> None:
    """MRG thresholds of pyfibers 0.13 + NEURON (fields.md §6.4): point source 1 mm away,
    0.3 S/m, 0.1 ms pulse: 5.7 µm 0.3058 mA, 16 µm 0.1512 mA (10 µm used to calibrate)."""
    th = float(fb.threshold_current(diam_um * 1e-6, 1e-3, 0.1e-3, 0.3)) * 1e3
    assert mrg_mA / 1.5 < th < mrg_mA * 1.5


def test_larger_fibres_recruit_first_and_strength_duration() -> None:
    d = np.array([4e-6, 8e-6, 12e-6, 16e-6])
    th = fb.threshold_current(d, 2e-3, 300e-6, 1.654)
    assert np.all(np.diff(th) < 0)
    assert fb.threshold_current(10e-6, 2e-3, 60e-6, 1.654) > fb.threshold_current(
        10e-6, 2e-3, 500e-6, 1.654
    )
    assert fb.threshold_current(10e-6, 3e-3, 300e-6, 1.654) > fb.threshold_current(
        10e-6, 2e-3, 300e-6, 1.654
    )


def test_scs_perception_thresholds_in_clinical_range() -> None:
    """Clinical SCS amplitudes span 0.5-5 mA (Anesthesiology 122:1362, fields.md §3.1)."""
    th = SCSTherapy()
    st = th.prepare(th.reference_protocol(), 400, rng=0)
    pt = th.perception_threshold(st.draws["distance"], 300e-6) * 1e3
    assert 0.5 < np.median(pt) < 5.0
    assert np.mean((pt > 0.3) & (pt < 8.0)) > 0.8  # 15% tail above 8 mA (dCSF prior)


def test_scs_activation_depth_is_superficial() -> None:
    """Feirabend 2002: the largest Aβ fibres are activated to a depth of about 0.25 mm.

    At the programmed amplitude of the median patient, a 10.7 µm fibre is excited no
    deeper than the same order of magnitude (0.05-1 mm below the DC surface).
    """
    th = SCSTherapy()
    d0 = th.p("dcsf_median")
    amp = th.p("programming_factor") * float(th.perception_threshold(np.array([d0]), 300e-6)[0])
    depths = np.linspace(0, 2e-3, 401)
    ok = fb.threshold_current(10.7e-6, d0 + depths, 300e-6, th.p("sigma_csf")) <= amp
    deepest = depths[ok].max()
    assert 0.05e-3 < deepest < 1.0e-3
    rec = dorsal_column_recruitment(th, amp, np.array([d0]), 300e-6)
    assert 0.0 < rec[0] < 0.2  # only a small share of the superficial layer
