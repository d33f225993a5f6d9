"""Common contract of every therapy (scikit-learn ``test_common`` style).

Every therapy: builds from its reference protocol, gives the same bits for the
same seed, has no specific effect at zero dose, responds monotonically where
physiology says so, and rejects protocols of another modality clearly.
"""

from __future__ import annotations

import numpy as np
import pytest

from phantomlab.exceptions import InputError, ProtocolError
from phantomlab.mechanisms.patient import Levers
from phantomlab.protocols import load_protocol
from phantomlab.therapies import THERAPIES, get_therapy
from phantomlab.therapies.base import LEVER_RULES, neutral_levers

N = 16
DAYS = range(0, 45, 3)
MODALITIES = sorted(THERAPIES)


def _arrays(th, p, st):
    return [th.lever_arrays(st, d) for d in DAYS]


@pytest.mark.parametrize("modality", MODALITIES)
def test_builds_from_reference(modality: str) -> None:
    th = get_therapy(modality)
    p = th.reference_protocol()
    st = th.prepare(p, N, rng=3, start_day=10)
    for d in (0, 10, 12, 40):
        lv = th.apply(p, st, d)
        assert isinstance(lv, Levers)
        assert not lv.problems(N)
        for k in LEVER_RULES:
            assert np.shape(getattr(lv, k)) == (N,)
    # before the course nothing acts
    before = th.lever_arrays(st, 5)
    assert all(np.array_equal(v, neutral_levers(N)[k]) for k, v in before.items())


@pytest.mark.parametrize("modality", MODALITIES)
def test_same_seed_same_bits(modality: str) -> None:
    th = get_therapy(modality)
    p = th.reference_protocol()
    a = _arrays(th, p, th.prepare(p, N, rng=11))
    b = _arrays(th, p, th.prepare(p, N, rng=11))
    c = _arrays(th, p, th.prepare(p, N, rng=12))
    for x, y in zip(a, b, strict=True):
        for k in x:
            assert np.array_equal(x[k], y[k]), k
    assert any(
        not np.array_equal(x["expectation"], z["expectation"]) for x, z in zip(a, c, strict=True)
    )


@pytest.mark.parametrize("modality", MODALITIES)
def test_zero_dose_no_specific_effect(modality: str) -> None:
    th = get_therapy(modality)
    p = th.reference_protocol()
    st = th.prepare(p, N, rng=5, dose={th.curve_param: 0.0})
    for d in DAYS:
        spec = th.specific(st, d)
        neutral = neutral_levers(N)
        for k, v in spec.items():
            assert np.allclose(v, neutral[k]), (modality, k, d)


MONOTONE = {
    # modality: (dose key, increasing values, lever, course day, direction)
    "scs": ("amplitude", [0.5e-3, 1e-3, 2e-3, 4e-3, 8e-3], "abeta_rate", 5, 1),
    "drg": ("frequency", [2.0, 5.0, 10.0, 20.0, 40.0], "tj_filter", 5, 1),
    "pns": ("amplitude", [1e-3, 2e-3, 5e-3, 10e-3, 20e-3], "abeta_rate", 5, 1),
    "dbs": ("amplitude", [0.5e-3, 1e-3, 2e-3, 4e-3], "descending_inhibition", 5, 1),
    "mcs": ("amplitude", [1e-3, 2e-3, 4e-3, 8e-3], "descending_inhibition", 5, 1),
    "rtms": ("intensity", [40.0, 60.0, 80.0, 100.0, 120.0], "descending_inhibition", 9, 1),
    "tdcs": ("current", [0.5e-3, 1e-3, 2e-3, 4e-3], "descending_inhibition", 4, 1),
    "ti": ("current", [0.5e-3, 1e-3, 2e-3, 4e-3], "descending_inhibition", 4, 1),
    "mirror": ("duration", [60.0, 300.0, 600.0, 900.0], "visual_feedback", 0, 1),
    "bci": ("duration", [600.0, 1800.0, 3600.0], "decoder_training", 0, -1),
    "pme": ("duration", [1800.0, 3600.0, 7200.0], "visual_feedback", 0, 1),
}


@pytest.mark.parametrize("modality", sorted(MONOTONE))
def test_monotone_where_physiology_says_so(modality: str) -> None:
    key, values, lever, day, sign = MONOTONE[modality]
    th = get_therapy(modality)
    p = th.reference_protocol()
    out = []
    for v in values:
        st = th.prepare(p, N, rng=7, dose={key: v})
        out.append(sign * th.lever_arrays(st, day)[lever])
    diffs = np.diff(np.stack(out), axis=0)
    assert np.all(diffs >= -1e-12), modality
    assert np.any(diffs > 0), modality


