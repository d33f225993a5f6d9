"""Virtual patient: reproduction of published PLP findings (all in silico).

Cohorts are simulated once per module (1,000 patients x 365 days per hypothesis,
seed 2) and shared by the tests.
"""

import copy
from functools import cache

import numpy as np
import pytest
from scipy import stats

from phantomlab.exceptions import InputError
from phantomlab.mechanisms import REGISTRY
from phantomlab.mechanisms.patient import ABLATIONS, Cohort, Levers

N = 1000
DAYS = 365


@pytest.fixture(scope="module")
def reorg():
    c = Cohort(N, "reorganization", rng=2)
    return c, c.run(DAYS)


@pytest.fixture(scope="module")
def persist():
    c = Cohort(N, "persistence", rng=2)
    return c, c.run(DAYS)


_AUDIT = "see docs/mechanisms.md#falsifiability-audit"


@cache
def ablated(hypothesis, ablate, plasticity_gain=1.0):
    """The reproduction cohort (same N, days and seed 2) with mechanisms switched off
    (ablation tests, issue #15): an ablation test asserts the reproduction fails."""
    c = Cohort(N, hypothesis, rng=2, ablate=ablate)
    lv = None if plasticity_gain == 1.0 else Levers(plasticity_gain=plasticity_gain)
    return c, c.run(DAYS, levers=lv)


def test_ablation_switch_leaves_default_bits_and_rejects_unknown_names():
    """``Cohort(ablate=())`` is the model (same bits); an unknown name is one InputError."""
    a = Cohort(50, "persistence", rng=4).run(10)
    b = Cohort(50, "persistence", rng=4, ablate=()).run(10)
    np.testing.assert_array_equal(a.pain, b.pain)
    c = Cohort(50, "persistence", rng=4, ablate=tuple(ABLATIONS)).run(10)
    assert not np.array_equal(a.pain, c.pain)
    with pytest.raises(InputError) as e:
        Cohort(10, ablate=("cortex",))
    assert e.value.problems[0].field == "ablate"


@pytest.mark.xfail(
    strict=True,
    reason="r = 0.20 (seed 2, 1,000 x 365 d, 2026-12-08); its 95 % range in 13-patient "
    "samples is -0.38 to 0.71 (Flor's 0.93: probability 0.0003 among patients with PLP). "
    "Invasion is driven by deafferentation, independently of the C ectopia that drives "
    "pain, and catastrophizing (R^2 0.25-0.35, calibrated) bounds r^2 + R^2 <= 1 - " + _AUDIT,
)
def test_flor_1995_lip_shift_correlates_with_plp(reorg):
    """Flor et al. 1995 (Nature 375:482; mechanisms.md §1.2): r = 0.93 between cortical
    reorganization and PLP. Acceptance (issue 5): under the reorganization hypothesis the
    correlation across virtual patients of lip-representation shift (mm, day 365) with
    PLP (mean NRS of the last 28 days) is r >= 0.85. Not reproduced once lip shift and
    pain no longer share a driver: pain variance from ectopia and catastrophizing (25-35 %,
    calibrated) that is independent of the shift bounds r well below 0.85."""
    _, tr = reorg
    r = np.corrcoef(tr.lip_shift_mm[-1], tr.mean_nrs())[0, 1]
    assert r >= 0.85


def test_flor_1995_direction_lip_shift_goes_with_plp(reorg):
    """Flor et al. 1995, direction only: under the reorganization hypothesis, larger lip
    shift goes with more PLP (Pearson r > 0, p < 0.001, 1,000 patients). Measured (seed 2,
    2026-12-08): r = 0.20, p = 3e-10."""
    _, tr = reorg
    r, p = stats.pearsonr(tr.lip_shift_mm[-1], tr.mean_nrs())
    assert r > 0 and p < 1e-3


def test_flor_1995_ablation_cortical_gain_off_breaks_correlation():
    """Ablation of Flor 1995 (issue #15): with the reorganization -> pain coupling off
    (``ablate="cortical_pain"``) the correlation falls below r = 0.3 and is no longer
    significant (the direction test fails). Lip shift is driven by the deafferented A
    channel's spontaneous input, drawn separately from the C ectopia that drives pain, so
    the correlation comes only through ``cortical_gain_reorganization``. Measured (seed 2,
    2026-12-08): r = 0.02, p = 0.47 (0.20 on)."""
    _, tr = ablated("reorganization", ("cortical_pain",))
    r, p = stats.pearsonr(tr.lip_shift_mm[-1], tr.mean_nrs())
    assert r < 0.3
    assert not (r > 0 and p < 1e-3)


