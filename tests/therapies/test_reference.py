"""Direction and order of magnitude of each modality's reference course, against its source.

Each test simulates the reference protocol of a published study on the default
virtual cohort (150 patients, 1 year after amputation, in silico) and checks
the direction and the order of magnitude of the published effect. Quantitative
fitting is the calibration issue's job; numbers quoted are from
shared/research/evidence.md and mechanisms.md.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from phantomlab.protocols import get_reference, load_protocol
from phantomlab.therapies import CourseResult, get_therapy, sham_of, simulate_course

N = 150


@cache
def course(name: str, days: int = 45, hypothesis: str = "reorganization",
           enrol: float | None = None) -> CourseResult:  # fmt: skip
    if name.startswith("{"):
        import json

        p = load_protocol(json.loads(name))
    elif name.startswith("builtin:"):
        p = get_therapy(name.split(":")[1]).reference_protocol()
    else:
        p = get_reference(name)
    return simulate_course(
        p, n_patients=N, days=days, rng=1, hypothesis=hypothesis, enrol_min_nrs=enrol
    )


def _sham(name: str, days: int = 45, hypothesis: str = "reorganization") -> CourseResult:
    p = sham_of(get_reference(name))
    return simulate_course(p, n_patients=N, days=days, rng=1, hypothesis=hypothesis)


def test_reference_rtms_malavera2016() -> None:
    """Malavera 2016 J Pain 17:911 (PMID 27260638): 10 Hz M1 rTMS, 10 sessions.

    VAS change at day 15: active -53.4%, sham -22.9% (difference 30.4%, CI 0.3-60.6);
    responders >= 30%: 70.3% vs 40.7%; no significant difference at day 30.
    """
    a = course("malavera2016_active", enrol=3.0)
    s = course("malavera2016_sham", enrol=3.0)
    diff15 = a.percent_change(15) - s.percent_change(15)
    diff30 = a.percent_change(30) - s.percent_change(30)
    assert -80.0 < a.percent_change(15) < -25.0
    assert -70.0 < diff15 < -10.0
    assert abs(diff30) < 0.6 * abs(diff15)  # benefit fades by day 30
    assert a.responders(15) > s.responders(15)


def test_reference_sham_malavera2016() -> None:
    """Malavera 2016: the sham arm improved by 22.93% at day 15 (expectation + RTM)."""
    s = course("malavera2016_sham", enrol=3.0)
    assert -45.0 < s.percent_change(15) < -5.0


def test_reference_rtms_low_frequency_irlbacher2006() -> None:
    """Irlbacher 2006 Nervenarzt 77:1196: 1 Hz M1 rTMS, no significant lasting effect.

    Low-frequency (inhibitory) rTMS must not beat the sham of the same course at day 14.
    """
    a = course("irlbacher2006_active_1hz")
    s = _sham("irlbacher2006_active_1hz")
    assert a.percent_change(14) - s.percent_change(14) > -5.0


def test_reference_tdcs_bolognini2015() -> None:
    """Bolognini 2015 J Pain 16:657: anodal M1 tDCS 1.5 mA, 15 min x 5 days.

    Background PLP: active 3.3 (-41%) vs sham 4.7 (-17%) (secondary, Pacheco-Barrios 2020).
    """
    a = course("bolognini2015_active")
    s = course("bolognini2015_sham")
    diff = a.percent_change(7) - s.percent_change(7)
    assert -70.0 < diff < -5.0


def test_reference_tdcs_kikkert2019_one_session_lasts_a_week() -> None:
    """Kikkert 2019 Ann Neurol 85:59: one session relieved PLP for at least 1 week.

    Secondary (Pacheco-Barrios 2020): active -29.5% vs sham +1.2%.
    """
    a = course("kikkert2019_active")
    s = course("kikkert2019_sham")
    assert a.percent_change(7) - s.percent_change(7) < -3.0


def test_reference_tdcs_cerebellar_bocci2019_like_sham() -> None:
    """Bocci 2019: cerebellar tDCS did not change chronic PLP versus sham."""
    a = course("bocci2019_active")
    s = course("bocci2019_sham")
    assert abs(a.percent_change(7) - s.percent_change(7)) < 5.0


def test_reference_combination_gunduz2021() -> None:
    """Gunduz 2021: tDCS + mirror factorial; main effect of active tDCS (beta = -0.99).

    Combined active tDCS + mirror improves more than sham tDCS at 4 weeks.
    """
    c = course("gunduz2021_active_tdcs_active_mt")
    t = course("gunduz2021_factorial main effect of active tDCS")
    s = course("gunduz2021_sham_tdcs")
    assert c.percent_change(28) < s.percent_change(28) - 5.0
    assert t.percent_change(28) < s.percent_change(28) - 5.0


def test_reference_mirror_finn2017() -> None:
    """Finn 2017 Front Neurol 8:267: mirror 15 min/day, 5 d/wk, 4 wk: VAS 44.1 -> 27.5 (-38%).

    Direction and order of magnitude under the persistence hypothesis (Makin: pain
    follows sensorimotor incongruence of the preserved hand map).
    """
    m = course("finn2017_mirror", hypothesis="persistence")
    s = _sham("finn2017_mirror", hypothesis="persistence")
    assert -80.0 < m.percent_change(27) < -8.0
    assert m.percent_change(27) < s.percent_change(27) - 5.0


def test_reference_bci_yanagisawa_direction() -> None:
    """Yanagisawa 2016 Nat Commun 7:13209: phantom-decoder training increased PLP, while
    dissociating training reduced it (persistence hypothesis: preserved hand map).
    """
    phantom = json_protocol({"modality": "bci", "decoder_trained_on": "phantom",
                             "schedule": {"treatment_duration": "3 day"}})  # fmt: skip
    p = course(phantom, days=10, hypothesis="persistence")
    i = course("yanagisawa2020_real decoder", days=10, hypothesis="persistence")
    assert p.percent_change(7) > i.percent_change(7) + 1.0


def test_reference_bci_yanagisawa2020_magnitude() -> None:
    """Yanagisawa 2020 Neurology: intact-hand decoder, 3 days: VAS -32% at day 4 (random ns)."""
    i = course("yanagisawa2020_real decoder", days=10, hypothesis="persistence")
    r = course(json_protocol({"modality": "bci", "decoder_trained_on": "random",
                              "schedule": {"treatment_duration": "3 day"}}), days=10,
               hypothesis="persistence")  # fmt: skip
    assert i.percent_change(4, window=1) - r.percent_change(4, window=1) < -10.0


@pytest.mark.xfail(
    strict=True,
    reason="issue #15 model (measured 2026-12-08): placebo responders 0.367 (bound < 0.35) "
    "and active 0.880, above the 95% Clopper-Pearson interval of 7/12 (0.277-0.848). Out-of-"
    "sample (Gilmore 2019 is post-amputation pain, not a target). Not a fitted-prior "
    "problem: with the amplitude programmed, the PNS Abeta drive is the recruited share "
    "divided by itself (1, i.e. 100 Hz for every patient), so programming_factor and "
    "diam_median cannot move it (docs/validation.md)",
)
def test_reference_pns_gilmore2019() -> None:
    """Gilmore 2019: percutaneous PNS, >=50% pain reduction weeks 1-4: 7/12 (58%) vs
    placebo 2/14 (14%) (evidence.md row 8)."""
    a = course("gilmore2019_active", days=60)
    s = course("gilmore2019_placebo", days=60)
    ra, rs = a.responders(27, 50.0), s.responders(27, 50.0)
    assert 0.3 < ra <= 1.0
    assert rs < 0.35
    assert ra - rs > 0.2


def test_reference_scs_nihon2001_and_habituation() -> None:
    """Nihon 2001 series: long-term satisfactory SCS control in 6/19 (32%); Corbett 2018:
    short-term benefit common, long-term maintenance rarer. Relief at 1 month, less at 1 year.
    """
    a = course("nihon2001_single_scs", days=366)
    assert a.percent_change(28) < -20.0
    assert a.percent_change(365, 28) > a.percent_change(28)  # habituation over months


def test_reference_drg_srinivasan2022() -> None:
    """Srinivasan 2022 scoping review: DRG-S satisfactory relief in 15/25 patients."""
    a = course("srinivasan2022_pooled", days=45)
    share = a.responders(28, 50.0)
    assert a.percent_change(28) < -15.0
    assert 0.2 < share < 1.0


def test_reference_dbs_pereira2013() -> None:
    """Pereira 2013: contralateral VPL DBS, amputees VAS -90% +- 10% at 12 months; two-centre
    series -61% (1-3 mo) and -57% (1 yr)."""
    a = course("pereira2013_single (amputees)", days=120)
    assert -100.0 < a.percent_change(90) < -20.0


def test_reference_mcs_nihon2001() -> None:
    """Nihon 2001: MCS satisfactory long-term in 1/5; Acta Neurochir 2019: tolerance within a
    month in 1 of 2. Relief early, smaller later."""
    a = course("nihon2001_single_mcs", days=120)
    assert a.percent_change(14) < -10.0
    assert a.percent_change(119, 28) > a.percent_change(14)


def test_reference_ti_preclinical_small() -> None:
    """TI: preclinical only (mouse analgesia, evidence.md row 36); assumed weak effect."""
    a = course("builtin:ti")
    assert -60.0 < a.percent_change(10) < 10.0


def test_reference_pme_direction() -> None:
    """PME (Ortiz-Catalan 2018 hypothesis: training disentangles pain): pain falls vs sham."""
    a = course("builtin:pme", days=60, hypothesis="persistence")
    s = simulate_course(sham_of(get_therapy("pme").reference_protocol()), n_patients=N,
                        days=60, rng=1, hypothesis="persistence")  # fmt: skip
    assert a.percent_change(55) < s.percent_change(55)


def json_protocol(d: dict) -> str:
    import json

    return json.dumps(d, sort_keys=True)


def test_course_same_seed_same_bits() -> None:
    p = get_reference("bolognini2015_active")
    a = simulate_course(p, n_patients=20, days=10, rng=4)
    b = simulate_course(p, n_patients=20, days=10, rng=4)
    assert np.array_equal(a.trajectory.nrs, b.trajectory.nrs)
    assert np.array_equal(a.trajectory.pain, b.trajectory.pain)


@pytest.mark.xfail(
    strict=True,
    reason="mechanism gap (measured 2026-12-08, 300 patients, persistence): the virtual "
    "course's relief is dominated from day 1 by the expectation (placebo) response and "
    "regression to the mean (covered-mirror sham: -20 % reached on days 2 / 0 / 11 by "
    "tercile; mirror: 2 / 0 / 3), so the severity-ordered, later congruence part (slowed by "
    "pain, congruence_pain_interference) does not set the onsets; the study's onsets are "
    "responders' p < 0.05 in 33 PLP patients (abstract read), not a mean -20 % crossing. "
    "No sourced severity dependence of the placebo onset was found; see docs/mechanisms.md",
)
def test_reference_mirror_onset_by_severity_scand_j_pain_2017() -> None:
    """Scand J Pain 2017 (doi:10.1016/j.sjpain.2017.01.007, n = 33): relief starts by session 7
    (low baseline PLP), 14 (medium) and 21 (high)."""
    p = json_protocol({"modality": "mirror", "duration": "15 min", "schedule": {"sessions": 28}})
    r = course(p, days=30, hypothesis="persistence")
    b = r.baseline.pain.mean(axis=0)
    grp = np.digitize(b, np.quantile(b, [1 / 3, 2 / 3]))
    rel = (r.trajectory.pain - b) / np.maximum(b, 0.1)
    onset = [int(np.argmax(rel[:, grp == g].mean(axis=1) < -0.2)) for g in range(3)]
    assert onset[0] < onset[1] < onset[2]


def test_reference_pns_carry_over_gilmore2020() -> None:
    """Gilmore 2020 Reg Anesth Pain Med 45:44: >=50% reduction at 12 months in 6/9 (67%) after
    the 60-day course vs 0/14 at the end of placebo."""
    a = course("gilmore2019_active", days=366)
    s = course("gilmore2019_placebo", days=366)
    assert a.responders(365, 50.0, 28) - s.responders(365, 50.0, 28) > 0.2


def test_scs_khz_paresthesia_free_but_analgesic() -> None:
    """Sagalajev 2024 Neuron 112:404: kHz SCS activates dorsal-column axons asynchronously;
    synchrony is needed for paresthesia, asynchronous activity suffices for analgesia.
    PMC3763697: 10 kHz SCS raised withdrawal thresholds from day 1 (50 Hz only from day 2)."""
    from phantomlab.therapies.scs import SCSTherapy

    hf = json_protocol({"modality": "scs", "waveform": "high_frequency"})
    r = course(hf, days=30)
    s = _sham("nihon2001_single_scs", days=30)
    assert r.percent_change(1, 1) < s.percent_change(1, 1) - 20.0
    th = SCSTherapy()
    p_hf = load_protocol({"modality": "scs", "waveform": "high_frequency"})
    p_tonic = get_reference("nihon2001_single_scs")
    assert np.all(th.paresthesia(th.prepare(p_hf, 50, rng=0)) == 0.0)
    assert np.mean(th.paresthesia(th.prepare(p_tonic, 50, rng=0)) > 0) > 0.5


def test_scs_responders_jaffee2025_and_nihon2001() -> None:
    """Jaffee 2025 scoping review (33 pts): >=50% pain reduction in about half (18% 90-100%,
    15% >=80%, 6% >=60%, 15% >=50%); Nihon 2001: long-term satisfactory control 6/19 (32%)."""
    a = course("nihon2001_single_scs", days=366)
    early, late = a.responders(28, 50.0), a.responders(365, 50.0)
    assert 0.25 < early < 0.95
    assert late < early


def test_drg_holds_up_better_than_scs() -> None:
    """DRG stimulation holds up better long-term than SCS (little tolerance; ACCURATE trial,
    Deer 2017 Pain 158:669: 81.2% vs 55.7% success at 3 months): the share of responders
    retained from month 1 to month 12 is larger with DRG than with SCS."""
    d = course("srinivasan2022_pooled", days=366)
    s = course("nihon2001_single_scs", days=366)
    keep_d = d.responders(365, 50.0) / d.responders(28, 50.0)
    keep_s = s.responders(365, 50.0) / s.responders(28, 50.0)
    assert keep_d > keep_s


def test_drg_filter_abates_c_at_20hz_spares_abeta() -> None:
    """PMC7669706: with 20 Hz ganglionic stimulation, C transmission progressively abated over
    20 s, Abeta persisted; lower rates filter less (use dependence)."""
    from phantomlab.mechanisms.peripheral import drg_stimulation_block
    from phantomlab.therapies.drg import c_filter

    assert c_filter(20.0, 20.0) > 0.8
    assert c_filter(5.0) < c_filter(10.0) < c_filter(20.0)
    _, ab = drg_stimulation_block(20.0, 20.0, "Abeta", n_neurons=50, rng=0)
    assert ab[-1] > 0.95
