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
from phantomlab.mechanisms.provenance import load_params

__all__ = ["ABLATIONS", "BLOCK", "HYPOTHESES", "PLP_THRESHOLD", "READOUTS", "Day"]

F32 = np.float32

#: The two cortical hypotheses.
HYPOTHESES: tuple[str, ...] = ("reorganization", "persistence")
#: Mechanisms that can be switched off for a falsifiability (ablation) test, with what
#: switching each off does. Used by ``Cohort(ablate=...)``; an empty set is the model.
ABLATIONS: dict[str, str] = {
    "cortical_pain": "cortical amplification of pain off (cortical_gain_reorganization and "
    "cortical_gain_persistence read as 0): pain is the dorsal-horn output times the "
    "psychological gain",
    "deafferented_input": "the deafferented low-threshold (A) channel's spontaneous, "
    "irregular input no longer drives the former hand zone of S1 (per-patient level read "
    "as 0; random draws unchanged): no invasion from deafferentation",
    "efference_prediction": "under persistence the efference copy no longer predicts the "
    "hand's sensory pattern (efference_sensory_prediction read as 0)",
    "catastrophizing": "the catastrophizing state no longer acts on pain (no loss of "
    "descending inhibition, no log-gain); anxiety and depression still act",
    "drg_ectopia": "DRG-origin ectopic discharge off (active DRG fraction 0); the neuroma "
    "generator is kept",
    "visual_feedback": "congruent visual feedback no longer acts on the cortex (no "
    "congruence learning, no seen hand pattern, no structuring of entanglement); "
    "visual_feedback read as 0 by the cortex",
    "motor_execution": "executed phantom movements act like imagined ones (motor_execution "
    "read as 0: no boost of congruence learning or of cortical learning in training)",
    "neuroma_ectopia": "neuroma-origin (residual-limb) ectopic discharge off (per-patient "
    "neuroma fraction 0; random draws unchanged); the DRG generator is kept",
    "cortical_saturation": "the cortical amplification of pain grows without bound with the "
    "lip shift (cortical_gain_saturation read as infinite: the linear form before issue #15)",
}
#: Patients per independently seeded block (fixed: results do not depend on workers).
BLOCK = 2048

#: Parameters of the daily engine (module ``patient``): the table
#: ``mechanisms/data/patient_params.csv`` (value, unit, kind, source and reason of each).
_P = load_params("patient", "patient_params.csv")

# --- per-patient peripheral parameters -------------------------------------------------
DRG_RATE_MEDIAN = _P["drg_rate_median"]
DRG_RATE_SIGMA = _P["drg_rate_sigma"]
NEUROMA_RATE_SIGMA = _P["neuroma_rate_sigma"]
NEUROMA_RATE_MEDIAN = _P["neuroma_rate_median"]
KAPPA = _P["convergence_gain"]
SIGMA_WITHIN = _P["ectopia_within_day_sigma"]
SIGMA_DAY = _P["ectopia_day_sigma"]
D0_MEAN = _P["descending_inhibition_mean"]
D0_SD = _P["descending_inhibition_sd"]
TAU_SENS = _P["tau_sensitization"]
SENS_GAIN = _P["sensitization_gain"]

POT_AMP = _P["potentiation_amplitude"]
POT_DEP_RATE = _P["depotentiation_rate"]
POT_AB_THRESHOLD = _P["depotentiation_abeta_threshold"]
POT_AB_HALF = _P["depotentiation_abeta_half"]
TAU_REPOT = _P["tau_repotentiation"]

# --- cortex -----------------------------------------------------------------------------
GAMMA_REORG = _P["gamma_reorganization"]
GAMMA_PERSIST = _P["gamma_persistence"]
NOCI_INPUT = _P["nociceptive_cortical_input"]
DEAFF_MEDIAN = _P["deafferented_input_median"]
DEAFF_SIGMA = _P["deafferented_input_sigma"]
PRESERVED_SIGMA = _P["preserved_representation_sigma"]
NEUROMA_FRACTION_SIGMA = _P["neuroma_fraction_sigma"]
EFFERENCE = _P["efference_input"]
EFF_PREDICTION = _P["efference_sensory_prediction"]
K_REORG = _P["cortical_gain_reorganization"]
K_PERSIST = _P["cortical_gain_persistence"]
CORT_SAT = _P["cortical_gain_saturation"]
HAND_ACT_REF = _P["hand_activity_reference"]
ENT_INITIAL = _P["entanglement_initial"]
TAU_ENT = _P["tau_entanglement"]