def test_makin_2013_persistence_plp_follows_hand_zone_activity(persist):
    """Makin et al. 2013 (Nat Commun, doi:10.1038/ncomms2571; mechanisms.md §1.3) and its
    replication (PMC6143485): PLP goes with preserved missing-hand activity during phantom movement,
    without lip remapping. Acceptance: under persistence, Pearson r(hand-zone activity in
    phantom movement, PLP) > 0 with p < 0.001; |mean lip shift| < 2 mm (no remapping)."""
    _, tr = persist
    r, p = stats.pearsonr(tr.hand_activity[-1], tr.mean_nrs())
    assert r > 0 and p < 1e-3
    assert abs(tr.lip_shift_mm[-1].mean()) < 2.0


def test_makin_2013_ablation_cortical_gain_off_breaks_correlation():
    """Ablation of Makin 2013 (issue #15): with hand-zone activity no longer amplifying
    pain (``ablate="cortical_pain"``, persistence) the correlation of PLP with hand-zone
    activity in phantom movement must be lost (not r > 0 with p < 0.001). Hand-zone
    activity is the efference drive scaled by a per-patient preserved-representation
    strength (Kikkert 2016) plus deafferentation noise, both independent of the C ectopia,
    so the correlation comes only through ``cortical_gain_persistence``. Measured (seed 2):
    r = -0.01, p = 0.76 (0.13, p = 5e-5 on)."""
    _, tr = ablated("persistence", ("cortical_pain",))
    r, p = stats.pearsonr(tr.hand_activity[-1], tr.mean_nrs())
    assert not (r > 0 and p < 1e-3)


def test_makin_2013_ablation_no_efference_prediction_lip_remaps():
    """Ablation of Makin 2013's "no lip remapping" (issue #15): the preserved hand map is
    claimed to come from the efference copy's predicted sensory pattern with low adult
    plasticity. With the prediction off (``ablate="efference_prediction"``) and the
    learning rate raised to the reorganization rate (``plasticity_gain`` =
    gamma_reorganization / gamma_persistence) the lip remaps: |mean shift| >= 2 mm.
    Measured (seed 2): 6.3 mm; with the prediction on at the same rate: -0.0 mm."""
    g = REGISTRY["patient.gamma_reorganization"].value / REGISTRY["patient.gamma_persistence"].value
    _, tr = ablated("persistence", ("efference_prediction",), g)
    assert abs(tr.lip_shift_mm[-1].mean()) >= 2.0


def test_geometry_lip_shift_of_order_8mm(reorg):
    """Makin & Flor 2020 (NeuroImage 218:116943, Fig. 3; mechanisms.md §1.3): lips shifted
    medially by 8 mm, hand 63 mm medial to the lips. The map is scaled to the 63 mm and
    the reorganization learning rate is calibrated to this target (see model card), so
    this checks that the calibration holds in this cohort. Tolerance: mean shift of the
    patients with PLP (mean NRS >= 1) within 4-16 mm ("of the order of 8 mm"), medial."""
    _, tr = reorg
    plp = tr.mean_nrs() >= 1.0
    shift = tr.lip_shift_mm[-1][plp].mean()
    assert 4.0 <= shift <= 16.0


def test_geometry_ablation_no_deafferented_input_no_invasion():
    """Ablation of the 8 mm lip shift (issue #15): the invasion is claimed to come from the
    deafferented A channel's spontaneous input to the former hand zone while Hebbian
    learning lets lip input capture it. With that drive off (``ablate="deafferented_input"``)
    the shift of the patients with PLP falls outside 4-16 mm. Measured (seed 2): 1.2 mm
    (11.9 mm with the drive)."""
    _, tr = ablated("reorganization", ("deafferented_input",))
    plp = tr.mean_nrs() >= 1.0
    shift = tr.lip_shift_mm[-1][plp].mean()
    assert not 4.0 <= shift <= 16.0


