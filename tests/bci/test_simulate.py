"""Simulated EEG epochs: structure, reproducibility, ERD where expected, 1/f background."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from phantomlab.bci.activity import TaskActivity, healthy_activity
from phantomlab.bci.simulate import SignalModel, simulate_epochs
from phantomlab.exceptions import InputError


def test_epochs_structure_and_reproducible(chronic_activity: TaskActivity) -> None:
    """Balanced classes, volts of EEG size, same seed -> same bits."""
    ep = simulate_epochs(chronic_activity, ("rest", "phantom"), 12, rng=3)
    assert len(ep) == 24 and set(ep.event_id) == {"rest", "phantom"}
    assert len(ep["phantom"]) == 12 and list(ep.metadata.columns) == ["task", "erd_scale"]
    x = ep.get_data()
    assert 1e-6 < x.std() < 1e-4  # microvolts to tens of microvolts
    again = simulate_epochs(chronic_activity, ("rest", "phantom"), 12, rng=3).get_data()
    assert np.array_equal(x, again)
    other = simulate_epochs(chronic_activity, ("rest", "phantom"), 12, rng=4).get_data()
    assert not np.array_equal(x, other)


def test_erd_contralateral_to_the_moving_hand() -> None:
    """Left-hand movement suppresses 8-13 Hz power over the right centro-parietal
    channels (C4, CP4, CP6) more than over the left ones (C3, CP3, CP5)."""
    ep = simulate_epochs(healthy_activity(), ("rest", "left_hand"), 60, rng=1)
    ep.filter(8.0, 13.0, method="iir", verbose=False)
    post = ep.copy().crop(0.5, 2.5)

    def power(task: str, chans: list[str]) -> float:
        return float((post[task].get_data(picks=chans) ** 2).mean())

    right, left = ["C4", "CP4", "CP6"], ["C3", "CP3", "CP5"]
    erd_r = 1 - power("left_hand", right) / power("rest", right)
    erd_l = 1 - power("left_hand", left) / power("rest", left)
    assert erd_r > 0.2
    assert erd_r > erd_l


def test_background_is_one_over_f(chronic_activity: TaskActivity) -> None:
    """With rhythms and sensor noise off, the sensor PSD falls as 1/f (log-log slope -1)."""
    sig = SignalModel(mu_moment=0.0, sensor_noise=0.0)
    ep = simulate_epochs(chronic_activity, ("rest", "phantom"), 20, signal=sig, rng=2)
    f, p = welch(ep.get_data(), fs=ep.info["sfreq"], nperseg=160, axis=-1)
    sel = (f >= 2) & (f <= 40)
    slope = np.polyfit(np.log(f[sel]), np.log(p.mean(axis=(0, 1))[sel]), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.15)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"tasks": ("rest",)}, "tasks"),
        ({"tasks": ("rest", "tail")}, "tasks"),
        ({"n_epochs": 2}, "n_epochs"),
        ({"channels": "meg"}, "channels"),
        ({"signal": SignalModel(erd_max=2.0)}, "signal.erd_max"),
    ],
)
def test_bad_input(chronic_activity: TaskActivity, kw: dict, field: str) -> None:
    """Bad arguments give one clear error naming the field."""
    args = {"tasks": ("rest", "phantom"), "n_epochs": 10, **kw}
    with pytest.raises(InputError) as exc:
        simulate_epochs(chronic_activity, **args)
    assert any(p.field == field for p in exc.value.problems)
