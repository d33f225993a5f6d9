"""Power: analytic (statsmodels) and by simulation, side by side.

Analytic power uses the two-sample t-test (``statsmodels.stats.power.TTestIndPower``,
which reproduces R ``pwr``) on the standardized effect implied by the design's
:class:`~phantomlab.trials.design.SimulationModel`; the design's strategy
(:meth:`~phantomlab.trials.designs.Design.power`) picks the SD and sample sizes:

* ANCOVA on baseline: residual variance ``V_y - C_by^2 / V_b`` (Borm, Fransen &
  Lemmens 2007, J Clin Epidemiol 60:1234: the design factor ``1 - rho^2``);
* change from baseline: ``V_y + V_b - 2 C_by``;
* mixed model: approximated by the ANCOVA formula (it uses the same primary contrast);
* crossover (two periods, AB/BA): two-sample t on half period differences, SD
  ``sd * sqrt(2 (1 - icc)) / 2``;
* factorial: main effect of the first factor, two margins of ``2 n`` patients.

``V`` and ``C`` are within-center when the analysis adjusts for center, and
include ``center_sd^2`` otherwise; sample sizes are multiplied by ``1 - dropout``.

Simulated power accepts any ``simulate(n_per_arm, rng) -> DataFrame`` callable
(the virtual cohort will plug in here) and analyses each replicate with
:func:`~phantomlab.trials.analysis.analyze`. For the built-in
:class:`~phantomlab.trials.simulate.ParametricTrialModel` with an ANCOVA or
change primary analysis a fast path simulates all replicates at once and fits
every ANCOVA with batched normal equations (2x2 crossovers: batched
period-difference t-tests); the strategy's
:meth:`~phantomlab.trials.designs.Design.fast_power` provides it. Other cases run through
:func:`~phantomlab.trials.runner.run_replicates` (in-process or on Dask).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from phantomlab._result import Result
from phantomlab._rng import RNGLike, spawn
from phantomlab._validation import check_range, raise_if
from phantomlab.exceptions import InputError, Problem
from phantomlab.trials.design import TrialDesign
from phantomlab.trials.runner import TrialSimulationTask, run_replicates
from phantomlab.trials.uncertainty import (
    DEFAULT_DRAWS,
    HETEROGENEITY_POWER_NOTE,
    block_calibration_error,
    format_calibration_error,
    has_posterior,
    interval_note,
    parameter_draws,
    protocol_blocks,
    quantile_interval,
    wilson_interval,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "PowerResult",
    "analytic_power",
    "batched_ancova",
    "crossover_pvalues",
    "parse_n_range",
    "posterior_power",
    "power_curve",
    "simulated_power",
]

SimulateFn = Callable[[int, np.random.Generator], pd.DataFrame]


@dataclass(frozen=True, repr=False)
class PowerResult(Result):
    """Power per sample size, analytic and simulated.

    Attributes
    ----------
    n_per_arm : numpy.ndarray
        Sample sizes (per unit of allocation ratio).
    analytic : numpy.ndarray
        Analytic power (NaN where not available).
    simulated : numpy.ndarray
        Fraction of simulated trials with p < alpha.
    mc_se : numpy.ndarray
        Monte-Carlo standard error of ``simulated``.
    n_sims : int
        Replicates per sample size.
    contrast : str
        The tested contrast.
    method : str
        Description of the analyses.
    """

    n_per_arm: np.ndarray
    analytic: np.ndarray
    simulated: np.ndarray
    mc_se: np.ndarray
    n_sims: int
    contrast: str
    method: str
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    n_draws: int = 0
    interval: str = ""
    calibration: dict[str, Any] | None = None

    def to_frame(self) -> pd.DataFrame:
        """Return one row per sample size (``low``, ``high`` when an interval was computed)."""
        cols = {
            "n_per_arm": self.n_per_arm,
            "analytic": self.analytic,
            "simulated": self.simulated,
            "mc_se": self.mc_se,
        }
        if self.low is not None and self.high is not None:
            cols.update(low=self.low, high=self.high)
        return pd.DataFrame(cols)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dictionary."""
        out = {
            "contrast": self.contrast,
            "method": self.method,
            "n_sims": self.n_sims,
            "rows": self.to_frame().to_dict(orient="records"),
        }
        if self.low is not None:
            out.update(in_silico=True, n_draws=self.n_draws, interval=self.interval,
                       calibration_error=self.calibration or {})  # fmt: skip
        return out

    def summary(self) -> str:
        """Return a text table of analytic and simulated power."""
        lines = [f"Power for {self.contrast} ({self.method}; {self.n_sims} simulations per n)"]
        if self.low is None or self.high is None:
            lines.append("  n/arm  analytic  simulated (MC SE)")
            for n, a, s, e in zip(
                self.n_per_arm, self.analytic, self.simulated, self.mc_se, strict=True
            ):
                lines.append(f"  {int(n):5d}  {a:8.4f}  {s:9.4f} ({e:.4f})")
            return "\n".join(lines)
        lines.append(f"  in silico; 95 % interval: {self.interval}")
        lines.append("  n/arm  analytic  simulated [95 % interval] (MC SE)")
        for n, a, s, lo, hi, e in zip(self.n_per_arm, self.analytic, self.simulated,
                                      self.low, self.high, self.mc_se, strict=True):  # fmt: skip
            lines.append(f"  {int(n):5d}  {a:8.4f}  {s:9.4f} [{lo:.3f}, {hi:.3f}] ({e:.4f})")
        lines.append("  calibration error of each arm's parameter blocks (stored calibration):")
        for arm, err in (self.calibration or {}).items():
            lines.append(f"    {arm}: {format_calibration_error(err)}")
        return "\n".join(lines)

    def _brief(self) -> str:
        return f"{self.contrast}, n/arm {int(self.n_per_arm.min())}-{int(self.n_per_arm.max())}"

    def plot(self, ax: Any = None) -> Figure:
        """Plot the power curves (simulated with ±1.96 MC SE).

        Parameters
        ----------
        ax : matplotlib Axes or None
            Axes to draw on (new figure if None).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(5, 3.5))
        else:
            fig = ax.figure
        ax.plot(self.n_per_arm, self.analytic, "-", label="analytic")
        ax.errorbar(
            self.n_per_arm,
            self.simulated,
            yerr=1.96 * self.mc_se,
            fmt="o",
            capsize=3,
            label="simulated",
        )
        ax.axhline(0.8, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("patients per arm")
        ax.set_ylabel("power")
        ax.set_ylim(0, 1.02)
        ax.set_title(self.contrast, fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig


#: Most sample sizes one power curve may hold.
MAX_N_VALUES = 1000
#: Largest sample size per arm (assumed: far above any PLP trial; bounds simulation memory).
MAX_N_PER_ARM = 100_000


def parse_n_range(text: str) -> list[int]:
    """Parse ``"20:200:20"`` (start:stop:step, inclusive), ``"30"`` or ``"20,40,80"``.

    Parameters
    ----------
    text : str
        The range.

    Returns
    -------
    list of int
        Sample sizes.
    """
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            start, stop = parts[0], parts[1]
            step = parts[2] if len(parts) > 2 else 1
            if step <= 0 or stop < start or len(parts) > 3:
                raise ValueError
            sizes = range(start, stop + 1, step)
            out = list(sizes) if len(sizes) <= MAX_N_VALUES else [0]  # len() first: no 1e9 lists
        else:
            out = [int(p) for p in text.split(",", MAX_N_VALUES + 1) if p.strip()]
    except ValueError:
        out = []
    if not out or min(out) < 2 or max(out) > MAX_N_PER_ARM or len(out) > MAX_N_VALUES:
        raise InputError(
            Problem(
                "n",
                text,
                f"start:stop:step or a comma list of at most {MAX_N_VALUES} ints "
                f">= 2 and <= {MAX_N_PER_ARM}",
                "",
                "bad range",
            )
        )
    return out


def analytic_power(
    design: TrialDesign, n_per_arm: int | Sequence[int], *, alpha: float | None = None
) -> np.ndarray:
    """Analytic power of the primary contrast (see the module docstring).

    Parameters
    ----------
    design : TrialDesign
        Design with its planning :class:`SimulationModel`.
    n_per_arm : int or sequence of int
        Patients per unit of allocation ratio (per sequence for crossover).
    alpha : float or None
        Two-sided level (default ``design.analysis.alpha``).

    Returns
    -------
    numpy.ndarray
        Power for each ``n_per_arm``.
    """
    a = design.analysis.alpha if alpha is None else alpha
    n = np.atleast_1d(np.asarray(n_per_arm, dtype=float)) * (1.0 - design.simulation.dropout)
    return np.asarray(design.strategy.power(design, n, a))


def batched_ancova(
    y: np.ndarray,
    treat: np.ndarray,
    baseline: np.ndarray | None,
    extra: np.ndarray | None = None,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit one OLS per replicate at once and return the treatment coefficient.

    Model per replicate ``r``: ``y = b0 + b1 * treat + b2 * baseline + extra @ g``
    over the rows where ``mask`` is true.

    Parameters
    ----------
    y : numpy.ndarray, shape (R, N)
        Outcomes (NaN allowed where masked out).
    treat : numpy.ndarray, shape (N,)
        Treatment indicator (0/1).
    baseline : numpy.ndarray, shape (R, N) or None
        Baseline covariate (None for a plain two-sample comparison).
    extra : numpy.ndarray, shape (N, q) or None
        Further fixed columns (e.g. center dummies).
    mask : numpy.ndarray of bool, shape (R, N) or None
        Rows used per replicate (default: finite ``y``).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        Estimate, standard error and residual degrees of freedom of ``b1``, shape (R,).
    """
    r, n = y.shape
    cols = [np.ones((r, n)), np.broadcast_to(treat, (r, n))]
    if baseline is not None:
        cols.append(baseline)
    if extra is not None and extra.size:
        cols.extend(np.broadcast_to(extra[:, j], (r, n)) for j in range(extra.shape[1]))
    x = np.stack(cols, axis=-1)  # (R, N, p)
    w = np.isfinite(y) if mask is None else mask & np.isfinite(y)
    x = x * w[..., None]
    yy = np.where(w, y, 0.0)
    xtx = np.einsum("rnp,rnq->rpq", x, x)
    xty = np.einsum("rnp,rn->rp", x, yy)
    beta = np.linalg.solve(xtx, xty[..., None])[..., 0]
    resid = yy - np.einsum("rnp,rp->rn", x, beta)
    dfree = w.sum(axis=1) - x.shape[-1]
    s2 = np.einsum("rn,rn->r", resid, resid) / dfree
    inv11 = np.linalg.inv(xtx)[:, 1, 1]
    return beta[:, 1], np.sqrt(s2 * inv11), dfree.astype(float)


