"""What a patient reports for a protocol: the pluggable objective of the optimizer.

:class:`PatientResponse` is the interface the optimizer is benchmarked against:
given parameter points (columns of a :class:`~phantomlab.optimize.space.ParameterSpace`,
broadcast against the patient axis) it returns the expected NRS change and the
expected side-effect rating of every patient at every point, and noisy reports
drawn around them. Everything is vectorized over patients.

:class:`VirtualSCSPopulation` is a **stand-in** for the virtual patients that the
``therapies`` layer will provide: a population of hand-built SCS response
surfaces whose structure follows published SCS physiology and whose numbers are
mostly **assumed**. Structure: paresthesia must cover the painful area
(paresthesia/pain overlap is considered necessary to achieve relief, NANS
practice parameters, neuromodfound.org); coverage needs an amplitude above the
perception threshold, which rises with electrode-target distance (NANS), and
below the discomfort threshold; pulse width lowers thresholds and widens the
paresthesia area; the best frequency differs between patients. Every number is
a :class:`~phantomlab._params.Param` in :data:`SCS_STANDIN_PARAMETERS` with its
source or the reason it is assumed. It is a test bed for the optimizer, never a
model of a real patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from phantomlab._params import Param, make_param
from phantomlab._rng import RNGLike, as_generator
from phantomlab.exceptions import InputError, Problem
from phantomlab.optimize.space import Categorical, ParameterSpace, default_space

if TYPE_CHECKING:  # pandas and scipy load where used (optimize suggest/record need neither)
    import pandas as pd

__all__ = [
    "NRS_REPORT_SD",
    "SCS_STANDIN_PARAMETERS",
    "PatientResponse",
    "Responses",
    "VirtualSCSPopulation",
    "threshold_anchored_spaces",
]


#: Standard error of measurement of the 0-10 NRS, 1.02 points (Childs JD et al.,
#: Spine 2005;30(11):1331-4, PMID 15928561: "The standard error of measure was
#: equal to 1.02"). Used as the SD of a single pain report around its expectation.
NRS_REPORT_SD = 1.02


@dataclass(frozen=True)
class Responses:
    """Expected or reported outcomes, arrays of shape ``(n_patients, n_points)``.

    Attributes
    ----------
    nrs_change : ndarray
        Pain relief in NRS points (baseline minus pain with the protocol;
        positive is better).
    side_effect : ndarray
        Side-effect rating on 0-10 (here: stimulation discomfort).
    nrs : ndarray
        Pain NRS with the protocol (0-10).
    """

    nrs_change: np.ndarray
    side_effect: np.ndarray
    nrs: np.ndarray


@runtime_checkable
class PatientResponse(Protocol):
    """Interface of a population of (virtual) patients answering protocols.

    Column arrays are broadcast against a leading patient axis: a 1-D array of
    length ``n_points`` means the same points for every patient; a 2-D array of
    shape ``(n_patients, k)`` gives each patient its own points. Categorical
    parameters are given as integer indices into their ``choices``.
    """

    space: ParameterSpace

    @property
    def n_patients(self) -> int:
        """Number of patients."""
        ...

    @property
    def baseline_nrs(self) -> np.ndarray:
        """Pain NRS without stimulation, shape ``(n_patients,)``."""
        ...

    def expected(self, columns: Mapping[str, np.ndarray]) -> Responses:
        """Noise-free expected outcomes of every patient at the points."""
        ...

    def observe(self, columns: Mapping[str, np.ndarray], rng: RNGLike = None) -> Responses:
        """Noisy reports (integer NRS and side-effect ratings) at the points."""
        ...


_CHILDS = "Childs JD et al., Spine 2005;30(11):1331-4, PMID 15928561"


def _standin(name: str, value: float, unit: str, kind: str, note: str, source: str = "") -> Param:
    return make_param("scs_standin", name, value, unit, kind, source, note)


#: Every number of :class:`VirtualSCSPopulation` (module ``scs_standin``), with its
#: source or the reason it is assumed, keyed by name.
SCS_STANDIN_PARAMETERS: dict[str, Param] = {
    p.name: p
    for p in (
        _standin(
            "field_d50",
            8e-3,
            "m",
            "source",
            "50% fall-off distance of the field, rostro-caudal (human); the bell shape "
            "2^-(d/d50)^2 around it is assumed, not read in a source",
            "SCS dose-scaling FEM study, PMC6919276 (via research/fields.md)",
        ),
        _standin(
            "pulse_width_area_exponent",
            0.3,
            "1",
            "assumed",
            "d50 x (PW / 200 us)^0.3: direction cited (Bioelectron Med 2019 "
            "s42234-019-0023-1 Fig 2: longer PW may recruit more Abeta fibres and broaden "
            "paresthesia); exponent assumed",
        ),
        _standin(
            "chronaxie",
            200e-6,
            "s",
            "assumed",
            "strength-duration threshold I_pt(PW) = I_rh (1 + chronaxie / PW), Lapicque/Weiss "
            "form; 200 us assumed for large myelinated fibres, no value read in a source",
        ),
        _standin(
            "rheobase_median",
            0.8e-3,
            "A",
            "assumed",
            "lognormal rheobase; chosen so perception thresholds fall inside the clinical "
            "0.5-5 mA range (Anesthesiology 122(6):1362 via research/fields.md)",
        ),
        _standin("rheobase_log_sd", 0.35, "1", "assumed", "spread of the lognormal rheobase"),
        _standin(
            "contact_log_sd",
            0.15,
            "1",
            "assumed",
            "per-bipole threshold factor exp(N(0, sd^2)): CSF thickness varies along the lead "
            "(NANS: threshold depends on distance to cord); spread not read",
        ),
        _standin(
            "discomfort_ratio_low",
            1.4,
            "1",
            "assumed",
            "discomfort / perception threshold ratio, uniform between low and high: a "
            "therapeutic window above 1 must exist; no ratio read in a source",
        ),
        _standin("discomfort_ratio_high", 2.2, "1", "assumed", "see discomfort_ratio_low"),
        _standin(
            "coverage_log_sd",
            0.15,
            "1",
            "assumed",
            "log-amplitude slope of paresthesia coverage: steep but smooth; not read",
        ),
        _standin(
            "discomfort_log_sd",
            0.20,
            "1",
            "assumed",
            "log-amplitude slope of discomfort: steep but smooth; not read",
        ),
        _standin(
            "target_sd",
            7e-3,
            "m",
            "assumed",
            "target position along the lead, normal around the lead centre (one contact pitch), "
            "clipped to the lead: leads are placed so that paresthesia overlaps the painful area "
            "(Falowski, SCS for practitioners; NANS practice parameters); the spread stands for "
            "imperfect placement and migration",
        ),
        _standin(
            "best_frequency_low",
            40.0,
            "Hz",
            "assumed",
            "best frequency log-uniform between low and high: direction cited (J Neurophysiol "
            "2023 dorsal-horn model via research/mechanisms.md: the optimal SCS frequency "
            "differs across conditions); range assumed",
        ),
        _standin("best_frequency_high", 200.0, "Hz", "assumed", "see best_frequency_low"),
        _standin(
            "frequency_tuning_log_sd",
            0.7,
            "1",
            "assumed",
            "relief x (floor + (1 - floor) exp(-ln(f/f*)^2 / (2 sd^2))); width assumed",
        ),
        _standin(
            "frequency_floor", 0.5, "1", "assumed", "relief share kept far from the best frequency"
        ),
        _standin(
            "baseline_nrs_low",
            5.0,
            "NRS",
            "assumed",
            "baseline pain uniform between low and high: moderate-to-severe chronic PLP, the "
            "population referred for SCS",
        ),
        _standin("baseline_nrs_high", 9.0, "NRS", "assumed", "see baseline_nrs_low"),
        _standin(
            "max_relief_low",
            0.3,
            "1",
            "assumed",
            "maximal relief uniform between low and high x baseline: SCS relief in PLP spreads "
            "from little to near-complete (Jaffee 2025 scoping review, via research/evidence.md); "
            "this range is assumed",
        ),
        _standin("max_relief_high", 0.8, "1", "assumed", "see max_relief_low"),
        _standin(
            "discomfort_relief_weight",
            0.3,
            "NRS",
            "assumed",
            "relief - weight x discomfort: uncomfortable stimulation is not analgesic",
        ),
        _standin(
            "report_noise_sd",
            NRS_REPORT_SD,
            "NRS",
            "source",
            "Gaussian report noise then rounded to integers in 0-10; NRS standard error of "
            "measurement 1.02; the same sd is assumed for the 0-10 discomfort rating",
            _CHILDS,
        ),
    )
}


def _sp(name: str) -> float:
    return SCS_STANDIN_PARAMETERS[name].value


class VirtualSCSPopulation:
    """Stand-in virtual SCS patients (response surfaces), vectorized over patients.

    **Not the therapies layer's virtual patient**: a documented, mostly
    assumed response surface used to test and benchmark the optimizer until
    ``therapies`` provides virtual patients (see :data:`SCS_STANDIN_PARAMETERS`).

    Parameters
    ----------
    n_patients : int
        Number of patients to draw.
    rng : Generator, int or None
        Randomness of the patient draws.
    space : ParameterSpace or None
        The SCS space (default :func:`default_space("scs") <default_space>`);
        its ``contacts`` parameter must carry bipole positions (m).
    """

    label = "stand-in SCS response surfaces (assumed parameters; not therapies' virtual patients)"

    def __init__(self, n_patients: int, rng: RNGLike = 0, space: ParameterSpace | None = None):
        if not isinstance(n_patients, int) or n_patients < 1:
            raise InputError(Problem("n_patients", n_patients, ">= 1", "", "need patients"))
        self.space = space or default_space("scs")
        contacts = self.space.parameter("contacts")
        if not isinstance(contacts, Categorical) or contacts.positions is None:
            raise InputError(
                Problem("space.contacts", contacts, "categorical with positions", "", "bad space")
            )
        self._pos = np.asarray(contacts.positions, dtype=float)
        gen = as_generator(rng)
        n = n_patients
        self._n = n
        centre = 0.5 * (self._pos.min() + self._pos.max())
        self.target_ = np.clip(
            centre + _sp("target_sd") * gen.standard_normal(n), self._pos.min(), self._pos.max()
        )
        self.rheobase_ = _sp("rheobase_median") * np.exp(
            _sp("rheobase_log_sd") * gen.standard_normal(n)
        )
        self.contact_factor_ = np.exp(
            _sp("contact_log_sd") * gen.standard_normal((n, self._pos.size))
        )
        self.window_ = gen.uniform(_sp("discomfort_ratio_low"), _sp("discomfort_ratio_high"), n)
        f_lo, f_hi = np.log(_sp("best_frequency_low")), np.log(_sp("best_frequency_high"))
        self.best_frequency_ = np.exp(gen.uniform(f_lo, f_hi, n))
        self.baseline_ = gen.uniform(_sp("baseline_nrs_low"), _sp("baseline_nrs_high"), n)
        self.max_relief_ = (
            gen.uniform(_sp("max_relief_low"), _sp("max_relief_high"), n) * self.baseline_
        )

    @property
    def n_patients(self) -> int:
        """Number of patients."""
        return self._n

    def perception_threshold(self, contacts: str, pulse_width: float) -> np.ndarray:
        """Amplitude (A) at which each patient first feels paresthesia at a bipole.

        Clinicians measure this at the first programming session (NANS practice
        parameters, "paresthesia threshold"); it is the patient-specific
        information every search method gets in the benchmark.

        Parameters
        ----------
        contacts : str
            Bipole name (a choice of the ``contacts`` parameter).
        pulse_width : float
            Pulse width in s.

        Returns
        -------
        ndarray
            Threshold per patient, shape ``(n_patients,)``.
        """
        j = int(self.space.parameter("contacts").index([contacts])[0])  # type: ignore[union-attr]
        c = _sp("chronaxie")
        return self.rheobase_ * (1.0 + c / pulse_width) * self.contact_factor_[:, j]

    def clinical_spaces(
        self, seed_factor: float = 1.1, span: tuple[float, float] = (0.4, 4.0)
    ) -> list[ParameterSpace]:
        """Per-patient search spaces anchored on the measured perception threshold.

        The safe seed is the space's seed protocol with its amplitude set to
        ``seed_factor`` times the patient's perception threshold there, and the
        amplitude bounds are ``span`` times that threshold (clipped to the
        space's bounds). Both factors are **assumed** (a seed just above
        perception is comfortable because the discomfort threshold is at least
        1.4 times perception in this population).

        Parameters
        ----------
        seed_factor : float
            Seed amplitude as a multiple of the perception threshold.
        span : tuple of float
            Amplitude bounds as multiples of the perception threshold.

        Returns
        -------
        list of ParameterSpace
            One space per patient.
        """
        seed = dict(self.space.safe_seed)
        thr = self.perception_threshold(str(seed["contacts"]), float(seed["pulse_width"]))
        return threshold_anchored_spaces(self.space, thr, seed_factor, span)

    @property
    def baseline_nrs(self) -> np.ndarray:
        """Pain NRS without stimulation, shape ``(n_patients,)``."""
        return self.baseline_.copy()

    def _cols(self, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for name in ("contacts", "amplitude", "pulse_width", "frequency"):
            a = np.asarray(columns[name])
            out[name] = a[None, :] if a.ndim == 1 else a
            if a.ndim == 2 and a.shape[0] != self._n:
                raise InputError(
                    Problem(name, a.shape, f"(n_points,) or ({self._n}, k)", "", "bad shape")
                )
        return out

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
            Expected relief (NRS points), discomfort (0-10) and NRS.
        """
        from scipy.special import ndtr

        c = self._cols(columns)
        idx = c["contacts"].astype(int)
        amp, pw, freq = c["amplitude"], c["pulse_width"], c["frequency"]
        rows = np.arange(self._n)[:, None]
        chronaxie = _sp("chronaxie")
        ipt = self.rheobase_[:, None] * (1.0 + chronaxie / pw) * self.contact_factor_[rows, idx]
        d = np.abs(self._pos[idx] - self.target_[:, None])
        d50 = _sp("field_d50") * (pw / 200e-6) ** _sp("pulse_width_area_exponent")
        field = 2.0 ** (-((d / d50) ** 2))
        coverage = ndtr((np.log(amp * field) - np.log(ipt)) / _sp("coverage_log_sd"))
        discomfort = 10.0 * ndtr(
            (np.log(amp) - np.log(self.window_[:, None] * ipt)) / _sp("discomfort_log_sd")
        )
        lf = np.log(freq / self.best_frequency_[:, None])
        floor, width = _sp("frequency_floor"), _sp("frequency_tuning_log_sd")
        ffac = floor + (1.0 - floor) * np.exp(-(lf**2) / (2 * width**2))
        relief = (
            self.max_relief_[:, None] * coverage * ffac
            - _sp("discomfort_relief_weight") * discomfort
        )
        relief = np.minimum(relief, self.baseline_[:, None])
        nrs = self.baseline_[:, None] - relief
        return Responses(nrs_change=relief, side_effect=discomfort, nrs=nrs)

    def observe(self, columns: Mapping[str, np.ndarray], rng: RNGLike = None) -> Responses:
        """Noisy integer reports around :meth:`expected`.

        Parameters
        ----------
        columns : mapping
            As in :meth:`expected`.
        rng : Generator, int or None
            Report noise.

        Returns
        -------
        Responses
            Reported NRS (integer 0-10), its change from baseline, and the
            reported side effect (integer 0-10).
        """
        return noisy_reports(self.expected(columns), self.baseline_, rng)

    @staticmethod
    def provenance() -> pd.DataFrame:
        """Table of every model number with its provenance kind, source and note."""
        import pandas as pd

        return pd.DataFrame([asdict(p) for p in SCS_STANDIN_PARAMETERS.values()])

    def describe_patients(self) -> pd.DataFrame:
        """One row per drawn patient (target position, thresholds, best frequency)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "baseline_nrs": self.baseline_,
                "max_relief": self.max_relief_,
                "target_mm": self.target_ * 1e3,
                "rheobase_mA": self.rheobase_ * 1e3,
                "discomfort_ratio": self.window_,
                "best_frequency_Hz": self.best_frequency_,
            }
        )

    def __repr__(self) -> str:
        return f"VirtualSCSPopulation(n_patients={self._n}) [{self.label}]"


def threshold_anchored_spaces(
    space: ParameterSpace,
    thresholds: np.ndarray,
    seed_factor: float = 1.1,
    span: tuple[float, float] = (0.4, 4.0),
) -> list[ParameterSpace]:
    """Per-patient spaces anchored on each patient's measured perception threshold.

    The safe seed is the space's seed protocol with its amplitude set to
    ``seed_factor`` times the patient's threshold, and the amplitude bounds are
    ``span`` times that threshold (clipped to the space's bounds). Both factors
    are **assumed** (a seed just above perception is comfortable when the
    discomfort threshold is at least 1.4 times perception).

    Parameters
    ----------
    space : ParameterSpace
        A space with an ``amplitude`` parameter.
    thresholds : ndarray
        Perception threshold per patient, A.
    seed_factor : float
        Seed amplitude as a multiple of the threshold.
    span : tuple of float
        Amplitude bounds as multiples of the threshold.

    Returns
    -------
    list of ParameterSpace
        One space per patient.
    """
    amp = space.parameter("amplitude")
    lo_b, hi_b = amp.low, amp.high  # type: ignore[union-attr]
    out = []
    for t in np.asarray(thresholds, float):
        lo = max(lo_b, span[0] * t)
        hi = min(hi_b, span[1] * t)
        sp = space.with_bounds(amplitude=(lo, hi))
        out.append(sp.with_seed({"amplitude": float(np.clip(seed_factor * t, lo, hi))}))
    return out


def noisy_reports(expected: Responses, baseline: np.ndarray, rng: RNGLike = None) -> Responses:
    """Integer 0-10 reports around expected responses (report SD :data:`NRS_REPORT_SD`).

    Parameters
    ----------
    expected : Responses
        Expected NRS and side effect, shape ``(n_patients, n_points)``.
    baseline : ndarray, shape (n_patients,)
        Baseline NRS the change is taken from.
    rng : Generator, int or None
        Report noise (NRS first, then side effect).

    Returns
    -------
    Responses
        Reported NRS, its change from baseline, reported side effect.
    """
    gen = as_generator(rng)
    e = expected
    nrs = np.clip(np.rint(e.nrs + NRS_REPORT_SD * gen.standard_normal(e.nrs.shape)), 0, 10)
    side = np.clip(np.rint(e.side_effect + NRS_REPORT_SD * gen.standard_normal(e.nrs.shape)), 0, 10)
    return Responses(nrs_change=np.asarray(baseline)[:, None] - nrs, side_effect=side, nrs=nrs)


def bipole_thresholds(population: Any, pulse_width: float) -> list[dict[str, float]]:
    """Perception threshold of every bipole per patient, as paresthesia mapping measures it.

    Stepping through the bipoles at one pulse width (no session counted) gives each
    patient's thresholds; :class:`~phantomlab.optimize.SCSProgramming` takes them as
    ``perception_threshold`` for its discomfort prior.

    Parameters
    ----------
    population : VirtualSCSPopulation or TherapySCSPatients
        Patients with ``space`` (a ``contacts`` parameter), ``n_patients`` and
        ``perception_threshold(contacts, pulse_width)``.
    pulse_width : float
        Pulse width of the mapping, s.

    Returns
    -------
    list of dict
        One ``{bipole: threshold (A)}`` per patient.
    """
    names = list(population.space.parameter("contacts").choices)
    thr = {n: population.perception_threshold(n, pulse_width) for n in names}
    return [{n: float(thr[n][i]) for n in names} for i in range(population.n_patients)]


def as_columns(points: list[dict[str, Any]], space: ParameterSpace) -> dict[str, np.ndarray]:
    """Convert point dicts to the column form the responses take (helper)."""
    return space.points_to_columns(points)
