"""Psychological level: traits, slow states, gain."""

import numpy as np

from phantomlab.mechanisms import psyche as ps


def test_traits_are_standardized_and_correlated():
    t = ps.sample_traits(20000, np.random.default_rng(0))
    assert np.allclose(t.mean(0), 0, atol=0.03)
    assert np.allclose(t.std(0), 1, atol=0.03)
    c = np.corrcoef(t.T)
    assert abs(c[0, 1] - ps.TRAIT_CORR) < 0.03


def test_states_relax_to_trait_plus_pain_feedback():
    traits = np.array([[1.0, 0.0, -1.0]])
    s = np.zeros((1, 3))
    for _ in range(400):
        s = ps.step_states(s, traits, np.array([3.0]))
    assert np.allclose(s, traits, atol=1e-6)  # pain 3/10 is the neutral point
    s_hi = s.copy()
    for _ in range(400):
        s_hi = ps.step_states(s_hi, traits, np.array([10.0]))
    assert np.all(s_hi > s)  # more pain -> worse states (bidirectional, Fuchs 2018)


def test_gain_and_descending_drop_follow_catastrophizing_and_expectation():
    s = np.array([[-1.0, 0, 0], [0.0, 0, 0], [1.0, 0, 0]])
    g = ps.pain_gain(s)
    assert np.all(np.diff(g) > 0) and g[1] == 1.0
    assert np.all(np.diff(ps.descending_drop(s)) > 0)
    assert np.all(ps.pain_gain(s, expectation=1.0) < g)
