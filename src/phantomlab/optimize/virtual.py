"""Virtual SCS patients of the ``therapies`` layer as a :class:`PatientResponse`.

:class:`TherapySCSPatients` answers protocols with the project's own virtual
patients instead of hand-built response surfaces:

* **Patients**: a :class:`~phantomlab.cohorts.VirtualCohort` drawn from the
  calibrated cohort spec (:func:`~phantomlab.cohorts.calibrated_cohort_spec`),
  warmed up from amputation by the ``mechanisms`` model; only patients whose
  baseline week is at least ``min_baseline`` NRS and who pass the spec's
  enrolment screen are kept (patients referred for SCS have pain).
* **Therapy**: :class:`~phantomlab.therapies.scs.SCSTherapy` with the calibrated
  parameters. Its per-patient draws (contact-to-dorsal-column distance,
  paresthesia coverage, habituation, expectation) are made by
  :meth:`~phantomlab.therapies.base.Therapy.prepare`, and the ``abeta_rate``
  lever of any (patient, protocol) pair is computed by the therapy's own
  :meth:`~phantomlab.therapies.scs.SCSTherapy.specific` on day 0 of the course
  (a trial-stimulation session: no habituation yet). Many pairs are evaluated as
  one cohort state of replicated patients, grouped by (pulse width, frequency)
  because the therapy takes those two as scalars.
* **Read-out**: the pain within the hour of the stimulation session,
  :meth:`phantomlab.mechanisms.patient.Cohort.acute` (fast subsystems re-solved
  with the levers, slow state frozen, no report noise), with the patient's own
  expectation lever. The SCS therapy drives only ``abeta_rate``, so each
  patient's acute pain is a function of one number: it is tabulated once per
  patient on a fine ``abeta_rate`` grid (:attr:`abeta_grid_`) by calling
  ``acute`` and interpolated linearly (``tests/optimize`` checks the table
  against direct ``acute`` calls). Expected NRS change = acute pain without
  stimulation minus acute pain with the protocol.

What the therapies layer does not model, and is **assumed** here (listed in
:data:`THERAPY_SCS_ASSUMPTIONS`): the contact geometry along the lead (the
SCS therapy has one contact-to-cord distance per patient and no bipole
choice) and a side-effect rating (the therapy exposes the perception
threshold, not discomfort). Both are documented below with their reasons.
Results are in silico.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import ndtr

from phantomlab._params import Param, make_param
from phantomlab._rng import RNGLike, as_generator, child_seeds
from phantomlab._validation import check_range, raise_if
from phantomlab.exceptions import InputError, Problem
from phantomlab.mechanisms.patient import Levers
from phantomlab.optimize.response import (
    NRS_REPORT_SD,
    Responses,
    noisy_reports,
    threshold_anchored_spaces,
)
from phantomlab.optimize.space import Categorical, ParameterSpace, default_space

__all__ = ["THERAPY_SCS_ASSUMPTIONS", "TherapySCSPatients"]


def _adds(name: str, value: float, unit: str, kind: str, note: str, source: str = "") -> Param:
    return make_param("scs_virtual", name, value, unit, kind, source, note)


#: Numbers this adapter adds to the therapies layer (module ``scs_virtual``), with
#: their source or the reason they are assumed, keyed by name.
THERAPY_SCS_ASSUMPTIONS: dict[str, Param] = {
    p.name: p
    for p in (
        _adds(
            "target_sd",
            7e-3,
            "m",
            "assumed",
            "phantom-dermatome target along the lead, normal around the lead centre (one contact "
            "pitch), clipped to the lead: SCSTherapy has no contact geometry; leads are placed "
            "so that paresthesia overlaps the painful area (NANS practice parameters), the "
            "spread stands for imperfect placement",
        ),
        _adds(
            "field_d50",
            8e-3,
            "m",
            "source",
            "coverage of the dermatome from a bipole = therapy coverage draw x 2^-(d/d50)^2, "
            "d = bipole-to-target distance: 50% field fall-off rostro-caudally; the bell shape "
            "is assumed",
            "SCS dose-scaling FEM study, PMC6919276 (via research/fields.md)",
        ),
        _adds(
            "contact_log_sd",
            0.15,
            "1",
            "assumed",
            "contact-to-cord distance per bipole = therapy distance draw x exp(N(0, sd^2)): CSF "
            "thickness varies along the lead (NANS: threshold depends on distance to cord); "
            "spread not read",
        ),
        _adds(
            "discomfort_ratio_low",
            1.4,
            "1",
            "assumed",
            "discomfort / perception threshold ratio, uniform between low and high per patient "
            "(perception threshold from SCSTherapy.perception_threshold): a therapeutic window "
            "above 1 must exist; no ratio read in a source",
        ),
        _adds("discomfort_ratio_high", 2.2, "1", "assumed", "see discomfort_ratio_low"),
        _adds(
            "discomfort_log_sd",
            0.20,
            "1",
            "assumed",
            "discomfort rating 10 x Phi(ln(I / (ratio x I_perception)) / sd) on 0-10: steep but "
            "smooth rise above the discomfort threshold; slope not read",
        ),
        _adds(
            "screen_factor",
            2.0,
            "1",
            "assumed",
            "trial screening: keep patients whose perception threshold at the seed bipole is <= "
            "the space's amplitude bound / factor, and whose acute and weekly baseline NRS are "
            ">= min_baseline. SCSTherapy's thresholds rise steeply with the CSF distance (many "
            "patients above the 8 mA of the optimize space); a patient without paresthesia and "
            "a therapeutic window in the programmable range fails the trial and is not programmed",
        ),
        _adds(
            "readout_day",
            0.0,
            "d",
            "assumed",
            "read-out: Cohort.acute pain on this day of the course with the patient's "
            "expectation lever; programming sessions judge the pain during trial stimulation, "
            "and habituation (SCSTherapy tolerance) has not started on day 0",
        ),
        _adds(
            "report_noise_sd",
            NRS_REPORT_SD,
            "NRS",
            "source",
            "Gaussian report noise then rounded to integers in 0-10; NRS standard error of "
            "measurement 1.02; the same sd is assumed for the 0-10 discomfort rating",
            "Childs JD et al., Spine 2005;30(11):1331-4, PMID 15928561",
        ),
    )
}

_PITCH_SD = THERAPY_SCS_ASSUMPTIONS["target_sd"].value
_D50 = THERAPY_SCS_ASSUMPTIONS["field_d50"].value
_CONTACT_SD = THERAPY_SCS_ASSUMPTIONS["contact_log_sd"].value
_RATIO = (
    THERAPY_SCS_ASSUMPTIONS["discomfort_ratio_low"].value,
    THERAPY_SCS_ASSUMPTIONS["discomfort_ratio_high"].value,
)
_SLOPE = THERAPY_SCS_ASSUMPTIONS["discomfort_log_sd"].value
_SCREEN_FACTOR = THERAPY_SCS_ASSUMPTIONS["screen_factor"].value
_READOUT_DAY = int(THERAPY_SCS_ASSUMPTIONS["readout_day"].value)


class TherapySCSPatients:
    """Virtual SCS patients of the mechanisms + therapies layers (see the module docstring).

    Parameters
    ----------
    n_patients : int
        Patients to keep (1-2000).
    rng : int, SeedSequence, Generator or None
        Seed of the cohort, the therapy draws and the assumed geometry.
    space : ParameterSpace or None
        SCS space (default :func:`default_space("scs") <default_space>`); its
        ``contacts`` parameter must carry bipole positions (m).
    spec : CohortSpec or None
        Population (default: the calibrated cohort spec).
    params : mapping or None
        Therapy parameters keyed ``"module.name"`` (default: the stored calibration).
    min_baseline : float
        Lowest baseline NRS of a kept patient.
    abeta_step : float
        Step of the tabulated ``abeta_rate`` grid, Hz.
    """

    label = (
        "therapies-layer virtual SCS patients (calibrated cohort, mechanisms acute pain, "
        "SCSTherapy recruitment; contact geometry and discomfort assumed)"
    )

    def __init__(
        self,
        n_patients: int,
        rng: RNGLike = 0,
        space: ParameterSpace | None = None,
        spec: Any = None,
        params: Mapping[str, float] | None = None,
        min_baseline: float = 4.0,
        abeta_step: float = 0.5,
    ) -> None:
        from phantomlab.cohorts import (
            VirtualCohort,
            calibrated_cohort_spec,
            calibrated_params,
            therapy_params,
        )
        from phantomlab.protocols import load_protocol
        from phantomlab.therapies import get_therapy

        raise_if(
            check_range("n_patients", n_patients, low=1, high=2000)
            + check_range("min_baseline", min_baseline, low=0.0, high=10.0)
            + check_range("abeta_step", abeta_step, low=0.01, high=10.0)
        )
        self.space = space or default_space("scs")
        contacts = self.space.parameter("contacts")
        if not isinstance(contacts, Categorical) or contacts.positions is None:
            raise InputError(
                Problem("space.contacts", contacts, "categorical with positions", "", "bad space")
            )
        self._pos = np.asarray(contacts.positions, dtype=float)
        n = int(n_patients)
        self._n = n
        spec = spec if spec is not None else calibrated_cohort_spec()
        params = dict(calibrated_params() if params is None else params)
        self.therapy = get_therapy("scs", therapy_params("scs", params))
        s_cohort, s_therapy, s_geom = child_seeds(rng, 3)
        amp_hi = float(self.space.parameter("amplitude").high)  # type: ignore[union-attr]
        seed_pt = dict(self.space.safe_seed)
        j_seed = int(contacts.index([seed_pt["contacts"]])[0])
        self._proto = load_protocol(self.space.protocol_fields(seed_pt))
        pool = max(4 * n, 40)
        for _ in range(6):
            vc = VirtualCohort(spec, pool, s_cohort)
            pop = vc.population
            state = self.therapy.prepare(self._proto, pool, s_therapy, 0)
            g = as_generator(s_geom)
            centre = 0.5 * (self._pos.min() + self._pos.max())
            target = np.clip(
                centre + _PITCH_SD * g.standard_normal(pool), self._pos.min(), self._pos.max()
            )
            cfac = np.exp(_CONTACT_SD * g.standard_normal((pool, self._pos.size)))
            ratio = g.uniform(*_RATIO, pool)
            thr = self.therapy.perception_threshold(  # type: ignore[attr-defined]
                state.draws["distance"] * cfac[:, j_seed], float(seed_pt["pulse_width"])
            )
            acute0 = np.empty(pool)
            for sl, cohort in vc.groups:  # the warmed strata of the virtual cohort
                acute0[sl] = cohort.acute(None).pain
            ok = np.flatnonzero(
                pop.enrolled
                & (pop.baseline_nrs >= min_baseline)
                & (acute0 >= min_baseline)
                & (thr <= amp_hi / _SCREEN_FACTOR)
            )
            if ok.size >= n:
                break
            pool *= 2
        else:
            raise InputError(
                Problem("n_patients", n, f"<= {ok.size} eligible", "", "too few eligible patients")
            )
        chosen = np.sort(g.permutation(ok)[:n])
        self.cohort_index_ = chosen
        self.n_screened_ = pool
        self.n_eligible_ = int(ok.size)
        self._dose = dict(state.dose)
        self._calendar = state.calendar
        dr = {k: np.asarray(v)[chosen] for k, v in state.draws.items()}
        self.distance_ = dr["distance"]
        self.coverage_ = dr["coverage"]
        self.tolerance_ = dr["tolerance"]
        self.expectation_ = dr["expectation"]
        self.population_ = pop.to_frame().iloc[chosen].reset_index(drop=True)
        # assumed geometry and discomfort (THERAPY_SCS_ASSUMPTIONS)
        self.target_ = target[chosen]
        self.contact_factor_ = cfac[chosen]
        self.discomfort_ratio_ = ratio[chosen]
        # acute pain tables of the chosen patients
        fmax = self.space.parameter("frequency").high  # type: ignore[union-attr]
        top = self._transmitted(float(fmax)) * 1.02 + 2.0 * abeta_step
        self.abeta_grid_ = np.arange(0.0, top + abeta_step, abeta_step)
        self._step = float(abeta_step)
        self._groups = []
        table = np.empty((n, self.abeta_grid_.size))
        base = np.empty(n)
        exp_pool = np.asarray(state.draws["expectation"])
        for sl, cohort in vc.groups:  # the warmed strata of the virtual cohort
            members = np.flatnonzero((chosen >= sl.start) & (chosen < sl.stop))
            if members.size == 0:
                continue
            local = chosen[members] - sl.start
            self._groups.append((cohort, members, local))
            expect = exp_pool[sl]
            base[members] = cohort.acute(None).pain[local]
            for j, a in enumerate(self.abeta_grid_):
                lv = Levers(abeta_rate=np.full(cohort.n_patients, a), expectation=expect)
                table[members, j] = cohort.acute(lv).pain[local]
        self.pain_table_ = table
        self.baseline_ = base

    # ------------------------------------------------------------------ basics
    @property
    def n_patients(self) -> int:
        """Number of patients."""
        return self._n

    @property
    def baseline_nrs(self) -> np.ndarray:
        """Acute pain without stimulation, shape ``(n_patients,)``."""
        return self.baseline_.copy()

    def _transmitted(self, frequency: float) -> float:
        th = self.therapy
        rate = min(frequency, th.p("max_following"))
        return float(rate / (1.0 + rate / th.p("collateral_fc")))

    def _cols(self, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for name in ("contacts", "amplitude", "pulse_width", "frequency"):
            a = np.asarray(columns[name])
            if a.ndim == 2 and a.shape[0] != self._n:
                raise InputError(
                    Problem(name, a.shape, f"(n_points,) or ({self._n}, k)", "", "bad shape")
                )
            out[name] = a[None, :] if a.ndim == 1 else a
        shape = np.broadcast_shapes((self._n, 1), *(v.shape for v in out.values()))
        return {k: np.broadcast_to(v, shape) for k, v in out.items()}

    # ------------------------------------------------------------------ physics
    def _bipole(self, c: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        idx = c["contacts"].astype(int)
        rows = np.broadcast_to(np.arange(self._n)[:, None], idx.shape)
        dist = self.distance_[rows] * self.contact_factor_[rows, idx]
        d = np.abs(self._pos[idx] - self.target_[rows])
        cov = self.coverage_[rows] * 2.0 ** (-((d / _D50) ** 2))
        return dist, cov

    def abeta_rate(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """``abeta_rate`` lever (Hz) of each patient at each point, by ``SCSTherapy.specific``.

        Parameters
        ----------
        columns : mapping
            ``contacts`` (index), ``amplitude`` (A), ``pulse_width`` (s),
            ``frequency`` (Hz), each 1-D or ``(n_patients, k)``.

        Returns
        -------
        ndarray
            Shape ``(n_patients, k)``.
        """
        from phantomlab.therapies.base import CohortState

        c = self._cols(columns)
        dist, cov = self._bipole(c)
        rows = np.broadcast_to(np.arange(self._n)[:, None], dist.shape).ravel()
        amp = np.asarray(c["amplitude"], float).ravel()
        keys = np.stack([np.asarray(c["pulse_width"], float).ravel(), c["frequency"].ravel()], 1)
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        inv = inv.ravel()
        out = np.empty(amp.size)
        dist, cov = dist.ravel(), cov.ravel()
        order = np.argsort(inv, kind="stable")
        bounds = np.searchsorted(inv[order], np.arange(uniq.shape[0] + 1))
        for g in range(uniq.shape[0]):
            m = order[bounds[g] : bounds[g + 1]]
            dose: dict[str, Any] = dict(self._dose)
            dose.update(
                amplitude=amp[m], pulse_width=float(uniq[g, 0]), frequency=float(uniq[g, 1])
            )
            state = CohortState(
                int(m.size),
                0,
                dose,
                self._calendar,
                {"distance": dist[m], "coverage": cov[m], "tolerance": self.tolerance_[rows[m]]},
                (),
                "scs",
            )
            out[m] = self.therapy.specific(state, _READOUT_DAY)["abeta_rate"]
        return out.reshape(c["amplitude"].shape)

    def acute_pain(self, abeta: np.ndarray) -> np.ndarray:
        """Interpolated acute pain of each patient at ``abeta_rate`` values ``(n, k)``."""
        a = np.clip(np.asarray(abeta, float), 0.0, self.abeta_grid_[-1])
        x = a / self._step
        i0 = np.minimum(np.floor(x).astype(int), self.abeta_grid_.size - 2)
        w = x - i0
        rows = np.broadcast_to(np.arange(self._n)[:, None], a.shape)
        t = self.pain_table_
        return np.asarray(t[rows, i0] * (1.0 - w) + t[rows, i0 + 1] * w)

    def perception_threshold(self, contacts: str, pulse_width: float) -> np.ndarray:
        """Perception threshold (A) of each patient at a bipole (SCSTherapy's fibre model).

        Parameters
        ----------
        contacts : str
            Bipole name.
        pulse_width : float
            Pulse width, s.

        Returns
        -------
        ndarray
            Shape ``(n_patients,)``.
        """
        j = int(self.space.parameter("contacts").index([contacts])[0])  # type: ignore[union-attr]
        d = self.distance_ * self.contact_factor_[:, j]
        return np.asarray(self.therapy.perception_threshold(d, float(pulse_width)))  # type: ignore[attr-defined]

    def _discomfort(self, c: dict[str, np.ndarray], dist: np.ndarray) -> np.ndarray:
        pw = np.asarray(c["pulse_width"], float)
        ipt = np.empty(dist.shape)
        for v in np.unique(pw):
            m = pw == v
            ipt[m] = self.therapy.perception_threshold(dist[m], float(v))  # type: ignore[attr-defined]
        ratio = self.discomfort_ratio_[:, None]
        amp = np.asarray(c["amplitude"], float)
        return np.asarray(10.0 * ndtr(np.log(amp / (ratio * ipt)) / _SLOPE))

    def paresthesia_mapping(self, rng: RNGLike = None) -> np.ndarray:
        """Bipole each patient reports as best covering the phantom (paresthesia mapping).

        Programming starts by stepping through the bipoles just above perception
        threshold and asking where the paresthesia is felt (NANS practice
        parameters). Each bipole's coverage of the phantom's dermatome
        (SCSTherapy coverage draw x the assumed overlap) is rated on 0-10 with
        Gaussian noise of sd 1.02 (**assumed** equal to the NRS error); the
        best-rated bipole is returned. No pain rating is needed, so the
        benchmark counts these minutes as no session.

        Parameters
        ----------
        rng : Generator, int or None
            Rating noise.

        Returns
        -------
        ndarray of int
            Bipole index per patient.
        """
        gen = as_generator(rng)
        d = np.abs(self._pos[None, :] - self.target_[:, None])
        cov = self.coverage_[:, None] * 2.0 ** (-((d / _D50) ** 2))
        rating = 10.0 * cov + NRS_REPORT_SD * gen.standard_normal(cov.shape)
        return np.asarray(np.argmax(rating, axis=1))

    def clinical_spaces(
        self,
        seed_factor: float = 1.1,
        span: tuple[float, float] = (0.4, 4.0),
        contacts: np.ndarray | None = None,
    ) -> list[ParameterSpace]:
        """Per-patient spaces anchored on the perception threshold at a starting bipole.

        Parameters
        ----------
        seed_factor, span
            See :func:`~phantomlab.optimize.response.threshold_anchored_spaces`.
        contacts : ndarray of int or None
            Starting bipole per patient (e.g. :meth:`paresthesia_mapping`);
            default the space's seed bipole.

        Returns
        -------
        list of ParameterSpace
            One space per patient, its seed on the starting bipole.
        """
        seed = dict(self.space.safe_seed)
        names = list(self.space.parameter("contacts").choices)  # type: ignore[union-attr]
        idx = (
            np.full(self._n, names.index(seed["contacts"]))
            if contacts is None
            else np.asarray(contacts, int)
        )
        pw = float(seed["pulse_width"])
        thr = np.array([self.perception_threshold(names[j], pw)[i] for i, j in enumerate(idx)])
        spaces = threshold_anchored_spaces(self.space, thr, seed_factor, span)
        return [sp.with_seed({"contacts": names[j]}) for sp, j in zip(spaces, idx, strict=True)]

    # ----------------------------------------------------------------- response
    def expected(self, columns: Mapping[str, np.ndarray]) -> Responses:
        """Noise-free expected outcomes, shape ``(n_patients, n_points)``.

        Parameters
        ----------
        columns : mapping
            ``contacts`` (int index), ``amplitude`` (A), ``pulse_width`` (s),
            ``frequency`` (Hz), each 1-D or ``(n_patients, k)``.

        Returns
        -------
        Responses
            Relief (acute pain without minus with stimulation), discomfort, pain.
        """
        c = self._cols(columns)
        dist, _ = self._bipole(c)
        pain = self.acute_pain(self.abeta_rate(c))
        side = self._discomfort(c, dist)
        return Responses(nrs_change=self.baseline_[:, None] - pain, side_effect=side, nrs=pain)

    def observe(self, columns: Mapping[str, np.ndarray], rng: RNGLike = None) -> Responses:
        """Noisy integer reports around :meth:`expected` (as :class:`VirtualSCSPopulation`).

        Parameters
        ----------
        columns : mapping
            As in :meth:`expected`.
        rng : Generator, int or None
            Report noise.

        Returns
        -------
        Responses
            Reported NRS (integer 0-10), its change from baseline, reported side effect.
        """
        return noisy_reports(self.expected(columns), self.baseline_, rng)

    def describe_patients(self) -> Any:
        """One row per patient: cohort covariates, therapy draws, assumed geometry."""
        df = self.population_.copy()
        df["acute_baseline_nrs"] = self.baseline_
        df["dc_distance_mm"] = self.distance_ * 1e3
        df["coverage"] = self.coverage_
        df["expectation"] = self.expectation_
        df["target_mm"] = self.target_ * 1e3
        df["discomfort_ratio"] = self.discomfort_ratio_
        return df

    def __repr__(self) -> str:
        return f"TherapySCSPatients(n_patients={self._n}) [{self.label}]"
