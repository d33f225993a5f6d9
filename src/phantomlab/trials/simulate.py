"""A fast, vectorized parametric trial simulator (the default for power by simulation).

The model (all values on the outcome scale, e.g. 0-10 NRS points; parameters in
:class:`~phantomlab.trials.design.SimulationModel`) for patient ``i`` in center
``k``, arm ``a`` and post-baseline visit ``t`` (weeks)::

    c_k   ~ N(0, center_sd^2)                       random center effect
    d_i   ~ N(0, baseline_sd^2)                     baseline deviation
    B_i   = baseline_mean + c_k + d_i               baseline
    u_i   = rho*sd/baseline_sd * d_i + sqrt(icc - rho^2) * sd * z_i,   z_i ~ N(0, 1)
    e_it  ~ N(0, sd^2 (1 - icc))
    Y_it  = baseline_mean + c_k + (placebo_change + effect_a) * r(t) + u_i + e_it
    r(t)  = min(t / onset_weeks, 1)                 linear onset ramp

so that, within a center, ``Var(Y_it) = sd^2``, ``corr(B_i, Y_it) = rho`` and
``corr(Y_it, Y_is) = icc``. With probability ``dropout`` a patient leaves
(monotone, completely at random) after a visit drawn uniformly from the
post-baseline visits before the primary one, and misses every later visit.
With ``clip`` (default) values are clipped to the outcome scale.

Arms get ``n_per_arm * ratio`` patients; centers receive whole allocation
blocks in proportion to their weights, so arms are balanced within centers.
Every function draws from an explicit ``rng``.

This model is a planning tool with **assumed** defaults; it is not the virtual
PLP patient. Any other simulator with the signature
``simulate(n_per_arm, rng) -> DataFrame`` (long format, see
:func:`phantomlab.trials.analysis.analyze`) plugs into the same power and
runner functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from phantomlab._rng import RNGLike, as_generator
from phantomlab.exceptions import InputError, Problem
from phantomlab.trials.design import TrialDesign

__all__ = ["PROVENANCE", "ParametricTrialModel", "SimulatedArrays", "arrays_to_frame", "model_card"]


#: Provenance of every planning-model parameter: (unit, kind, source, note).
PROVENANCE: dict[str, tuple[str, str, str, str]] = {
    "effects": (
        "NRS points",
        "assumed",
        "",
        "planning value of the order of pooled M1-stimulation MDs (e.g. rTMS MD -1.45, "
        "Tao et al. 2025, Front Neurol 16:1682650); not a prediction",
    ),
    "placebo_change": ("NRS points", "assumed", "", "planning guess; vary in sensitivity runs"),
    "baseline_mean": (
        "NRS points",
        "assumed",
        "",
        "planning guess (moderate-to-severe pain at entry)",
    ),
    "baseline_sd": ("NRS points", "assumed", "", "planning guess"),
    "sd": (
        "NRS points",
        "assumed",
        "shared/research/stats.md section 4",
        "the notes suggest 2-3 NRS points for sensitivity analyses (no pooled value seen)",
    ),
    "rho": ("1", "assumed", "", "baseline-follow-up correlation; planning guess"),
    "icc": ("1", "assumed", "", "correlation of repeated visits; planning guess"),
    "center_sd": ("NRS points", "assumed", "", "between-center SD; planning guess"),
    "dropout": ("1", "assumed", "", "fraction missing the primary visit; planning guess"),
    "onset_weeks": ("week", "assumed", "", "linear onset of effects; planning guess"),
    "carryover": (
        "1",
        "assumed",
        "",
        "crossover: fraction of the previous period's arm effect left at the start of the "
        "washout; 0 = none (planning value for sensitivity runs)",
    ),
    "carryover_half_life": (
        "week",
        "assumed",
        "",
        "crossover: exponential decay of the carry-over over the washout; planning guess",
    ),
    "period_effect": (
        "NRS points",
        "assumed",
        "",
        "crossover: change from one period to the next in every sequence; 0 = none",
    ),
}


def model_card(design: TrialDesign) -> pd.DataFrame:
    """Return the planning-model parameters of a design with their provenance.

    Parameters
    ----------
    design : TrialDesign
        The design.

    Returns
    -------
    pandas.DataFrame
        Columns ``parameter``, ``value``, ``unit``, ``kind``, ``source``, ``note``.
    """
    m = design.simulation
    rows = []
    for name, (unit, kind, source, note) in PROVENANCE.items():
        value: object = getattr(m, name)
        if name == "effects":
            value = design.arm_effects()
        rows.append(
            {
                "parameter": name,
                "value": str(value),
                "unit": unit,
                "kind": kind,
                "source": source,
                "note": note,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SimulatedArrays:
    """Arrays of ``n_reps`` simulated trials (same patients' arms and centers).

    Attributes
    ----------
    arm : numpy.ndarray of int, shape (n_patients,)
        Arm index (into ``design.arm_names``).
    center : numpy.ndarray of int, shape (n_patients,)
        Center index.
    weeks : numpy.ndarray, shape (n_visits,)
        Post-baseline visit times simulated (weeks).
    baseline : numpy.ndarray, shape (n_reps, n_patients)
        Baseline outcome.
    y : numpy.ndarray, shape (n_reps, n_patients, n_visits)
        Post-baseline outcomes (NaN where missed).
    """

    arm: np.ndarray
    center: np.ndarray
    weeks: np.ndarray
    baseline: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class ParametricTrialModel:
    """The parametric trial model of this module, bound to a design.

    Parameters
    ----------
    design : TrialDesign
        Arms, ratios, centers, visits and :class:`SimulationModel` parameters.

    Notes
    -----
    Calling the object is the ``simulate(n_per_arm, rng) -> DataFrame`` protocol
    used by :func:`phantomlab.trials.power.simulated_power` and the runner.
    """

    design: TrialDesign

    def allocation(self, n_per_arm: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the arm and center index of every patient.

        Parameters
        ----------
        n_per_arm : int
            Patients per unit of allocation ratio.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            Arm indices and center indices, shape ``(n_per_arm * sum(ratio),)``.
        """
        if int(n_per_arm) < 2:
            raise InputError(Problem("n_per_arm", n_per_arm, ">= 2", "", "too few patients"))
        ratios = np.array([a.ratio for a in self.design.arms])
        pattern = np.repeat(np.arange(len(ratios)), ratios)
        arm = np.tile(pattern, int(n_per_arm))
        w = np.array([c.weight for c in self.design.centers], dtype=float)
        cum = np.cumsum(w / w.sum())
        block = np.arange(arm.size) // pattern.size
        center = np.searchsorted(cum, (block + 0.5) / int(n_per_arm))
        return arm, np.minimum(center, len(w) - 1)

    def simulate_arrays(
        self,
        n_per_arm: int,
        rng: RNGLike,
        *,
        n_reps: int = 1,
        weeks: list[float] | None = None,
    ) -> SimulatedArrays:
        """Simulate ``n_reps`` trials at once (vectorized over replicates and patients).

        Parameters
        ----------
        n_per_arm : int
            Patients per unit of allocation ratio.
        rng : Generator, SeedSequence or int
            Randomness.
        n_reps : int
            Number of independent trials.
        weeks : list of float or None
            Post-baseline visits to simulate; default: all of ``outcome.visits``
            after baseline. Dropout is applied relative to these visits.

        Returns
        -------
        SimulatedArrays
            The simulated trials.
        """
        g = as_generator(rng)
        m = self.design.simulation
        out = self.design.outcome
        arm, center = self.allocation(n_per_arm)
        wk = np.array(weeks if weeks is not None else [v for v in out.visits if v > 0], float)
        n, r, k = arm.size, int(n_reps), len(self.design.centers)
        eff = self.design.arm_effects()
        effect = np.array([eff[a] for a in self.design.arm_names])[arm]
        ramp = np.ones_like(wk) if m.onset_weeks == 0 else np.minimum(wk / m.onset_weeks, 1.0)
        c = g.normal(0.0, m.center_sd, size=(r, k))[:, center]
        d = g.normal(0.0, m.baseline_sd, size=(r, n))
        z = g.standard_normal(size=(r, n))
        e = g.normal(0.0, m.sd * np.sqrt(1.0 - m.icc), size=(r, n, wk.size))
        u = m.rho * m.sd / m.baseline_sd * d + np.sqrt(max(m.icc - m.rho**2, 0.0)) * m.sd * z
        base = m.baseline_mean + c + d
        mean = (m.placebo_change + effect)[:, None] * ramp[None, :]
        y = (m.baseline_mean + c + u)[:, :, None] + mean[None, :, :] + e
        if m.clip:
            base = np.clip(base, out.scale_min, out.scale_max)
            y = np.clip(y, out.scale_min, out.scale_max)
        drop = g.random(size=(r, n)) < m.dropout
        before = int(np.sum(wk < out.primary_week))
        last = g.integers(0, before + 1, size=(r, n))  # visits kept by a dropout
        keep = np.arange(wk.size)[None, None, :] < np.where(drop, last, wk.size)[:, :, None]
        y = np.where(keep, y, np.nan)
        return SimulatedArrays(arm=arm, center=center, weeks=wk, baseline=base, y=y)

    def simulate(self, n_per_arm: int, rng: RNGLike) -> pd.DataFrame:
        """Simulate one trial as a long data frame (the format of real trial data).

        Parameters
        ----------
        n_per_arm : int
            Patients per unit of allocation ratio.
        rng : Generator, SeedSequence or int
            Randomness.

        Returns
        -------
        pandas.DataFrame
            Columns ``patient``, ``center``, ``arm``, ``week`` (``period`` for
            crossover designs), and the outcome (``design.outcome.name``); week 0
            is baseline; missed visits have no row. The design's strategy
            (:meth:`~phantomlab.trials.designs.Design.simulate`) lays them out.
        """
        return self.design.strategy.simulate(self.design, n_per_arm, rng)

    def crossover_arrays(
        self, n_per_arm: int, rng: RNGLike, *, n_reps: int = 1
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Simulate ``n_reps`` crossover trials at once.

        Model, for patient ``i`` in center ``k`` and period ``p = 1, 2, ...``::

            Y_ip = baseline_mean + c_k + placebo_change + (p - 1) * period_effect
                   + effect[a(i, p)] + lambda * effect[a(i, p - 1)] + u_i + e_ip
            lambda = carryover * 0.5 ** (washout / carryover_half_life)

        with ``u_i ~ N(0, icc sd^2)``, ``e_ip ~ N(0, (1 - icc) sd^2)``,
        ``c_k ~ N(0, center_sd^2)`` and ``effect[control] = 0``: the arm given in
        the previous period leaves a residual ``carryover`` fraction of its
        effect at the end of that period, which decays exponentially over the
        washout (first-order carry-over, one period only; Jones & Kenward,
        Design and Analysis of Cross-Over Trials, ch. 2). ``period_effect``,
        ``carryover`` and ``carryover_half_life`` are **assumed** planning
        values (0, 0 and 1 week by default). A dropout leaves after a uniformly
        drawn earlier period.

        Parameters
        ----------
        n_per_arm : int
            Patients per sequence.
        rng : Generator, SeedSequence or int
            Randomness.
        n_reps : int
            Number of trials.

        Returns
        -------
        tuple of numpy.ndarray
            ``seq`` (N,), ``center`` (N,), ``arms`` (N, P) arm names per period,
            ``y`` (R, N, P) and ``observed`` (R, N, P) boolean.
        """
        g = as_generator(rng)
        m = self.design.simulation
        out = self.design.outcome
        if self.design.crossover is None:
            raise InputError(Problem("crossover", None, "a crossover section", "", "missing"))
        if int(n_per_arm) < 2:
            raise InputError(Problem("n_per_arm", n_per_arm, ">= 2", "", "too few patients"))
        seqs = self.design.crossover.sequences
        n_seq, n_per = len(seqs), len(seqs[0])
        seq = np.tile(np.arange(n_seq), int(n_per_arm))
        w = np.array([c.weight for c in self.design.centers], dtype=float)
        cum = np.cumsum(w / w.sum())
        block = np.arange(seq.size) // n_seq
        center = np.minimum(np.searchsorted(cum, (block + 0.5) / int(n_per_arm)), len(w) - 1)
        n, r = seq.size, int(n_reps)
        c = g.normal(0.0, m.center_sd, size=(r, len(w)))[:, center]
        u = g.normal(0.0, m.sd * np.sqrt(m.icc), size=(r, n))
        e = g.normal(0.0, m.sd * np.sqrt(1.0 - m.icc), size=(r, n, n_per))
        eff = self.design.arm_effects()
        arms = np.array([list(sq) for sq in seqs])[seq]  # (n, n_per)
        effect = np.vectorize(eff.__getitem__, otypes=[float])(arms)
        lam = m.carryover * 0.5 ** (
            self.design.crossover.washout_weeks / m.carryover_half_life_weeks
        )
        carry = np.zeros_like(effect)
        carry[:, 1:] = lam * effect[:, :-1]
        period = m.period_effect * np.arange(n_per, dtype=float)
        y = (
            m.baseline_mean
            + m.placebo_change
            + (c + u)[:, :, None]
            + (effect + carry + period[None, :])[None]
            + e
        )
        if m.clip:
            y = np.clip(y, out.scale_min, out.scale_max)
        drop = g.random((r, n)) < m.dropout
        kept = np.where(drop, g.integers(1, n_per, size=(r, n)), n_per)
        observed = np.arange(n_per)[None, None, :] < kept[:, :, None]
        return seq, center, arms, y, observed

    def __call__(self, n_per_arm: int, rng: RNGLike) -> pd.DataFrame:
        """Alias of :meth:`simulate` (the simulate-callable protocol)."""
        return self.simulate(n_per_arm, rng)


def arrays_to_frame(design: TrialDesign, s: SimulatedArrays, rep: int = 0) -> pd.DataFrame:
    """Convert one replicate of :class:`SimulatedArrays` to the long data format.

    Parameters
    ----------
    design : TrialDesign
        The design (names of arms, centers and outcome).
    s : SimulatedArrays
        Simulated trials.
    rep : int
        Which replicate.

    Returns
    -------
    pandas.DataFrame
        Long format with baseline rows at week 0.
    """
    n, w = s.arm.size, s.weeks.size
    weeks = np.concatenate([[0.0], s.weeks])
    vals = np.concatenate([s.baseline[rep][:, None], s.y[rep]], axis=1)
    pid = np.repeat(np.arange(1, n + 1), w + 1)
    frame = pd.DataFrame(
        {
            "patient": pid,
            "center": np.array([c.name for c in design.centers])[s.center][pid - 1],
            "arm": np.array(design.arm_names)[s.arm][pid - 1],
            "week": np.tile(weeks, n),
            design.outcome.name: vals.ravel(),
        }
    )
    return frame[np.isfinite(frame[design.outcome.name].to_numpy())].reset_index(drop=True)
