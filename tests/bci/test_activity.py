"""S1 task activity: consistency with the virtual patient's own phantom-movement read-out."""

from __future__ import annotations

import numpy as np
import pytest

from phantomlab.bci.activity import (
    HAND_POSITIONS,
    _hand_pattern,
    healthy_activity,
    patient_activity,
    strip_activity,
)
from phantomlab.exceptions import InputError
from phantomlab.mechanisms import Cohort, Levers
from phantomlab.mechanisms import cortical as cx
from phantomlab.mechanisms import spinal as sp
from phantomlab.mechanisms.provenance import value


@pytest.fixture(scope="module")
def chronic() -> Cohort:
    c = Cohort(6, "persistence", rng=11)
    c.run(120)
    return c


@pytest.mark.parametrize("lever", [0.0, 0.6, -0.6])
def test_phantom_field_matches_patient_hand_activity(chronic: Cohort, lever: float) -> None:
    """The field bci rebuilds from public mechanisms functions equals the patient's
    ``Day.hand_activity`` of an acute phantom movement (persistence re-solves it)."""
    lv = Levers(decoder_training=lever)
    day = chronic.acute(lv)
    noci = day.f_p / sp.MAX_P
    eff = value("patient.efference_input") * (1 + lever)
    pp = chronic.parameters()
    drive = eff + value("patient.nociceptive_cortical_input") * noci + pp["deafferented_input"]
    amp = np.full(chronic.n_patients, value("patient.efference_sensory_prediction"))
    u = strip_activity(chronic.weights, _hand_pattern(HAND_POSITIONS["move"], amp), drive)
    mine = pp["preserved_representation"] * u[:, cx.hand_zone() > 0].mean(axis=1)
    np.testing.assert_allclose(mine, day.hand_activity, rtol=1e-5)


def test_patient_tasks_and_sides(chronic: Cohort) -> None:
    """Phantom tasks live in the hemisphere opposite the amputated hand; rest is zero."""
    a = patient_activity(chronic, "left")
    hz = a.hand_zone_mean("phantom")
    assert np.all(hz[:, 1] > hz[:, 0])  # left phantom -> right hemisphere
    assert np.all(a.hand_zone_mean("intact")[:, 0] > 0.9)  # intact right hand -> left S1
    assert np.all(a.task("rest") == 0)
    b = patient_activity(chronic, "right")
    np.testing.assert_allclose(b.task("phantom")[:, 0], a.task("phantom")[:, 1])


def test_session_drive_changes_phantom_activity(chronic: Cohort) -> None:
    """Phantom-decoder drive raises, intact-decoder drive lowers phantom hand-zone activity."""
    lo = patient_activity(chronic, session_drive=-0.8).hand_zone_mean("phantom")[:, 1]
    mid = patient_activity(chronic).hand_zone_mean("phantom")[:, 1]
    hi = patient_activity(chronic, session_drive=0.8).hand_zone_mean("phantom")[:, 1]
    assert np.all(lo < mid) and np.all(mid < hi)


def test_scaled_and_healthy() -> None:
    """Scaling by 0 removes every hand-task activity; healthy hands are mirror images."""
    h = healthy_activity()
    np.testing.assert_allclose(h.task("left_hand")[0, 1], h.task("right_hand")[0, 0])
    z = h.scaled(0.0)
    assert np.all(z.task("left_hand") == 0) and np.all(z.task("face") == h.task("face"))
    with pytest.raises(InputError, match="hand"):
        h.scaled(-1.0)
    with pytest.raises(InputError, match="task"):
        h.task("tail")