def crossover_pvalues(
    arms: np.ndarray, y: np.ndarray, observed: np.ndarray, control: str
) -> tuple[np.ndarray, np.ndarray]:
    """Batched 2x2 crossover period-difference t-tests (as in ``crossover_analysis``).

    Parameters
    ----------
    arms : numpy.ndarray of str, shape (N, 2)
        Arm per patient and period.
    y : numpy.ndarray, shape (R, N, 2)
        Outcomes of R simulated trials.
    observed : numpy.ndarray of bool, shape (R, N, 2)
        Which outcomes were observed (complete patients are analysed).
    control : str
        Control arm.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Treatment estimate (active - control) and two-sided p-value, shape (R,).
    """
    ab = arms[:, 1] == control  # sequences that give the active arm first
    half = (y[:, :, 0] - y[:, :, 1]) / 2.0
    ok = observed.all(axis=2)
    m1, m2 = ok & ab[None, :], ok & ~ab[None, :]
    n1, n2 = m1.sum(axis=1), m2.sum(axis=1)
    mean1 = np.where(m1, half, 0).sum(axis=1) / n1
    mean2 = np.where(m2, half, 0).sum(axis=1) / n2
    ss = np.where(m1, (half - mean1[:, None]) ** 2, 0).sum(axis=1)
    ss += np.where(m2, (half - mean2[:, None]) ** 2, 0).sum(axis=1)
    dfree = n1 + n2 - 2
    se = np.sqrt(ss / dfree * (1 / n1 + 1 / n2))
    est = mean1 - mean2
    return est, 2 * stats.t.sf(np.abs(est / se), dfree)