@pytest.mark.parametrize("which", ["reorg", "persist"])
def test_vaso_2014_drg_block_abolishes_plp(which, request):
    """Vaso et al. 2014 (Pain 155:1384; mechanisms.md §2.1): intraforaminal (DRG)
    lidocaine, dilute enough to spare distal conduction, rapidly extinguished PLP.
    Acceptance: blocking DRG ectopia (drg_block = 1, acute: within the simulated hour,
    slow state frozen) abolishes or nearly abolishes PLP (>= 75 % reduction or residual
    latent pain < 1 NRS) in most (>= 2/3) of the patients with PLP, and the median
    reduction is >= 80 %."""
    c, _ = request.getfixturevalue(which)
    base = c.acute()
    block = c.acute(Levers(drg_block=1.0))
    plp = base.pain >= 1.0
    red = 1.0 - block.pain[plp] / base.pain[plp]
    nearly = (red >= 0.75) | (block.pain[plp] < 1.0)
    assert nearly.mean() >= 2 / 3
    assert np.median(red) >= 0.8


@pytest.mark.parametrize("hypothesis", ["reorganization", "persistence"])
def test_vaso_2014_ablation_no_drg_ectopia_block_does_not_abolish(hypothesis):
    """Ablation of Vaso 2014 (issue #15): PLP is claimed to originate in DRG ectopia. With
    DRG-origin ectopia off (``ablate="drg_ectopia"``, the neuroma kept) few patients have
    PLP and a DRG block does not abolish it: fewer than 2/3 nearly abolished. Measured
    (seed 2): 0 % nearly abolished, median reduction 0 % (53 and 110 patients with PLP);
    79 % with DRG ectopia. Every central ablation leaves the block effective (pain has no
    source other than peripheral ectopia; docs/mechanisms.md#falsifiability-audit)."""
    c, _ = ablated(hypothesis, ("drg_ectopia",))
    base = c.acute()
    block = c.acute(Levers(drg_block=1.0))
    plp = base.pain >= 1.0
    red = 1.0 - block.pain[plp] / base.pain[plp]
    nearly = (red >= 0.75) | (block.pain[plp] < 1.0)
    assert plp.sum() >= 20  # there is PLP left to block (from the neuroma)
    assert nearly.mean() < 2 / 3


@pytest.mark.parametrize("which", ["reorg", "persist"])
def test_catastrophizing_explains_25_to_35_percent(which, request):
    """Vase et al. 2011 (Pain 152:157): catastrophizing explained 35 % of PLP variance;
    Hill et al. 1995: 26 % (mechanisms.md §5). The psychological couplings are calibrated
    to this range (a calibration check). Acceptance: R² of mean NRS on catastrophizing trait
    in [0.25, 0.35]. Measured (seed 2): 0.318 / 0.298 (recalibrated 2026-12-08, issue #15)."""
    c, tr = request.getfixturevalue(which)
    r = np.corrcoef(c.traits[:, 0], tr.mean_nrs())[0, 1]
    assert 0.25 <= r**2 <= 0.35


@pytest.mark.parametrize("hypothesis", ["reorganization", "persistence"])
def test_catastrophizing_ablation_coupling_off_explains_nothing(hypothesis):
    """Ablation of the catastrophizing share (issue #15): with the catastrophizing state no
    longer acting on pain (``ablate="catastrophizing"``; correlated anxiety and depression
    still act) R² falls below 0.25. Measured (seed 2, 2026-12-08): 0.007 / 0.004
    (0.318 / 0.298 on)."""
    c, tr = ablated(hypothesis, ("catastrophizing",))
    r = np.corrcoef(c.traits[:, 0], tr.mean_nrs())[0, 1]
    assert r**2 < 0.25


def test_prevalence_calibration(reorg):
    """Calibration check: PLP prevalence 64 % (95 % CI 60-68 %; 2020 meta-analysis
    PMC7556495, mechanisms.md §5). Tolerance: 54-74 % have mean NRS >= 1."""
    _, tr = reorg
    prev = np.mean(tr.mean_nrs() >= 1.0)
    assert 0.54 <= prev <= 0.74


def test_prevalence_ablation_no_drg_ectopia():
    """Ablation of the prevalence calibration (issue #15): PLP is driven by ectopic input
    (DRG ectopia x convergence gain, calibrated). Without DRG ectopia prevalence leaves
    54-74 %. Measured (seed 2): 5.7 % (61 % on)."""
    _, tr = ablated("reorganization", ("drg_ectopia",))
    assert not 0.54 <= np.mean(tr.mean_nrs() >= 1.0) <= 0.74