ETA_CONG = _P["congruence_learning_rate"]
PAIN_LEARN = _P["congruence_pain_interference"]
TAU_CONG = _P["tau_congruence"]
ETA_DEC = _P["decoder_learning_rate"]
REP_SPAN = _P["decoder_representation_span"]
TAU_REP = _P["tau_representation"]
EXC_PAIN = _P["excitability_pain_gain"]
EXEC_GAIN = _P["motor_execution_gain"]

# --- readout ------------------------------------------------------------------------------
PAIN_SCALE = _P["pain_scale"]
NRS_SD = _P["nrs_noise_sd"]
EPISODE_RATE = _P["episode_rate_max"]
PLP_THRESHOLD = _P["plp_threshold"]

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
        self,
        n: int,
        hypothesis: str,
        seed: np.random.SeedSequence,
        ectopia_gain: float,
        ablate: frozenset[str] = frozenset(),
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
        if "drg_ectopia" in ablate:  # after the draw: the random stream is unchanged
            self.drg_fraction = np.zeros(n)
        self.ectopia_gain = ectopia_gain
        self.neuroma_rate = np.clip(
            NEUROMA_RATE_MEDIAN * np.exp(NEUROMA_RATE_SIGMA * r.standard_normal(n)),
            0.0,
            pe.NEUROMA_RATE_MAX,
        )
        self.d0 = D0_MEAN + D0_SD * r.standard_normal(n)
        self.traits = ps.sample_traits(n, r)
        # deafferentation (issue #15): the low-threshold (A) channel's spontaneous irregular
        # input to the former hand zone, drawn separately from the C ectopia that drives
        # pain (Spitzer 1995; Michaelis 1995), and the preserved phantom-hand representation
        # strength, independent of ectopia (Kikkert 2016)
        self.deaff = ectopia_gain * DEAFF_MEDIAN * np.exp(DEAFF_SIGMA * r.standard_normal(n))
        if "deafferented_input" in ablate:  # after the draw: the random stream is unchanged
            self.deaff = np.zeros(n)
        self.preserved = np.exp(PRESERVED_SIGMA * r.standard_normal(n) - PRESERVED_SIGMA**2 / 2)
        # neuroma (residual-limb) ectopia as a per-patient share that a peripheral block
        # removes: log-normal around the population fraction, capped at 1
        z = NEUROMA_FRACTION_SIGMA * r.standard_normal(n) - NEUROMA_FRACTION_SIGMA**2 / 2
        self.neuroma_fraction = np.minimum(pe.NEUROMA_FRACTION * np.exp(z), 1.0)
        if "neuroma_ectopia" in ablate:
            self.neuroma_fraction = np.zeros(n)
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
        self.pred = EFF_PREDICTION if persist and "efference_prediction" not in ablate else 0.0
        # the ablation switches (ABLATIONS); without them these are the registry values
        self.k_reorg = 0.0 if "cortical_pain" in ablate else K_REORG
        self.k_persist = 0.0 if "cortical_pain" in ablate else K_PERSIST
        self.cort_sat = np.inf if "cortical_saturation" in ablate else CORT_SAT
        self.noci_input = NOCI_INPUT
        self.catastrophizing = "catastrophizing" not in ablate
        self.vf_on = "visual_feedback" not in ablate
        self.exec_gain = 0.0 if "motor_execution" in ablate else EXEC_GAIN

    def _vf(self, lv: Levers) -> NDArray[np.float64]:
        """Congruent visual feedback as the cortex receives it (0 if ablated)."""
        return np.asarray(lv.visual_feedback, float) * (1.0 if self.vf_on else 0.0)

    def _exec(self, lv: Levers) -> NDArray[np.float64]:
        """Learning boost of executed phantom movements: 1 + gain * motor_execution."""
        return 1.0 + self.exec_gain * np.asarray(lv.motor_execution, float)

    def _acting_states(self) -> NDArray[np.float64]:
        """Psychological states as they act on pain (catastrophizing zeroed if ablated)."""
        if self.catastrophizing:
            return self.states
        st = self.states.copy()
        st[:, 0] = 0.0
        return st

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
            neuroma_fraction=self.neuroma_fraction,
        )
        syn = (1.0 + POT_AMP * self.pot) / (1.0 + POT_AMP)
        ect = KAPPA * syn * (drg + self.ectopia_gain * neu)
        scale = np.exp(SIGMA_WITHIN * _GH_X - SIGMA_WITHIN**2 / 2)
        f_c = pe.BASELINE_RATE + ect[:, None] * scale[None, :]
        f_ab = pe.BASELINE_RATE + np.asarray(lv.abeta_rate, float)
        desc = (
            self.d0
            - ps.descending_drop(self._acting_states())
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
        eff = EFFERENCE * (1.0 + np.asarray(lv.decoder_training, float))
        drive = eff + self.deaff + self.noci_input * noci
        s = self._hand_pattern(lv, pos)
        inp = cx.field_input(self.w, s) + F32(cx.ALPHA) * np.asarray(drive, F32).reshape(-1, 1) * hz
        u = cx.settle(inp, self._exc(lv))
        self._last_move = (inp, u, s)
        # the preserved representation's strength (Kikkert 2016) scales the hand-zone response
        return self.preserved * np.maximum(u, 0)[:, hz > 0].mean(axis=1).astype(float)

    def _hand_pattern(self, lv: Levers, pos: NDArray[np.float64]) -> NDArray[np.float32]:
        """Sensory pattern on the hand receptors during phantom movement."""
        amp = np.clip(self.pred + self._vf(lv), 0.0, 1.0)
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
            # amplification saturates in the shift (issue #15): the lip map keeps drifting
            # for years, and a linear gain drove chronic pain into the readout's ceiling
            x = np.maximum(shift, 0.0) / 8.0
            cort = 1.0 + exc * self.k_reorg * x / (1.0 + x / self.cort_sat)
        else:
            incong = 1.0 - self.cong
            act = self.rep * self.hand_act / HAND_ACT_REF
            cort = 1.0 + exc * self.k_persist * act * (incong + self.ent)
        gain = ps.pain_gain(self._acting_states(), self.plac if plac is None else plac)
        return 10.0 * (1.0 - np.exp(-gain * drive * cort / PAIN_SCALE))

    def _learn(self, lv: Levers, noci: NDArray[np.float64]) -> None:
        """Advance the slow learned states by one day: congruence, representation, spinal LTP."""
        pg = np.asarray(lv.plasticity_gain, float)
        vf = self._vf(lv)
        eta_c = ETA_CONG * pg * self._exec(lv) * vf / (1.0 + self.pain_prev / PAIN_LEARN)
        eta_c = np.minimum(eta_c, 1.0)
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
            drive = self.deaff + self.noci_input * noci
            inp = cx.field_input(self.w, s) + F32(cx.ALPHA) * drive.astype(F32).reshape(-1, 1) * hz
            u = cx.settle(inp, self._exc(lv))
        else:
            hpos = cx.HAND_RANGE[0] + (cx.HAND_RANGE[1] - cx.HAND_RANGE[0]) * pos
            self.hand_act = self._phantom_movement(lv, noci, hpos)
            _, u, s = self._last_move
            rate = rate * self._exec(lv)  # use-dependent plasticity of executed movement
        cx.hebbian_update(self.w, u, s, rate)
        if kind == 0:  # the lip map is read out after lip-touch days (every other day)
            self.shift = cx.lip_position_mm(self.w) - self.lip0
        shift = self.shift
        # entanglement (Ortiz-Catalan 2018): grows with unstructured nociceptive drive of the
        # phantom assembly, shrinks with structured training (visual feedback, remapping)
        structured = np.clip(
            self._vf(lv) + np.maximum(-np.asarray(lv.decoder_training), 0),
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
