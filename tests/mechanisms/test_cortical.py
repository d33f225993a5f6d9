"""S1 neural field (Detorakis & Rougier 2012, 1-D reduction)."""

import numpy as np
import pytest

from phantomlab.mechanisms import cortical as cx


def test_template_map_is_ordered_lip_hand_arm():
    """The intact map is somatotopic: preferred body position increases monotonically
    along the strip, lip laterally, next to the hand, arm medially."""
    pref = cx.preferred_position(cx.template_map())
    assert np.all(np.diff(pref) > 0)
    assert pref[0] < cx.LIP_RANGE[1] and pref[-1] > cx.ARM_RANGE[0]


def test_template_is_fixed_point_of_learning():
    """The constructed intact map is (close to) a fixed point of the learning rule
    under uniform skin stimulation: 300 further stimuli move preferred positions by
    < 0.03 of the body axis (Detorakis & Rougier 2012 rule)."""
    rng = np.random.default_rng(0)
    w = cx.template_map()[None].copy()
    for p in rng.uniform(0, 1, 300):
        s = cx.stimulus(np.array([p]))
        u = cx.settle(cx.field_input(w, s))
        cx.hebbian_update(w, u, s, cx.GAMMA)
    d = np.abs(cx.preferred_position(w[0]) - cx.preferred_position(cx.template_map()))
    assert d.max() < 0.03


@pytest.mark.parametrize("p", [0.15, 0.5, 0.85])
def test_field_forms_localized_bump_at_stimulus(p):
    """The settled field is a single localized bump centred on the stimulated body
    position (tolerance 0.06 of the strip; width < 1/3 of the strip)."""
    w = cx.template_map()[None]
    u = np.maximum(cx.settle(cx.field_input(w, cx.stimulus(np.array([p])))), 0)[0]
    centre = float(u @ cx.CORTEX_POS / u.sum())
    assert centre == pytest.approx(p, abs=0.06)
    assert (u > 0).sum() < cx.N_CORTEX / 3


def test_map_scaled_to_63_mm():
    """Makin & Flor 2020 (mechanisms.md §1.3): the hand area lies 63 mm medial to the
    lips; the strip is scaled so that the template's lip and hand centroids are 63 mm
    apart (tolerance 1e-9)."""
    hz = cx.hand_zone() > 0
    hand_mm = cx.CORTEX_POS[hz].mean() * cx.mm_per_unit()
    lip_mm = cx.lip_position_mm(cx.template_map()[None])[0]
    assert hand_mm - lip_mm == pytest.approx(63.0, rel=1e-6)


def test_excitability_gain_raises_activity():
    """The cortical excitability lever raises the settled activity."""
    w = cx.template_map()[None].repeat(2, 0)
    s = cx.stimulus(np.array([0.5, 0.5]))
    u = np.maximum(cx.settle(cx.field_input(w, s), np.array([1.0, 1.5], np.float32)), 0)
    assert u[1].sum() > u[0].sum()
