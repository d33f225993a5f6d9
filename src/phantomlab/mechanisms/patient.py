"""The virtual phantom-limb-pain patient, vectorized over a cohort.

Public API (for therapies, cohorts and trials)
----------------------------------------------
``Cohort(n_patients, hypothesis="reorganization", rng=seed, n_workers=1)``
    A cohort of amputees at the day of amputation. State arrays have shape
    ``(n_patients, ...)``. ``hypothesis`` selects the cortical hypothesis:
    ``"reorganization"`` (Flor: the lip invades the deafferented hand zone and
    pain follows the invasion) or ``"persistence"`` (Makin: the hand map is
    preserved by efference and ectopic input; pain follows hand-zone activity
    during phantom movement, sensorimotor incongruence and entanglement).
``Cohort.run(days, levers=None) -> Trajectory``
    Advance ``days`` days. ``levers`` is a :class:`Levers` (constant), or a
    callable ``day -> Levers`` (a schedule; ``day`` counts from amputation), or
    ``None`` (no intervention). Returns daily NRS, latent pain, episodes and
    mechanistic read-outs (``Trajectory.to_frame()``, ``.summary()``, ``.plot()``).
``Cohort.step(levers=None) -> Day``
    Advance one day (same as ``run(1)`` without the trajectory wrapper).
``Cohort.acute(levers) -> Day``
    Pain within the hour after an intervention: fast subsystems (ectopia,
    T-junction, dorsal horn, cortical field) re-solved with the levers, slow
    state (maps, sensitization, mood) frozen, no day advanced.
``Levers(...)``
    Plain numeric inputs, each a float or an array of shape ``(n_patients,)``;
    see the class for units and ranges. ``Levers()`` is "no intervention".

The levers a therapy can drive (mechanisms know nothing of Protocols):

=========================  ======  =========================================================
lever                      unit    meaning
=========================  ======  =========================================================
``abeta_rate``             Hz      mean Aβ rate per fibre added (SCS, TENS, DRGS recruitment)
``tj_filter``              0–1     extra fraction of C spikes filtered at the T-junction
``conduction_block``       0–1     block of residual-limb conduction distal to the DRG
``drg_block``              0–1     suppression of DRG ectopia (e.g. foraminal lidocaine)
``descending_inhibition``  Hz      added descending inhibition of dorsal-horn P neurons
``cortical_excitability``  gain    S1 field gain (1 nominal; >1 anodal-like, <1 cathodal-like)
``plasticity_gain``        gain    multiplies the cortical learning rate (1 nominal)
``visual_feedback``        0–1     congruent visual feedback of the phantom (mirror, VR)
``decoder_training``       −1–1    +: train the phantom decoder; −: remap to intact-hand code
``expectation``            0–1     positive expectation / placebo
``stump_pressure``         ≥0      mechanical drive of the neuroma (prosthesis, touch)
``motor_execution``        0–1     executed (not imagined) phantom movements in training (PME)
=========================  ======  =========================================================

Time scales: fast subsystems (ms–s) are solved to their steady state each day,
averaged over within-day fluctuations of ectopic drive (Gauss–Hermite nodes);
slow variables (cortical weights, NMDA sensitization, mood states,
entanglement) step once per day. Same seed gives the same bits with 1 or N
workers: patients are simulated in fixed blocks of :data:`BLOCK`, each block
with its own child seed.

Every parameter is a provenance record (:mod:`phantomlab.mechanisms.provenance`);
``docs/model_card.md`` is generated from them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from phantomlab._result import Result, as_figure
from phantomlab._rng import RNGLike, child_seeds
from phantomlab._validation import check_in, check_memory, check_range, raise_if
from phantomlab.exceptions import Problem
from phantomlab.mechanisms._engine import (
    ABLATIONS,
    BLOCK,
    HYPOTHESES,
    PLP_THRESHOLD,
    READOUTS,
    Day,
    _Block,
)
from phantomlab.mechanisms.levers import Levers, lever_names, with_levers

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ABLATIONS",
    "BLOCK",
    "HYPOTHESES",
    "Cohort",
    "Day",
    "Levers",
    "Trajectory",
    "lever_names",
    "check_trajectory_memory",
    "with_levers",
]

_NO_LEVERS = Levers()


@dataclass(frozen=True, repr=False)
class Trajectory(Result):
    """Daily read-outs of a cohort run.

    Attributes
    ----------
    hypothesis : str
        Cortical hypothesis.
    day0 : int
        Day (since amputation) of the first row.
    nrs, pain, episodes, f_p, lip_shift_mm, hand_activity : ndarray, shape (n_days, n)
        Daily values per patient (see :class:`Day`).
    traits : ndarray, shape (n, 3)
        Catastrophizing, anxiety, depression traits (z).
    """

    hypothesis: str
    day0: int
    nrs: NDArray[np.int64]
    pain: NDArray[np.float64]
    episodes: NDArray[np.int64]
    f_p: NDArray[np.float64]
    lip_shift_mm: NDArray[np.float64]
    hand_activity: NDArray[np.float64]
    traits: NDArray[np.float64]

    @property
    def n_days(self) -> int:
        """Number of simulated days."""
        return int(self.nrs.shape[0])

    @property
    def n_patients(self) -> int:
        """Number of patients."""
        return int(self.nrs.shape[1])

    def mean_nrs(self, last_days: int = 28) -> NDArray[np.float64]:
        """Mean reported NRS per patient over the last ``last_days`` days.

        Parameters
        ----------
        last_days : int
            Window length.

        Returns
        -------
        ndarray, shape (n,)
            Mean NRS.
        """
        return self.nrs[-last_days:].mean(axis=0)

    def to_frame(self) -> Any:
        """Long table: one row per patient and day.

        Returns
        -------
        pandas.DataFrame
            Columns ``patient, day, nrs, pain, episodes, f_p, lip_shift_mm, hand_activity``.
        """
        import pandas as pd

        d, n = self.nrs.shape
        out = {
            "patient": np.tile(np.arange(n), d),
            "day": np.repeat(np.arange(self.day0, self.day0 + d), n),
        }
        for k in READOUTS:
            out[k] = getattr(self, k).ravel()
        return pd.DataFrame(out)

    def summary(self) -> str:
        """Text summary (in silico) of the last 28 days.

        Returns
        -------
        str
            Summary table.
        """
        m = self.mean_nrs(min(28, self.n_days))
        prev = float(np.mean(m >= PLP_THRESHOLD))
        shift = self.lip_shift_mm[-1]
        lines = [
            f"Virtual PLP cohort (in silico), hypothesis: {self.hypothesis}",
            f"patients: {self.n_patients}   days: {self.day0}..{self.day0 + self.n_days - 1}",
            f"mean NRS (last 28 d): {m.mean():.2f} (SD {m.std():.2f})",
            f"with PLP (mean NRS >= {PLP_THRESHOLD:g}): {100 * prev:.0f}%",
            f"lip shift: mean {shift.mean():.1f} mm (63 mm lip-hand distance)",
            f"hand-zone activity in phantom movement: mean {self.hand_activity[-1].mean():.4f}",
            f"episodes per day: mean {self.episodes[-28:].mean():.2f}",
        ]
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Figure:
        """Plot the cohort's daily mean NRS with its 10–90 % band.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (default: a new Figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure drawn into.
        """
        if ax is None:
            from matplotlib.figure import Figure

            ax = Figure(figsize=(7, 3.5)).subplots()
        days = np.arange(self.day0, self.day0 + self.n_days)
        q10, q90 = np.percentile(self.pain, [10, 90], axis=1)
        ax.fill_between(days, q10, q90, alpha=0.25, label="latent pain 10-90%")
        ax.plot(days, self.nrs.mean(axis=1), label=f"mean NRS ({self.hypothesis})")
        ax.set_xlabel("day since amputation")
        ax.set_ylabel("NRS (0-10), in silico")
        ax.set_ylim(0, 10)
        ax.legend(loc="upper right")
        return as_figure(ax)


def check_trajectory_memory(n_patients: int, days: int, *, record: bool = True) -> list[Problem]:
    """Return a problem if a run's daily trajectories would not fit in free memory.

    Call it before building a large :class:`Cohort`: the check costs nothing, the
    cohort and its run do not.

    Parameters
    ----------
    n_patients : int
        Patients in the cohort.
    days : int
        Days to run.
    record : bool
        Whether every day is kept (see :meth:`Cohort.run`).

    Returns
    -------
    list of Problem
        Zero or one problem.
    """
    # every read-out of every recorded day, held twice while the blocks are joined
    n_bytes = 2 * 8 * len(READOUTS) * n_patients * (days if record else 1)
    return check_memory(
        "n_patients x days", f"{n_patients} x {days}", n_bytes, what="the daily trajectories"
    )


class Cohort:
    """A cohort of virtual amputees, simulated from the day of amputation.

    Parameters
    ----------
    n_patients : int
        Number of patients (1–1,000,000).
    hypothesis : {"reorganization", "persistence"}
        Cortical hypothesis.
    rng : int, SeedSequence, Generator or None
        Seed; the same seed gives identical trajectories for any ``n_workers``.
    n_workers : int
        Threads used by :meth:`run` (blocks of :data:`BLOCK` patients each).
    block_size : int
        Patients per independently seeded block (default :data:`BLOCK`).
    ectopia_gain : float
        Multiplier of the fraction of spontaneously active residual-limb fibres
        (0–10; 1 = the default population). Used to contrast weak and strong
        spontaneous activity of deafferented channels (Boström 2014): it scales the
        C ectopia and the deafferented A channel's input to the former hand zone.
    ablate : collection of str
        Mechanisms switched off, names of :data:`ABLATIONS` (default none: the model).
        For falsifiability (ablation) tests: a reproduction should fail without the
        mechanism claimed to produce it (docs/mechanisms.md, "Falsifiability audit").
        Random draws are the same with and without an ablation.
    """

    def __init__(
        self,
        n_patients: int,
        hypothesis: str = "reorganization",
        rng: RNGLike = None,
        n_workers: int = 1,
        block_size: int = BLOCK,
        ectopia_gain: float = 1.0,
        ablate: Collection[str] = (),
    ) -> None:
        names = [ablate] if isinstance(ablate, str) else list(ablate)
        raise_if(
            check_range("n_patients", n_patients, low=1, high=1_000_000)
            + check_in("hypothesis", hypothesis, HYPOTHESES)
            + check_range("n_workers", n_workers, low=1, high=64)
            + check_range("block_size", block_size, low=1, high=100_000)
            + check_range("ectopia_gain", ectopia_gain, low=0.0, high=10.0)
            + [p for a in names for p in check_in("ablate", a, ABLATIONS)]
        )
        self.n_patients = int(n_patients)
        self.hypothesis = hypothesis
        self.n_workers = int(n_workers)
        self.ablate = frozenset(names)
        starts = list(range(0, self.n_patients, block_size))
        seeds = child_seeds(rng, len(starts), advance=True)
        self._slices = [slice(s, min(s + block_size, self.n_patients)) for s in starts]
        self._blocks = [
            _Block(sl.stop - sl.start, hypothesis, sd, float(ectopia_gain), self.ablate)
            for sl, sd in zip(self._slices, seeds, strict=True)
        ]

    @property
    def day(self) -> int:
        """Days simulated since amputation."""
        return self._blocks[0].day

    @property
    def traits(self) -> NDArray[np.float64]:
        """Traits (catastrophizing, anxiety, depression), shape (n, 3)."""
        return np.concatenate([b.traits for b in self._blocks])

    @property
    def weights(self) -> NDArray[np.float32]:
        """S1 thalamocortical weights, shape (n, N_CORTEX, N_RECEPTORS)."""
        return np.concatenate([b.w for b in self._blocks])

    def parameters(self) -> dict[str, NDArray[np.float64]]:
        """Per-patient parameters drawn at construction.

        Returns
        -------
        dict of str to ndarray
            ``drg_rate`` (Hz), ``drg_fraction``, ``neuroma_rate`` (Hz),
            ``descending_inhibition`` (Hz), ``catastrophizing``, ``anxiety``, ``depression``,
            ``deafferented_input`` (α units: the deafferented A channel's input to the
            former hand zone), ``preserved_representation`` (strength of the preserved
            phantom-hand representation, mean 1), ``neuroma_fraction``.
        """
        cat = np.concatenate
        tr = self.traits
        return {
            "drg_rate": cat([b.drg_rate for b in self._blocks]),
            "drg_fraction": cat([b.drg_fraction for b in self._blocks]),
            "neuroma_rate": cat([b.neuroma_rate for b in self._blocks]),
            "descending_inhibition": cat([b.d0 for b in self._blocks]),
            "catastrophizing": tr[:, 0],
            "anxiety": tr[:, 1],
            "depression": tr[:, 2],
            "deafferented_input": cat([b.deaff for b in self._blocks]),
            "preserved_representation": cat([b.preserved for b in self._blocks]),
            "neuroma_fraction": cat([b.neuroma_fraction for b in self._blocks]),
        }

    def _levers(self, levers: Levers | None) -> Levers:
        lv = _NO_LEVERS if levers is None else levers
        raise_if(lv.problems(self.n_patients))
        return lv

    def step(self, levers: Levers | None = None) -> Day:
        """Advance every patient by one day.

        Parameters
        ----------
        levers : Levers, optional
            Interventions active that day.

        Returns
        -------
        Day
            That day's read-outs.
        """
        lv = self._levers(levers)
        with threadpool_limits(1, user_api="blas"):
            return Day.concat(
                [b.step(lv.take(sl)) for b, sl in zip(self._blocks, self._slices, strict=True)]
            )

    def acute(self, levers: Levers | None = None) -> Day:
        """Pain within the hour after applying ``levers`` (slow state frozen).

        Parameters
        ----------
        levers : Levers, optional
            Interventions.

        Returns
        -------
        Day
            Acute read-outs (``nrs`` is the rounded latent pain, no report noise).
        """
        lv = self._levers(levers)
        with threadpool_limits(1, user_api="blas"):
            return Day.concat(
                [b.acute(lv.take(sl)) for b, sl in zip(self._blocks, self._slices, strict=True)]
            )

    def run(
        self,
        days: int,
        levers: Levers | Callable[[int], Levers] | None = None,
        record: bool = True,
    ) -> Trajectory:
        """Advance ``days`` days and return the daily trajectories.

        Parameters
        ----------
        days : int
            Number of days (1–36,500).
        levers : Levers, callable or None
            Constant levers, or a schedule ``day -> Levers`` (day since amputation).
        record : bool
            Keep every day (True) or only the last day (False, saves memory).

        Returns
        -------
        Trajectory
            Daily read-outs.
        """
        raise_if(check_range("days", days, low=1, high=36_500))
        raise_if(check_trajectory_memory(self.n_patients, days, record=record))
        sched: Callable[[int], Levers]
        scheduled = callable(levers)
        if callable(levers):
            sched = levers  # validated day by day below
        else:
            const = self._levers(levers)

            def sched(_d: int) -> Levers:
                return const

        day0 = self.day

        def run_block(i: int) -> dict[str, NDArray[Any]]:
            b, sl = self._blocks[i], self._slices[i]
            rows: list[Day] = []
            for _ in range(days):
                lv = sched(b.day)
                if scheduled:
                    raise_if(lv.problems(self.n_patients))
                d = b.step(lv.take(sl))
                if record or len(rows) == 0:
                    rows.append(d)
                else:
                    rows[0] = d
            return {k: np.stack([getattr(r, k) for r in rows]) for k in READOUTS}

        idx = range(len(self._blocks))
        # one BLAS thread per worker: stable timings on shared machines, same bits
        with threadpool_limits(1, user_api="blas"):
            if self.n_workers > 1 and len(self._blocks) > 1:
                with ThreadPoolExecutor(self.n_workers) as ex:
                    parts = list(ex.map(run_block, idx))
            else:
                parts = [run_block(i) for i in idx]
        cols = {k: np.concatenate([p[k] for p in parts], axis=1) for k in READOUTS}
        return Trajectory(
            self.hypothesis, day0 if record else self.day - 1, traits=self.traits, **cols
        )
