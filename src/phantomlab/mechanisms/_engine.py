"""Daily engine of the virtual patient (internal): parameters and one block of patients.

The public interface is :mod:`phantomlab.mechanisms.patient`. A block holds the
per-patient parameters and state arrays of up to ``BLOCK`` patients with its own
random stream, and advances them one day at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from phantomlab.mechanisms import cortical as cx
from phantomlab.mechanisms import peripheral as pe
from phantomlab.mechanisms import psyche as ps
from phantomlab.mechanisms import spinal as sp
from phantomlab.mechanisms.levers import Levers
from phantomlab.mechanisms.provenance import param

__all__ = ["BLOCK", "HYPOTHESES", "PLP_THRESHOLD", "READOUTS", "Day"]

F32 = np.float32

#: The two cortical hypotheses.
HYPOTHESES: tuple[str, ...] = ("reorganization", "persistence")
#: Patients per independently seeded block (fixed: results do not depend on workers).
BLOCK = 2048

_M = "patient"

_PREV = "PLP prevalence 64% (95% CI 60-68%), 2020 meta-analysis PMC7556495 (mechanisms.md §5)"
_GEOM = "lip shift 8 mm, Makin & Flor 2020 NeuroImage 218:116943 Fig. 3 (mechanisms.md §1.3)"

# --- per-patient peripheral parameters -------------------------------------------------
DRG_RATE_MEDIAN = param(
    _M, "drg_rate_median", 3.0, "Hz", "assumed",
    note="median active-DRG rate across patients; only the 0.25-14 Hz range was read "
    "(Pain 1984); human chronic values unknown",
)  # fmt: skip
DRG_RATE_SIGMA = param(
    _M, "drg_rate_sigma", 0.8, "1", "assumed",
    note="log-normal spread of DRG rate across patients, wide enough to span 0.25-14 Hz",
)  # fmt: skip
NEUROMA_RATE_SIGMA = param(
    _M, "neuroma_rate_sigma", 0.8, "1", "assumed",
    note="log-normal spread of the in-burst neuroma rate across patients; not read",
)  # fmt: skip
NEUROMA_RATE_MEDIAN = param(
    _M, "neuroma_rate_median", 8.0, "Hz", "assumed",
    note="in-burst neuroma rate; range 0-100 Hz read (Pain 1984), typical value not read",
)  # fmt: skip
KAPPA = param(
    _M, "convergence_gain", 70.0, "1", "calibrated", _PREV,
    "convergence of injured C fibres onto the deafferented projection neurons: scales the "
    "population-mean ectopic rate into the Crodelle-Maia input; tuned so ~64% of the "
    "default reorganization cohort has mean NRS >= 1 after 1 year (test_patient)",
)  # fmt: skip
SIGMA_WITHIN = param(
    _M, "ectopia_within_day_sigma", 0.5, "1", "assumed",
    note="log-normal fluctuation of ectopic drive within a day (bursting, Pain 1984); "
    "the day's pain averages the dorsal-horn steady state over it",
)  # fmt: skip
SIGMA_DAY = param(
    _M, "ectopia_day_sigma", 0.25, "1", "assumed",
    note="day-to-day log-normal fluctuation of ectopic drive; not read",
)  # fmt: skip
D0_MEAN = param(
    _M, "descending_inhibition_mean", 4.0, "Hz", "assumed",
    note="baseline descending inhibition of P (Hz-equivalent); an addition to Crodelle-Maia",
)  # fmt: skip
D0_SD = param(
    _M, "descending_inhibition_sd", 2.0, "Hz", "assumed",
    note="between-patient spread of descending inhibition; not read",
)  # fmt: skip
TAU_SENS = param(
    _M, "tau_sensitization", 30.0, "day", "assumed",
    note="central sensitization builds and fades over weeks; not read",
)  # fmt: skip
SENS_GAIN = param(
    _M, "sensitization_gain", 0.5, "1", "assumed",
    note="NMDA ceiling rises by up to 50% with sustained maximal P output; not read",
)  # fmt: skip

POT_AMP = param(
    _M, "potentiation_amplitude", 1.0, "1", "assumed",
    note="long-term potentiation of C-fibre -> projection-neuron synapses, induced by the "
    "amputation barrage, multiplies the ectopic C drive by (1 + POT_AMP*pot)/(1 + POT_AMP); "
    "pot = 1 at amputation, so fully depotentiated synapses carry half the drive. LTP at "
    "C-fibre synapses as a substrate of lasting central sensitization (Sandkuhler; "
    "qualitative, magnitude not read). Untreated patients stay at pot = 1 (natural course "
    "unchanged); the state explains the 12-month carry-over of 60-day PNS (Gilmore 2020)",
)  # fmt: skip
POT_DEP_RATE = param(
    _M, "depotentiation_rate", 0.15, "1/day", "assumed",
    note="daily depotentiation of that LTP by sustained afferent (Abeta) conditioning "
    "stimulation at full drive; afferent low-threshold conditioning depresses C-fibre "
    "synapses in the dorsal horn (Sandkuhler 1997 J Neurosci 17:6483, not read here). "
    "Weeks of continuous stimulation are needed (Gilmore 2019: 60-day course)",
)  # fmt: skip
POT_AB_THRESHOLD = param(
    _M, "depotentiation_abeta_threshold", 50.0, "Hz", "assumed",
    note="added Abeta rate per fibre at the dorsal horn below which conditioning does not "
    "depotentiate (plasticity induction has a threshold). Placed between the rates that "
    "reach the dorsal horn through dorsal-column collaterals in tonic SCS (about 25-45 Hz "
    "in phantomlab.therapies.scs) and direct peripheral-nerve stimulation (100 Hz), so that "
    "PNS carry-over (Gilmore 2020) and SCS habituation (Nihon 2001) both hold; a model "
    "choice, not a measured value",
)  # fmt: skip
POT_AB_HALF = param(
    _M, "depotentiation_abeta_half", 25.0, "Hz", "assumed",
    note="Abeta rate above the threshold giving half-maximal depotentiation; not read",
)  # fmt: skip
TAU_REPOT = param(
    _M, "tau_repotentiation", 1500.0, "day", "assumed",
    note="re-potentiation by ongoing low-rate ectopia is slow (LTP induction needs "
    "high-frequency C bursts such as the amputation barrage); years at maximal P output. "
    "Chosen so relief outlasts a 60-day PNS course by >= 12 months (Gilmore 2020: 6/9 "
    "responders at 12 months vs 0/14)",
)  # fmt: skip

# --- cortex -----------------------------------------------------------------------------
GAMMA_REORG = param(
    _M, "gamma_reorganization", 0.08, "1/day", "calibrated", _GEOM,
    "daily learning rate of the S1 map under the reorganization hypothesis (a day's "
    "touches lumped into one event); tuned so the mean lip shift of patients with PLP is "
    "of the order of 8 mm at 1 year",
)  # fmt: skip
GAMMA_PERSIST = param(
    _M, "gamma_persistence", 0.03, "1/day", "assumed",
    note="under persistence (Makin 2013) the adult map changes little; 1/3 of the "
    "reorganization rate",
)  # fmt: skip
NOCI_INPUT = param(
    _M, "nociceptive_cortical_input", 1.0, "alpha", "assumed",
    note="unstructured drive of the deafferented hand zone by the nociceptive channel "
    "(P output / max P), in units of the field input scale α; Boström 2014 drive their "
    "model with spontaneous activity of deafferented nociceptive channels",
)  # fmt: skip
EFFERENCE = param(
    _M, "efference_input", 0.3, "alpha", "assumed",
    note="motor efference to the former hand zone during phantom movement (units of α)",
)  # fmt: skip
EFF_PREDICTION = param(
    _M, "efference_sensory_prediction", 1.0, "1", "assumed",
    note="under persistence the efference copy predicts the hand's sensory pattern, which "
    "maintains the hand map (Makin 2013); 0 under reorganization",
)  # fmt: skip
K_REORG = param(
    _M, "cortical_gain_reorganization", 1.0, "1/8mm", "assumed",
    note="pain amplification per 8 mm of lip shift (Flor 1995: pain as perceptual correlate "
    "of reorganization); value not read",
)  # fmt: skip
K_PERSIST = param(
    _M, "cortical_gain_persistence", 1.0, "1", "assumed",
    note="pain amplification per unit of reference hand-zone activity times "
    "(incongruence + entanglement); value not read",
)  # fmt: skip
HAND_ACT_REF = param(
    _M, "hand_activity_reference", 0.02, "field", "assumed",
    note="hand-zone activity during phantom movement that doubles pain at full "
    "incongruence; order of the settled field activity",
)  # fmt: skip
ENT_INITIAL = param(
    _M, "entanglement_initial", 0.5, "1", "assumed",
    note="entanglement of pain with the phantom assembly at amputation (0-1); mid-range "
    "because pre-amputation pain is not modelled",
)  # fmt: skip
TAU_ENT = param(
    _M, "tau_entanglement", 60.0, "day", "assumed",
    note="entanglement of pain with the phantom assembly (Ortiz-Catalan 2018) builds and "
    "decays over months; not read",
)  # fmt: skip

ETA_CONG = param(
    _M, "congruence_learning_rate", 0.12, "1/session", "assumed",
    note="fraction of the remaining sensorimotor incongruence learned per session of full "
    "congruent visual feedback (times plasticity_gain); relief is learned over sessions, not "
    "immediate (Scand J Pain 2017, doi:10.1016/j.sjpain.2017.01.007: onset by session 7, 14 "
    "or 21 with low, medium or high baseline PLP; mechanisms.md §4). Rate not read",
)  # fmt: skip
PAIN_LEARN = param(
    _M, "congruence_pain_interference", 3.0, "NRS", "assumed",
    note="yesterday's pain that halves the congruence learning rate (pain competes for "
    "attention and interferes with sensorimotor relearning); chosen so that relief from "
    "mirror therapy starts later in patients with more severe PLP (Scand J Pain 2017: "
    "sessions 7/14/21 for low/medium/high baseline PLP). Not read",
)  # fmt: skip
TAU_CONG = param(
    _M, "tau_congruence", 90.0, "day", "assumed",
    note="learned congruence fades without feedback over months; not read",
)  # fmt: skip
ETA_DEC = param(
    _M, "decoder_learning_rate", 0.35, "1/session", "assumed",
    note="fraction of the way to the trained phantom-representation strength reached per "
    "full BCI session (times plasticity_gain); Yanagisawa 2020 (optim_bci.md §3.1) saw "
    "the effect after 3 daily sessions. Rate not read",
)  # fmt: skip
REP_SPAN = param(
    _M, "decoder_representation_span", 0.9, "1", "assumed",
    note="trained phantom-hand representation strength is 1 + span*decoder_training: the "
    "intact-hand decoder (-1) degrades the phantom-hand code (lower classification of "
    "phantom movements; Yanagisawa 2016/2020), the phantom decoder (+1) sharpens it",
)  # fmt: skip
TAU_REP = param(
    _M, "tau_representation", 30.0, "day", "assumed",
    note="the trained representation relaxes back over weeks; Yanagisawa 2020 still saw "
    "-36% at day 8 (optim_bci.md §3.1). Time constant not read",
)  # fmt: skip
EXC_PAIN = param(
    _M, "excitability_pain_gain", 1.0, "1", "assumed",
    note="the cortical amplification of pain scales as cortical_excitability**gain; S1/M1 "
    "excitability raising and lowering the cortical contribution; not read",
)  # fmt: skip

# --- readout ------------------------------------------------------------------------------
PAIN_SCALE = param(
    _M, "pain_scale", 0.6, "1", "assumed",
    note="drive at which latent pain reaches 63% of 10 NRS points (saturating readout)",
)  # fmt: skip
NRS_SD = param(
    _M, "nrs_noise_sd", 0.8, "NRS", "assumed",
    note="day-to-day report noise of a 0-10 NRS; not read",
)  # fmt: skip
EPISODE_RATE = param(
    _M, "episode_rate_max", 6.0, "1/day", "assumed",
    note="pain attacks per day at maximal pain; not read",
)  # fmt: skip
PLP_THRESHOLD = param(
    _M, "plp_threshold", 1.0, "NRS", "assumed",
    note="mean NRS at or above which a virtual patient counts as having PLP",
)  # fmt: skip

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(5)
_GH_W = _GH_W / _GH_W.sum()


@dataclass(frozen=True)
class Day:
    """One simulated day (or acute evaluation) for every patient.

    Attributes
    ----------
    nrs : ndarray of int, shape (n,)
        Reported NRS 0–10 (with report noise).
    pain : ndarray, shape (n,)
        Latent pain, NRS units (no report noise).
    episodes : ndarray of int, shape (n,)
        Pain attacks that day.
    f_p : ndarray, shape (n,)
        Day-mean dorsal-horn projection rate, Hz.
    f_c : ndarray, shape (n,)
        Day-mean C input per fibre, Hz.
    lip_shift_mm : ndarray, shape (n,)
        Medial shift of the lip representation since amputation, mm.
    hand_activity : ndarray, shape (n,)
        Former hand-zone activity during phantom movement (field units).
    """

    nrs: NDArray[np.int64]
    pain: NDArray[np.float64]
    episodes: NDArray[np.int64]
    f_p: NDArray[np.float64]
    f_c: NDArray[np.float64]
    lip_shift_mm: NDArray[np.float64]
    hand_activity: NDArray[np.float64]

    @staticmethod
    def concat(days: list[Day]) -> Day:
        """Concatenate block results along patients.

        Parameters
        ----------
        days : list of Day
            Per-block results in block order.

        Returns
        -------
        Day
            Whole-cohort result.
        """
        return Day(*(np.concatenate([getattr(d, f.name) for d in days]) for f in fields(Day)))


READOUTS = ("nrs", "pain", "episodes", "f_p", "lip_shift_mm", "hand_activity")


class _Block:
    """Patients ``sl`` of a cohort, with their own random stream (internal)."""

    def __init__(
        self, n: int, hypothesis: str, seed: np.random.SeedSequence, ectopia_gain: float
    ) -> None:
        self.n = n
        self.hyp = hypothesis
        self.rng = np.random.default_rng(seed)
        r = self.rng
        lo, hi = pe.DRG_RATE_MIN, pe.DRG_RATE_MAX
        self.drg_rate = np.clip(
            DRG_RATE_MEDIAN * np.exp(DRG_RATE_SIGMA * r.standard_normal(n)), lo, hi
        )
        self.drg_fraction = ectopia_gain * r.uniform(pe.DRG_FRACTION_MIN, pe.DRG_FRACTION_MAX, n)
        self.ectopia_gain = ectopia_gain
        self.neuroma_rate = np.clip(
            NEUROMA_RATE_MEDIAN * np.exp(NEUROMA_RATE_SIGMA * r.standard_normal(n)),
            0.0,
            pe.NEUROMA_RATE_MAX,
        )
        self.d0 = D0_MEAN + D0_SD * r.standard_normal(n)
        self.traits = ps.sample_traits(n, r)
        # state
        self.states = self.traits.copy()
        self.w = np.repeat(cx.template_map()[None], n, axis=0).copy()
        self.lip0 = cx.lip_position_mm(self.w)
        self.p_nodes = np.zeros((n, _GH_X.size))
        self.sens = np.ones(n)
        self.ent = np.full(n, ENT_INITIAL)
        self.hand_act = np.zeros(n)
        self.shift = np.zeros(n)
        self.pain_prev = np.zeros(n)
        self.pot = np.ones(n)  # spinal LTP (1 = as induced at amputation)
        self.cong = np.zeros(n)  # learned sensorimotor congruence (0-1)
        self.rep = np.ones(n)  # phantom-hand representation strength (1 = untrained)
        self.plac = np.zeros(n)  # conditioned placebo response (0-1)
        self.day = 0
        persist = hypothesis == "persistence"
        self.gamma = GAMMA_PERSIST if persist else GAMMA_REORG
        self.pred = EFF_PREDICTION if persist else 0.0

    # fast subsystems ------------------------------------------------------------------
    def _spinal(
        self, lv: Levers, day_factor: NDArray[np.float64], commit: bool
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        drg, neu = pe.ectopic_rates(
            self.drg_rate * day_factor,
            self.drg_fraction,
            self.neuroma_rate * day_factor,
            drg_block=lv.drg_block,
            conduction_block=lv.conduction_block,
            tj_filter=lv.tj_filter,
            stump_pressure=lv.stump_pressure,
        )
        syn = (1.0 + POT_AMP * self.pot) / (1.0 + POT_AMP)
        ect = KAPPA * syn * (drg + self.ectopia_gain * neu)
        scale = np.exp(SIGMA_WITHIN * _GH_X - SIGMA_WITHIN**2 / 2)
        f_c = pe.BASELINE_RATE + ect[:, None] * scale[None, :]
        f_ab = pe.BASELINE_RATE + np.asarray(lv.abeta_rate, float)
        desc = (
            self.d0
            - ps.descending_drop(self.states)
            + np.asarray(lv.descending_inhibition)
            + ps.placebo_descending(self.plac)
        )
        p, _ = sp.steady_state(
            np.broadcast_to(np.asarray(f_ab, float).reshape(-1, 1), f_c.shape),
            f_c,
            descending=np.asarray(desc, float).reshape(-1, 1),
            sensitization=self.sens[:, None],
            p0=self.p_nodes,
            n_iter=15,
        )
        if commit:
            self.p_nodes = p
        return p @ _GH_W, f_c @ _GH_W

    def _phantom_movement(
        self, lv: Levers, noci: NDArray[np.float64], pos: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        hz = cx.hand_zone()
        # decoder training (Yanagisawa 2016/2020): + reinforces the phantom-hand drive of the
        # former hand zone, - (intact-hand decoder) weakens it
        drive = EFFERENCE * (1.0 + np.asarray(lv.decoder_training, float)) + NOCI_INPUT * noci
        s = self._hand_pattern(lv, pos)
        inp = cx.field_input(self.w, s) + F32(cx.ALPHA) * np.asarray(drive, F32).reshape(-1, 1) * hz
        u = cx.settle(inp, self._exc(lv))
        self._last_move = (inp, u, s)
        return np.maximum(u, 0)[:, hz > 0].mean(axis=1).astype(float)

    def _hand_pattern(self, lv: Levers, pos: NDArray[np.float64]) -> NDArray[np.float32]:
        """Sensory pattern on the hand receptors during phantom movement."""
        amp = np.clip(self.pred + np.asarray(lv.visual_feedback, float), 0.0, 1.0)
        s = cx.stimulus(pos)
        s[:, cx.LIP] = 0.0
        s[:, cx.ARM] = 0.0
        return s * np.broadcast_to(np.asarray(amp, F32), (self.n,)).reshape(-1, 1)

    def _exc(self, lv: Levers) -> NDArray[np.float32] | float:
        e = lv.cortical_excitability
        return np.asarray(e, F32) if np.ndim(e) else float(e)

    def _readout(
        self,
        lv: Levers,
        f_p: NDArray[np.float64],
        shift: NDArray[np.float64],
        plac: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        drive = f_p / sp.MAX_P
        exc = np.asarray(lv.cortical_excitability, float) ** EXC_PAIN
        if self.hyp == "reorganization":
            cort = 1.0 + exc * K_REORG * np.maximum(shift, 0.0) / 8.0
        else:
            incong = 1.0 - self.cong
            act = self.rep * self.hand_act / HAND_ACT_REF
            cort = 1.0 + exc * K_PERSIST * act * (incong + self.ent)
        gain = ps.pain_gain(self.states, self.plac if plac is None else plac)
        return 10.0 * (1.0 - np.exp(-gain * drive * cort / PAIN_SCALE))

    def _learn(self, lv: Levers, noci: NDArray[np.float64]) -> None:
        """Advance the slow learned states by one day: congruence, representation, spinal LTP."""
        pg = np.asarray(lv.plasticity_gain, float)
        vf = np.asarray(lv.visual_feedback, float)
        eta_c = np.minimum(ETA_CONG * pg * vf / (1.0 + self.pain_prev / PAIN_LEARN), 1.0)
        self.cong += eta_c * (1.0 - self.cong) - self.cong / TAU_CONG
        dec = np.asarray(lv.decoder_training, float)
        trained = np.abs(dec) > 0
        eta = np.where(trained, np.minimum(ETA_DEC * pg * np.abs(dec), 1.0), 1.0 / TAU_REP)
        target = np.where(trained, 1.0 + REP_SPAN * np.sign(dec), 1.0)
        self.rep += eta * (target - self.rep)
        ab = np.asarray(lv.abeta_rate, float)
        over = np.maximum(ab - POT_AB_THRESHOLD, 0.0)
        dep = POT_DEP_RATE * over / (over + POT_AB_HALF)
        self.pot += (1.0 - self.pot) * noci / TAU_REPOT - dep * self.pot

    # one day ---------------------------------------------------------------------------
    def step(self, lv: Levers) -> Day:
        r = self.rng
        n = self.n
        day_factor = np.exp(SIGMA_DAY * r.standard_normal(n) - SIGMA_DAY**2 / 2)
        pos = r.uniform(0.0, 1.0, n)
        nrs_noise = r.standard_normal(n)
        ep_u = r.uniform(0.0, 1.0, n)
        self.plac = ps.step_placebo(self.plac, lv.expectation)
        f_p, f_c = self._spinal(lv, day_factor, commit=True)
        noci = f_p / sp.MAX_P
        # cortex: one event per day, alternating lip/face touch and phantom movement
        kind = self.day % 2
        rate = self.gamma * np.asarray(lv.plasticity_gain, float)
        hz = cx.hand_zone()
        if kind == 0:
            lo, hi = cx.LIP_RANGE
            s = cx.stimulus(lo + (hi - lo) * pos)
            inp = (
                cx.field_input(self.w, s)
                + F32(cx.ALPHA * NOCI_INPUT) * noci.astype(F32).reshape(-1, 1) * hz
            )
            u = cx.settle(inp, self._exc(lv))
        else:
            hpos = cx.HAND_RANGE[0] + (cx.HAND_RANGE[1] - cx.HAND_RANGE[0]) * pos
            self.hand_act = self._phantom_movement(lv, noci, hpos)
            _, u, s = self._last_move
        cx.hebbian_update(self.w, u, s, rate)
        if kind == 0:  # the lip map is read out after lip-touch days (every other day)
            self.shift = cx.lip_position_mm(self.w) - self.lip0
        shift = self.shift
        # entanglement (Ortiz-Catalan 2018): grows with unstructured nociceptive drive of the
        # phantom assembly, shrinks with structured training (visual feedback, remapping)
        structured = np.clip(
            np.asarray(lv.visual_feedback, float) + np.maximum(-np.asarray(lv.decoder_training), 0),
            0.0,
            1.0,
        )
        target = np.clip(noci * (1.0 - structured) + np.maximum(lv.decoder_training, 0.0), 0, 1)
        self.ent += (target - self.ent) / TAU_ENT
        self._learn(lv, noci)
        pain = self._readout(lv, f_p, shift)
        self.sens += (1.0 + SENS_GAIN * noci - self.sens) / TAU_SENS
        self.states = ps.step_states(self.states, self.traits, self.pain_prev)
        self.pain_prev = pain
        self.day += 1
        nrs = np.clip(np.rint(pain + NRS_SD * nrs_noise), 0, 10).astype(np.int64)
        lam = EPISODE_RATE * pain / 10.0
        episodes = _poisson_from_uniform(lam, ep_u)
        return Day(nrs, pain, episodes, f_p, f_c, shift, self.hand_act.copy())

    def acute(self, lv: Levers) -> Day:
        saved_plac = self.plac  # an expectation acts within the hour (conditioning aside)
        self.plac = np.maximum(self.plac, np.asarray(lv.expectation, float))
        f_p, f_c = self._spinal(lv, np.ones(self.n), commit=False)
        saved = self.hand_act
        if self.hyp == "persistence":
            mid = np.full(self.n, 0.5 * (cx.HAND_RANGE[0] + cx.HAND_RANGE[1]))
            self.hand_act = self._phantom_movement(lv, f_p / sp.MAX_P, mid)
        shift = cx.lip_position_mm(self.w) - self.lip0
        pain = self._readout(lv, f_p, shift)
        hand = self.hand_act.copy()
        self.hand_act = saved
        self.plac = saved_plac
        zeros = np.zeros(self.n, dtype=np.int64)
        return Day(np.rint(pain).astype(np.int64), pain, zeros, f_p, f_c, shift, hand)


def _poisson_from_uniform(lam: NDArray[np.float64], u: NDArray[np.float64]) -> NDArray[np.int64]:
    """Poisson draws by inversion of one uniform each (keeps the random stream fixed)."""
    k = np.zeros(lam.shape, dtype=np.int64)
    p = np.exp(-lam)
    cdf = p.copy()
    for i in range(1, 40):
        more = u > cdf
        if not more.any():
            break
        k += more
        p = p * lam / i
        cdf += p
    return k