def test_bostrom_2014_spontaneous_activity_raises_invasion_and_phantom_response():
    """Boström et al. 2014 (Sci Rep 4:5298; mechanisms.md §1.1): raising spontaneous
    activity of deafferented nociceptive channels raised both the reorganization and the
    cortical activity during phantom movements. Acceptance: with 3x more spontaneously
    active fibres (same seed, 300 patients, 365 days, reorganization hypothesis) the mean
    lip shift and the mean hand-zone response to phantom movement are both higher
    (one-sided paired comparison, p < 0.01)."""
    weak = Cohort(300, "reorganization", rng=5, ectopia_gain=0.5).run(DAYS, record=False)
    strong = Cohort(300, "reorganization", rng=5, ectopia_gain=1.5).run(DAYS, record=False)
    for attr in ("lip_shift_mm", "hand_activity"):
        a, b = getattr(weak, attr)[-1], getattr(strong, attr)[-1]
        assert b.mean() > a.mean()
        assert stats.wilcoxon(b, a, alternative="greater").pvalue < 0.01


def test_bostrom_2014_ablation_no_deafferented_input():
    """Ablation of Boström 2014 (issue #15): the cortical effects of spontaneous activity
    are claimed to come from the deafferented channel's spontaneous input to the former
    hand zone (``ectopia_gain`` scales it with the C ectopia). With that drive off
    (``ablate="deafferented_input"``) 3x more spontaneous activity raises neither the lip
    shift nor the hand-zone response. Measured (seed 5, 300 patients):
    identical arrays (1.21 mm, 0.0195) vs 6.0 -> 16.2 mm and 0.0232 -> 0.0306 with it."""
    weak, strong = (
        Cohort(300, "reorganization", rng=5, ectopia_gain=g, ablate="deafferented_input").run(
            DAYS, record=False
        )
        for g in (0.5, 1.5)
    )
    for attr in ("lip_shift_mm", "hand_activity"):
        a, b = getattr(weak, attr)[-1], getattr(strong, attr)[-1]
        assert not b.mean() > a.mean()