@pytest.mark.parametrize("modality", MODALITIES)
def test_rejects_other_modality(modality: str) -> None:
    th = get_therapy(modality)
    other = load_protocol({"modality": "tdcs" if modality != "tdcs" else "scs"})
    with pytest.raises(ProtocolError) as exc:
        th.prepare(other, N)
    assert exc.value.problems[0].field == "modality"
    assert modality in exc.value.problems[0].line()
    st = th.prepare(th.reference_protocol(), N)
    with pytest.raises(ProtocolError):
        th.apply(other, st, 0)


def test_bad_overrides_are_clear_errors() -> None:
    with pytest.raises(InputError) as exc:
        get_therapy("scs", {"chronaxie_typo": 1.0})
    assert "unknown therapy parameter" in exc.value.problems[0].line()
    with pytest.raises(InputError):
        get_therapy("rtms", {"tau": -1.0})
    th = get_therapy("rtms")
    with pytest.raises(InputError):
        th.prepare(th.reference_protocol(), N, dose={"amplitude": 1.0})
    with pytest.raises(ProtocolError):
        get_therapy("laser")


def test_every_parameter_has_provenance() -> None:
    from phantomlab.therapies import REGISTRY

    assert len(REGISTRY) > 60
    for p in REGISTRY.values():
        assert p.kind in ("source", "calibrated", "assumed")
        assert p.prior[0] <= p.value <= p.prior[1]
        if p.kind == "assumed":
            assert p.note
        else:
            assert p.source
    for cls in THERAPIES.values():
        for name, rec in cls.PARAMS.items():
            assert rec.name == name


def test_apply_is_a_cohort_schedule_same_bits_any_workers() -> None:
    """``apply`` is pure: usable as Cohort.run's schedule; 1 or 2 workers, same bits."""
    from phantomlab.mechanisms.patient import Cohort
    from phantomlab.therapies import prepare_course

    p = get_therapy("tdcs").reference_protocol()
    out = []
    for workers in (1, 2):
        c = Cohort(40, rng=9, n_workers=workers, block_size=16)
        c.run(30, record=False)
        th, st = prepare_course(p, c, rng=3)
        out.append(c.run(12, lambda d, th=th, st=st: th.apply(p, st, d)))
    assert np.array_equal(out[0].nrs, out[1].nrs)
    assert np.array_equal(out[0].pain, out[1].pain)


def test_model_card_is_generated_and_in_sync() -> None:
    from pathlib import Path

    from phantomlab.therapies.card import card_markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "therapies_model_card.md"
    assert doc.read_text() == card_markdown()


def test_calendar_rules() -> None:
    from phantomlab.therapies.base import build_calendar

    five = load_protocol(
        {"modality": "mirror", "schedule": {"per_week": 5, "treatment_duration": "4 weeks"}}
    )
    cal = build_calendar(five, 20, False)
    assert list(cal.session_days[:7]) == [0, 1, 2, 3, 4, 7, 8]
    assert cal.n_sessions == 20
    spread = load_protocol(
        {"modality": "tdcs", "schedule": {"sessions": 10, "treatment_duration": "14 days"}}
    )
    cal = build_calendar(spread, 10, False)
    assert cal.session_days[0] == 0 and cal.session_days[-1] <= 13 and cal.n_sessions == 10
    spaced = load_protocol({"modality": "tdcs", "schedule": {"sessions": 3, "spacing": "2 days"}})
    assert list(build_calendar(spaced, 3, False).session_days) == [0, 2, 4]
    cont = load_protocol({"modality": "scs", "schedule": {"treatment_duration": "60 days"}})
    cal = build_calendar(cont, None, True)
    assert cal.continuous and cal.is_on(59) and not cal.is_on(60)


def test_parameter_overrides_reach_the_model() -> None:
    """Calibration hooks: a therapy's own and shared parameters can be overridden."""
    p = get_therapy("rtms").reference_protocol()
    off = get_therapy("rtms", {"m1.descending_per_facilitation": 0.0})
    st = off.prepare(p, N, rng=1)
    assert np.all(off.lever_arrays(st, 5)["descending_inhibition"] == 0.0)
    slow = get_therapy("rtms", {"tau": 30.0})
    fast = get_therapy("rtms", {"tau": 2.0})
    a = slow.lever_arrays(slow.prepare(p, N, rng=1), 25)["cortical_excitability"]
    b = fast.lever_arrays(fast.prepare(p, N, rng=1), 25)["cortical_excitability"]
    assert np.all(a > b)
    sham = get_therapy("sham", {"placebo.expectation_mean": 0.0, "placebo.expectation_sd": 0.0})
    sp = sham.reference_protocol()
    assert np.all(sham.lever_arrays(sham.prepare(sp, N, rng=1), 3)["expectation"] == 0.0)
    with pytest.raises(InputError):
        get_therapy("rtms", {"scs.coverage_mean": 0.5})  # another therapy's own parameter
