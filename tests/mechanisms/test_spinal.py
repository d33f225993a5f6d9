"""Dorsal horn: Crodelle & Maia 2021 firing-rate model."""

import numpy as np
import pytest

from phantomlab.mechanisms import spinal as sp


def _pulses(n_runs=2, n_pulses=8, dt=5e-4, ab_rate=1.0):
    t = np.arange(0.0, float(n_pulses), dt)
    f_c = np.ones((n_runs, t.size))
    ph = t % 1.0
    on = (ph >= 0.09) & (ph < 0.30)  # C stimulus 22 Hz for 210 ms (mechanisms.md §3.3)
    f_c[:, on] = 22.0
    f_ab = np.full((n_runs, t.size), 1.0)
    f_ab[1:] = ab_rate
    return t, f_ab, f_c


def test_windup_under_repeated_c_input():
    """Crodelle & Maia 2021 (Brain Sci 11:505; mechanisms.md §3.3): repeated C input
    produces wind-up of the projection (P) output through the slow NMDA conductance.

    Protocol: the paper's C stimulus (22 Hz for 210 ms, baseline 1 Hz) repeated once per
    second (wind-up protocols use ~1 Hz; repetition rate assumed). Tolerance: P spikes per
    pulse never decrease from pulse to pulse and pulse 8 exceeds pulse 1 by >= 10 %; the
    increase is carried by g_NMDA (larger before pulse 8 than before pulse 1).
    """
    t, f_ab, f_c = _pulses(n_runs=1)
    tr = sp.simulate(t, f_ab, f_c)
    counts = np.array([tr.spikes_in(k, k + 1)[0] for k in range(8)])
    assert np.all(np.diff(counts) >= -1e-9)
    assert counts[-1] >= 1.10 * counts[0]
    i1, i8 = np.searchsorted(t, [0.09, 7.09])
    assert tr.g_nmda[0, i8] > tr.g_nmda[0, i1]


def test_windup_ablation_no_nmda_no_windup():
    """Ablation of wind-up (issue #15): it is claimed to come from the slow NMDA
    conductance. With it off (``sensitization=0``: g_NMDA ceiling 0) pulse 8 no longer
    exceeds pulse 1 by 10 %. Measured: 7.858 -> 7.857 P spikes (8.46 -> 9.60 with NMDA)."""
    t, f_ab, f_c = _pulses(n_runs=1)
    tr = sp.simulate(t, f_ab, f_c, sensitization=0.0)
    counts = np.array([tr.spikes_in(k, k + 1)[0] for k in range(8)])
    assert counts[-1] < 1.10 * counts[0]


def test_abeta_activation_reduces_p():
    """Crodelle & Maia 2021 (gate control through the I population): Aβ activation
    (40 Hz, the paper's Aβ stimulus rate) during C input reduces P output.
    Tolerance: >= 50 % fewer P spikes over the 8 pulses."""
    t, f_ab, f_c = _pulses(n_runs=2, ab_rate=40.0)
    tr = sp.simulate(t, f_ab, f_c)
    base, gated = tr.spikes_in(0, 8)
    assert gated <= 0.5 * base


def test_abeta_gate_ablation_no_i_recruitment_no_reduction():
    """Ablation of the Aβ gate (issue #15): the reduction is claimed to come from Aβ
    recruiting the inhibitory I population. With that input off (``gate=False``) 40 Hz Aβ
    no longer halves P output (its direct excitation of P remains). Measured: 74.9 -> 285.4
    P spikes over 8 pulses (74.7 -> 0.07 with the gate)."""
    t, f_ab, f_c = _pulses(n_runs=2, ab_rate=40.0)
    tr = sp.simulate(t, f_ab, f_c, gate=False)
    base, gated = tr.spikes_in(0, 8)
    assert gated > 0.5 * base


def test_abeta_alone_at_low_rate_is_excitatory_not_inhibitory():
    """At baseline rates I is below threshold, so the direct Aβ->P weight dominates:
    the gate closes only when Aβ recruits I (structure of the published equations)."""
    p_lo, _ = sp.steady_state(np.array([1.0, 3.0]), np.array([15.0, 15.0]))
    assert p_lo[1] >= p_lo[0]
    p_hi, _ = sp.steady_state(np.array([1.0, 40.0]), np.array([15.0, 15.0]))
    assert p_hi[1] < p_hi[0]


@pytest.mark.parametrize("f_c", [1.0, 10.0, 16.0, 30.0])
def test_steady_state_matches_time_integration(f_c):
    """Second method: the fixed-point solver used by the daily model equals the
    long-time limit of the ODE integration (5 s, all time constants <= 1 s).
    Tolerance 0.5 Hz."""
    dt = 5e-4
    t = np.arange(0.0, 5.0, dt)
    tr = sp.simulate(t, np.ones((1, t.size)), np.full((1, t.size), f_c))
    p, g = sp.steady_state(np.array([1.0]), np.array([f_c]))
    assert p[0] == pytest.approx(tr.f_p[0, -1], abs=0.5)
    assert g[0] == pytest.approx(tr.g_nmda[0, -1], abs=0.05)


def test_descending_inhibition_lowers_p():
    """Descending inhibition (PhantomLab addition, assumed) lowers P monotonically."""
    d = np.array([0.0, 5.0, 10.0])
    p, _ = sp.steady_state(np.ones(3), np.full(3, 18.0), descending=d)
    assert np.all(np.diff(p) < 0)