def test_same_seed_same_bits_one_or_two_workers():
    """Reproducibility: the same seed gives identical trajectories with 1 or 2 workers
    (blocks of fixed size, each with its own child seed)."""
    a = Cohort(700, "persistence", rng=11, n_workers=1, block_size=256).run(20)
    b = Cohort(700, "persistence", rng=11, n_workers=2, block_size=256).run(20)
    for k in ("nrs", "pain", "episodes", "lip_shift_mm", "hand_activity"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    c = Cohort(700, "persistence", rng=12, block_size=256).run(20)
    assert not np.array_equal(a.pain, c.pain)


def test_schedule_and_levers_act():
    """A lever schedule is applied by day; an Aβ drive (gate) and descending inhibition
    lower pain acutely."""
    c = Cohort(200, "persistence", rng=3)
    c.run(120)
    base = c.acute().pain.mean()
    assert c.acute(Levers(abeta_rate=40.0)).pain.mean() < base
    assert c.acute(Levers(descending_inhibition=10.0)).pain.mean() < base
    seen = []
    tr = c.run(4, levers=lambda d: seen.append(d) or Levers(expectation=0.5))
    assert seen == [120, 121, 122, 123]  # one block: called once per day since amputation
    assert tr.day0 == 120 and tr.n_days == 4


def _arms(hypothesis, arms, warm=300, days=60, n=250, seed=9, ablate=()):
    """Same warmed-up cohort (deep copies), one lever setting per arm, mean latent pain
    of the last 14 days and mean lip shift on the last day."""
    c0 = Cohort(n, hypothesis, rng=seed, ablate=ablate)
    c0.run(warm, record=False)
    out = {}
    for name, lv in arms.items():
        tr = copy.deepcopy(c0).run(days, levers=lv)
        out[name] = (tr.pain[-14:].mean(), tr.lip_shift_mm[-1].mean())
    return out


def test_flor_2001_structured_training_reverses_reorganization_and_pain():
    """Flor et al. 2001 (Lancet 357:1763; mechanisms.md §4.5): sensory discrimination
    training lowered PLP (p = 0.002) and cortical reorganization (p = 0.05). Direction only
    (effect sizes not read): under reorganization, 60 days of structured input to the
    hand receptors (visual_feedback = 1) lower both mean pain and the lip shift."""
    r = _arms("reorganization", {"none": None, "trained": Levers(visual_feedback=1.0)})
    assert r["trained"][0] < r["none"][0]
    assert r["trained"][1] < r["none"][1]


def test_flor_2001_ablation_cortical_gain_off_no_relief():
    """Ablation of Flor 2001 (issue #15): relief is claimed to follow the reversed
    reorganization. With the cortical gain off (``ablate="cortical_pain"``) training still
    reverses the lip shift but no longer lowers pain. Measured (seed 9): pain 2.267 in
    both arms, shift 5.4 -> 3.3 mm (on: pain 3.39 -> 3.07)."""
    r = _arms(
        "reorganization",
        {"none": None, "trained": Levers(visual_feedback=1.0)},
        ablate=("cortical_pain",),
    )
    assert r["trained"][1] < r["none"][1]
    assert not r["trained"][0] < r["none"][0]


def test_yanagisawa_decoder_training_direction():
    """Yanagisawa et al. 2016 (Nat Commun 7:13209; mechanisms.md §4.4): BMI training from
    phantom-hand cortical activity increased PLP; training that dissociates the phantom
    (intact-hand decoder, Yanagisawa 2020) reduced it. Direction only under persistence
    (the 32 % of Yanagisawa 2020 is not reproduced by the lever alone; see docs)."""
    r = _arms(
        "persistence",
        {
            "none": None,
            "phantom": Levers(decoder_training=1.0),
            "intact": Levers(decoder_training=-1.0),
        },
    )
    assert r["phantom"][0] > r["none"][0] > r["intact"][0]


def test_yanagisawa_ablation_cortical_gain_off_no_direction():
    """Ablation of the Yanagisawa direction (issue #15): decoder training is claimed to act
    through the phantom-hand representation's amplification of pain. With the cortical
    gain off (``ablate="cortical_pain"``) the three arms' pain no longer differs in that
    order. Measured (seed 9): 2.267 in every arm (on: 5.42 / 3.98 / 2.45)."""
    r = _arms(
        "persistence",
        {
            "none": None,
            "phantom": Levers(decoder_training=1.0),
            "intact": Levers(decoder_training=-1.0),
        },
        ablate=("cortical_pain",),
    )
    assert not r["phantom"][0] > r["none"][0] > r["intact"][0]


def test_bad_levers_and_inputs_raise_input_error():
    """Bad input: one InputError naming the field, value and allowed range."""
    c = Cohort(10, rng=0)
    with pytest.raises(InputError) as e:
        c.step(Levers(drg_block=1.5))
    assert e.value.problems[0].field == "levers.drg_block"
    with pytest.raises(InputError):
        c.step(Levers(abeta_rate=np.ones(3)))
    with pytest.raises(InputError):
        Cohort(10, hypothesis="gate")
    with pytest.raises(InputError):
        Cohort(0)
    with pytest.raises(InputError):
        c.run(0)
    with pytest.raises(InputError):
        c.run(3, levers=lambda d: Levers(visual_feedback=2.0 if d >= 2 else 0.0))


def test_trajectory_result_object(reorg):
    """Results: summary(), to_frame(), plot()."""
    _, tr = reorg
    assert "in silico" in tr.summary()
    df = tr.to_frame()
    assert len(df) == N * DAYS and set(df.columns) >= {"patient", "day", "nrs", "pain"}
    assert df["nrs"].between(0, 10).all()
    import matplotlib

    matplotlib.use("Agg")
    fig = tr.plot()
    assert fig.axes[0].get_ylabel().startswith("NRS")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 4])
def test_reproduction_targets_hold_in_large_cohorts(seed):
    """Robustness of the default-run targets on other seeds with 5,000 patients (slow):
    Flor direction (r > 0, p < 0.001), lip shift of PLP patients 4-16 mm, catastrophizing R² in
    [0.25, 0.37] (sampling SE ~0.01; the calibration targets ~0.31), prevalence 54-74 %."""
    c = Cohort(5000, "reorganization", rng=seed)
    tr = c.run(DAYS)
    nrs = tr.mean_nrs()
    r, p = stats.pearsonr(tr.lip_shift_mm[-1], nrs)
    assert r > 0 and p < 1e-3
    assert 4.0 <= tr.lip_shift_mm[-1][nrs >= 1.0].mean() <= 16.0
    r2 = np.corrcoef(c.traits[:, 0], nrs)[0, 1] ** 2
    assert 0.25 <= r2 <= 0.37
    assert 0.54 <= np.mean(nrs >= 1.0) <= 0.74