def simulated_power(
    design: TrialDesign,
    n_per_arm: int | Sequence[int],
    *,
    n_sims: int = 1000,
    rng: RNGLike = None,
    simulate: SimulateFn | None = None,
    analysis: str | None = None,
    contrast: str | None = None,
    scheduler: Any = None,
    n_workers: int = 1,
    chunk_size: int = 25,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Power by simulation: the fraction of simulated trials with ``p < alpha``.

    Parameters
    ----------
    design : TrialDesign
        Design (arms, analysis, alpha, planning model).
    n_per_arm : int or sequence of int
        Sample sizes.
    n_sims : int
        Replicates per sample size.
    rng : Generator, SeedSequence or int
        Randomness; each sample size gets its own spawned child stream.
    simulate : callable or None
        ``simulate(n_per_arm, rng) -> DataFrame`` in the long data format. None
        uses :class:`ParametricTrialModel` (vectorized fast path for ANCOVA and
        change analyses).
    analysis : str or None
        Which analysis decides significance (default ``design.analysis.primary``,
        or ``factorial`` / ``crossover`` for those designs).
    contrast : str or None
        Which contrast (default: the first row of that analysis).
    scheduler : None, "local", str or distributed.Client
        Where replicates of the general path run (see
        :func:`~phantomlab.trials.runner.run_replicates`); results do not depend
        on it. The vectorized fast path always runs in-process.
    n_workers : int
        Workers of a local cluster.
    chunk_size : int
        Replicates per chunk of the general path.
    progress : callable or None
        ``progress(done, total)`` after each chunk of the general path.

    Returns
    -------
    numpy.ndarray
        Simulated power per sample size.
    """
    ns = [int(v) for v in np.atleast_1d(n_per_arm)]
    if n_sims < 1:
        raise InputError(Problem("n_sims", n_sims, ">= 1", "", "need at least one simulation"))
    gens = spawn(rng, len(ns))
    plain = simulate is None and analysis is None and contrast is None
    strategy = design.strategy
    out = []
    for n, g in zip(ns, gens, strict=True):
        fast = strategy.fast_power(design, n, n_sims, g) if plain else None
        if fast is not None:
            out.append(fast)
            continue
        which = analysis or strategy.primary_analysis(design)
        task = TrialSimulationTask(design, n, (which,), simulate)
        run = run_replicates(
            task,
            n_sims,
            seed=int(g.integers(2**63)),
            chunk_size=chunk_size,
            scheduler=scheduler,
            n_workers=n_workers,
            progress=progress,
        )
        e = run.table[run.table["analysis"] == which]
        if contrast is not None:
            e = e[e["contrast"] == contrast]
        p = e.groupby("replicate")["p"].first()
        out.append(float((p < design.analysis.alpha).sum()) / n_sims)
    return np.asarray(out, dtype=float)


def power_curve(
    design: TrialDesign,
    n_per_arm: Sequence[int],
    *,
    n_sims: int = 1000,
    rng: RNGLike = None,
    simulate: SimulateFn | None = None,
    scheduler: Any = None,
    n_workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> PowerResult:
    """Analytic and simulated power side by side.

    Parameters
    ----------
    design : TrialDesign
        The design.
    n_per_arm : sequence of int
        Sample sizes.
    n_sims : int
        Replicates per sample size.
    rng : Generator, SeedSequence or int
        Randomness.
    simulate : callable or None
        Custom simulator (see :func:`simulated_power`).
    scheduler, n_workers, progress
        Passed to :func:`simulated_power`.

    Returns
    -------
    PowerResult
        Both curves with Monte-Carlo standard errors.
    """
    ns_list = [int(v) for v in n_per_arm]
    ns = np.asarray(ns_list)
    an = analytic_power(design, ns_list)
    sim = simulated_power(
        design,
        ns_list,
        n_sims=n_sims,
        rng=rng,
        simulate=simulate,
        scheduler=scheduler,
        n_workers=n_workers,
        progress=progress,
    )
    label, _ = design.strategy.primary_contrast(design)
    analysis = design.strategy.power_method(design)
    sim_label = getattr(simulate, "label", "custom simulator")
    method = f"{design.design}, {analysis}" + ("" if simulate is None else f", {sim_label}")
    return PowerResult(
        n_per_arm=ns,
        analytic=an,
        simulated=sim,
        mc_se=np.sqrt(sim * (1 - sim) / n_sims),
        n_sims=int(n_sims),
        contrast=label,
        method=method,
    )


def posterior_power(
    design: TrialDesign,
    n_per_arm: Sequence[int],
    *,
    n_sims: int = 100,
    n_draws: int = DEFAULT_DRAWS,
    record: Mapping[str, Any] | None = None,
    rng: RNGLike = None,
    model: Callable[[Any, dict[str, float]], SimulateFn] | None = None,
    level: float = 0.95,
    scheduler: Any = None,
    n_workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> PowerResult:
    """Power on the virtual cohort with its interval over posterior parameter draws.

    Each of ``n_draws`` parameter vectors of the calibration posterior
    (:func:`~phantomlab.trials.uncertainty.parameter_draws`) simulates ``n_sims // n_draws``
    trials per sample size (at least one). ``simulated`` is the fraction of all those trials
    with ``p < alpha`` (posterior predictive power); ``low`` and ``high`` are the
    ``(1 -/+ level) / 2`` quantiles of the power per draw (parameter uncertainty plus the
    Monte-Carlo noise of each draw's trials). A point record (no posterior sample) gives one
    draw with all ``n_sims`` trials and the Wilson interval of its power: trial resampling
    only (:data:`~phantomlab.trials.uncertainty.NO_POSTERIOR`). Next to it: the calibration
    error of each arm's parameter blocks (:func:`~phantomlab.trials.uncertainty.
    block_calibration_error`).

    Parameters
    ----------
    design : TrialDesign
        Design whose arms name protocols.
    n_per_arm : sequence of int
        Sample sizes.
    n_sims : int
        Simulated trials per sample size, over all draws.
    n_draws : int
        Posterior draws (1-1000).
    record : mapping, optional
        Calibration record (default: the stored one).
    rng : Generator, SeedSequence or int
        Randomness of the draws and the trials.
    model : callable, optional
        ``model(cohort_spec, params) -> simulate`` (default:
        :class:`~phantomlab.trials.replicate.VirtualTrialModel` of the design).
    level : float
        Interval coverage (0.5-0.999).
    scheduler, n_workers
        Where each draw's trials run (:func:`simulated_power`); results do not depend on it.
    progress : callable, optional
        ``progress(done, total)`` after each draw.

    Returns
    -------
    PowerResult
        With ``low``, ``high``, ``n_draws``, ``interval`` and ``calibration`` filled.
    """
    from phantomlab.cohorts import load_calibration
    from phantomlab.trials.replicate import VirtualTrialModel, resolve_protocol

    raise_if(
        check_range("n_sims", n_sims, low=1, high=1_000_000)
        + check_range("n_draws", n_draws, low=1, high=1000)
        + check_range("level", level, low=0.5, high=0.999)
    )
    rec = load_calibration() if record is None else record
    ns_list = [int(v) for v in n_per_arm]
    g_draw, g_sims = spawn(rng, 2)
    draws = parameter_draws(rec, n_draws, int(g_draw.integers(2**31)))
    per = max(1, int(n_sims) // len(draws))
    make = model or (lambda cs, p: VirtualTrialModel(design, cohort=cs, params=p))
    power = np.empty((len(draws), len(ns_list)))
    for d, (g, (cs, p)) in enumerate(zip(spawn(g_sims, len(draws)), draws, strict=True)):
        power[d] = simulated_power(design, ns_list, n_sims=per, rng=g, simulate=make(cs, p),
                                   scheduler=scheduler, n_workers=n_workers)  # fmt: skip
        if progress is not None:
            progress(d + 1, len(draws))
    total = per * len(draws)
    sim = power.mean(axis=0)
    post = has_posterior(rec)
    lo, hi = quantile_interval(power, level) if post else wilson_interval(sim, total, level)
    calib = {
        a.name: block_calibration_error(
            rec, protocol_blocks(resolve_protocol(str(a.protocol), allow_unsafe=a.allow_unsafe))
        )
        for a in design.arms
    }
    label, _ = design.strategy.primary_contrast(design)
    method = f"{design.design}, {design.strategy.power_method(design)}, simulated on the " + (
        "calibrated virtual cohort" if model is None else "virtual cohort (custom model)"
    )
    return PowerResult(
        n_per_arm=np.asarray(ns_list),
        analytic=analytic_power(design, ns_list),
        simulated=sim,
        mc_se=np.sqrt(sim * (1 - sim) / total),
        n_sims=int(total),
        contrast=label,
        method=method,
        low=np.asarray(lo, float),
        high=np.asarray(hi, float),
        n_draws=len(draws),
        interval=interval_note(rec, len(draws), f"{per} simulated trials per draw")
        + (f"; {HETEROGENEITY_POWER_NOTE}" if rec.get("heterogeneity") else ""),
        calibration=calib,
    )
