"""A modality added from outside the package works through the whole public API.

The toy modality (``toy.py``: one protocol class, one therapy class; ``data/``:
protocol and trial files) is checked, dosed, reported, simulated as a course and a
dose-response curve, run as a trial arm against its sham, and searched by the
optimizer, with no change to any file of ``src/``.
"""

from __future__ import annotations

import numpy as np
import pytest

from phantomlab.cohorts import default_cohort_spec
from phantomlab.exceptions import ProtocolError
from phantomlab.optimize import default_space, known_modalities
from phantomlab.protocols import (
    MODALITIES,
    check_protocol,
    load_protocol,
    modality_keys,
    modality_label,
    parameter_bounds,
    protocol_schema,
    reporting_checklist,
    safety_table,
)
from phantomlab.therapies import THERAPIES, dose_response, sham_of, simulate_course
from phantomlab.trials.replicate import replicate
from phantomlab.trials.specs import load_trial_spec

from .toy import DATA, KEY, VibrotactileTherapy


@pytest.fixture
def protocol(toy):
    return load_protocol(DATA / "vibrotactile.yaml")


def test_registration_is_scoped_to_the_fixture(toy) -> None:
    assert KEY in modality_keys() and KEY in THERAPIES
    assert modality_label(KEY) == "vibrotactile stimulation"
    # new modalities come after the built-in ones, before combination and sham
    assert list(MODALITIES)[-3:] == [KEY, "combination", "sham"]
    assert "vibrotactile" in str(protocol_schema(KEY)["properties"]["modality"])


def test_not_registered_outside_the_fixture() -> None:
    assert KEY not in MODALITIES and KEY not in THERAPIES
    with pytest.raises(ProtocolError, match="unknown modality"):
        load_protocol({"modality": KEY, "amplitude": "200 um"})


def test_therapy_needs_a_registered_protocol() -> None:
    from phantomlab.therapies import register_therapy

    with pytest.raises(ValueError, match="no protocol class is registered"):
        register_therapy(KEY)(VibrotactileTherapy)


def test_load_validate_and_check(protocol) -> None:
    assert protocol.amplitude == pytest.approx(400e-6)
    report = protocol.check()
    assert report.valid, report.summary()
    # a bad unit names the field
    with pytest.raises(ProtocolError) as err:
        load_protocol({"modality": KEY, "amplitude": "2 mA"})
    assert err.value.problems[0].field.endswith("amplitude")


def test_unsafe_protocol_is_refused_with_field_and_limit(protocol) -> None:
    unsafe = protocol.replace(amplitude="2 mm")
    report = check_protocol(unsafe)
    assert not report.valid
    (p,) = report.errors
    assert p.field == "vibrotactile.amplitude"
    assert p.limit == "<= 1000 um"
    assert p.source.startswith("assumed:")
    assert "vibrotactile_amplitude_assumed" in p.message
    with pytest.raises(ProtocolError, match="vibrotactile.amplitude"):
        report.raise_if_invalid()
    # the declared limit joins the safety table and the parameter bounds
    table = safety_table()
    assert "vibrotactile_amplitude_assumed" in set(table["id"])
    assert parameter_bounds(KEY)["amplitude"].safe_high == pytest.approx(1e-3)
    # a missing required field is an error too
    missing = check_protocol(unsafe.replace(amplitude=None, frequency=None))
    assert {e.field for e in missing.errors} == {
        "vibrotactile.amplitude",
        "vibrotactile.frequency",
    }


def test_dose(protocol) -> None:
    d = protocol.dose()
    assert d.session_duration_s == pytest.approx(1200.0)
    assert d.pulses_per_session == pytest.approx(100.0 * 1200.0)
    assert d.sessions == 10
    assert d.cumulative_pulses == pytest.approx(10 * 120000.0)
    assert d.cumulative_duration_s == pytest.approx(12000.0)


def test_report_items(protocol) -> None:
    items = {i.field: (i.value, i.required) for i in reporting_checklist(protocol)}
    assert items["amplitude"][1] and items["frequency"][1] and items["duration"][1]
    assert items["amplitude"][0] == "400 um"
    assert items["schedule.sessions"] == (10, False)


def test_sham_and_combination_accept_the_toy(protocol) -> None:
    sham = sham_of(protocol, method="contact applied, no vibration")
    assert sham.active() == protocol
    assert check_protocol(sham).valid
    combo = load_protocol(
        {
            "modality": "combination",
            "components": [
                {
                    "modality": KEY,
                    "amplitude": "300 um",
                    "frequency": "80 Hz",
                    "duration": "10 min",
                },  # fmt: skip
                {"modality": "mirror", "duration": "15 min"},
            ],
        }
    )
    assert combo.dose().components[0].pulses_per_session == pytest.approx(80.0 * 600.0)
    fields = [i.field for i in reporting_checklist(combo)]
    assert "components.0.amplitude" in fields
    bad = combo.model_dump(mode="json")
    bad["components"][0]["amplitude"] = "5 mm"
    report = check_protocol(load_protocol(bad))
    assert [e.field for e in report.errors] == ["combination.components.0.vibrotactile.amplitude"]


def test_therapy_course_and_curve(protocol) -> None:
    res = simulate_course(protocol, n_patients=30, days=21, rng=1, warmup_days=120)
    assert res.modality == KEY and np.isfinite(res.percent_change(20))
    curve = dose_response(
        KEY, values=[0.0, 1e-3], protocol=protocol, n_patients=30, rng=1, warmup_days=120
    )
    assert curve.param == "amplitude" and curve.unit == "um"
    assert list(curve.values_display) == pytest.approx([0.0, 1000.0])
    assert curve.pct_change[1] < curve.pct_change[0]  # more vibration, more relief


def test_trial_arm_against_sham(toy) -> None:
    spec = load_trial_spec(DATA / "trial.yaml")
    res = replicate(
        spec,
        replicates=4,
        chunk_size=4,
        seed=3,
        cohort=default_cohort_spec(),
        params={},
        pool=60,
        base_dir=DATA,
    )
    table = res.to_frame().set_index("arm")
    assert set(table.index) == {"active", "sham"}
    active, sham = (float(table.loc[a, "sim_mean"]) for a in ("active", "sham"))
    assert np.isfinite(active) and np.isfinite(sham)
    assert active < sham


def test_optimizer_space(toy) -> None:
    assert KEY in known_modalities()
    space = default_space(KEY)
    assert space.names == ["amplitude", "frequency"]
    fields = space.protocol_fields(space.safe_seed)
    assert fields["modality"] == KEY and fields["duration"] == "20 min"
    assert load_protocol(fields).check().valid
