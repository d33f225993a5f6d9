"""Gaussian-process surrogates of the objective and of the side effect.

Both use scikit-learn's :class:`~sklearn.gaussian_process.GaussianProcessRegressor`
with a Matérn 5/2 kernel (one lengthscale per encoded column) plus a
``WhiteKernel`` for report noise, the kernel of the companion code of Bonizzato
et al. 2023 (Cell Rep Med 4:101008; ``mbonizzato/EduOptimNeurostim``, via
``research/optim_bci.md``). No GP algebra is written by hand except the one-step
update of :func:`expansion_bounds`.

* The **objective** GP has fitted hyperparameters (within :class:`SurrogateConfig`
  bounds) once enough reports exist, fixed ones before.
* The **side-effect** GP has fixed hyperparameters, as in SafeOpt (Sui et al.
  2015, ICML): a fitted amplitude would shrink to zero after a few reports of "no
  side effect" and declare everything safe. It may model the residual around a
  prior mean chosen among candidates (:class:`PriorMeans`) by profile likelihood.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from phantomlab._validation import check_in, check_range, raise_if

# scikit-learn and scipy.optimize load in the functions that fit (a second of imports that
# 'optimize suggest' before the first report, 'record' and 'status' do not need).
if TYPE_CHECKING:
    from sklearn.gaussian_process import GaussianProcessRegressor

__all__ = [
    "GPModel",
    "PriorMeans",
    "SurrogateConfig",
    "expansion_bounds",
    "fit_objective",
    "fit_side_effect",
]


@dataclass(frozen=True)
class SurrogateConfig:
    """Settings of the objective's GP.

    Parameters
    ----------
    objective : {"nrs_change", "responder"}
        What is told: pain relief in NRS points, or 1/0 responder.
    relief_scale_bounds : tuple of float
        Bounds of the prior standard deviation of relief across the space (NRS
        points; **assumed** 1-5: differences below the 1-point NRS measurement
        error are not worth searching for, and NRS changes cannot exceed 10).
    report_noise_bounds : tuple of float
        Bounds of the report noise standard deviation (NRS points; around the
        1.02 standard error of measurement of Childs et al. 2005, bounds 0.5-2
        **assumed**).
    lengthscale_bounds : tuple of float
        Bounds of the kernel's lengthscales in encoded units (each continuous
        axis spans [0, 1]; **assumed** 0.05-0.5, see docs/optimize.md).
    prior_lengthscale : float
        Starting (and, before ``fit_after`` reports, fixed) lengthscale in
        encoded units (**assumed** 0.2).
    fit_after : int
        Fit the hyperparameters only from this many reports on (**assumed** 15);
        before, use fixed ones (geometric means of the bounds and
        ``prior_lengthscale``).
    n_restarts : int
        Extra random restarts of the hyperparameter fit.
    """

    objective: Literal["nrs_change", "responder"] = "nrs_change"
    relief_scale_bounds: tuple[float, float] = (1.0, 5.0)
    report_noise_bounds: tuple[float, float] = (0.5, 2.0)
    lengthscale_bounds: tuple[float, float] = (0.05, 0.5)
    prior_lengthscale: float = 0.2
    fit_after: int = 15
    n_restarts: int = 0

    def __post_init__(self) -> None:
        problems = check_in("objective", self.objective, ("nrs_change", "responder"))
        problems += check_range("prior_lengthscale", self.prior_lengthscale, low=0.0)
        problems += check_range("fit_after", self.fit_after, low=0)
        problems += check_range("n_restarts", self.n_restarts, low=0)
        raise_if(problems)

    def variance_bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Bounds of the objective's signal and noise variance, in its own units."""
        if self.objective == "responder":
            return (0.05, 1.0), (0.01, 0.5)
        lo, hi = self.relief_scale_bounds
        nlo, nhi = self.report_noise_bounds
        return (lo**2, hi**2), (nlo**2, nhi**2)


@dataclass
class GPModel:
    """A fitted GP with the noise variance, offset and prior mean to add back.

    Attributes
    ----------
    gp : GaussianProcessRegressor
        The fitted regressor (of the residual around ``offset`` and ``prior_mean``).
    noise_var : float
        Report noise variance (subtracted from the predictive variance).
    offset : float
        Constant added to the predictions.
    prior_mean : callable or None
        Prior mean added to the predictions, a function of encoded points.
    """

    gp: GaussianProcessRegressor
    noise_var: float
    offset: float = 0.0
    prior_mean: Callable[[np.ndarray], np.ndarray] | None = None

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the latent (noise-free) mean and standard deviation at encoded points.

        Parameters
        ----------
        X : ndarray
            Encoded points, shape ``(n, d)``.

        Returns
        -------
        mean, sd : ndarray
            Shape ``(n,)`` each.
        """
        mu, sd = self.gp.predict(X, return_std=True)
        latent = np.sqrt(np.maximum(np.asarray(sd) ** 2 - self.noise_var, 1e-12))
        mean = np.asarray(mu, dtype=float) + self.offset
        if self.prior_mean is not None:
            mean = mean + self.prior_mean(X)
        return mean, latent


@dataclass(frozen=True)
class PriorMeans:
    """Candidate prior means of the side-effect GP, chosen at each fit.

    At each fit one GP is fitted to the residual around every candidate; the
    first candidate (in the given order) whose log marginal likelihood is within
    ``tolerance`` of the best is kept. Order the candidates from the most
    cautious to the least, and the choice is a conservative profile-likelihood one.

    Attributes
    ----------
    means : tuple of callable
        Candidate prior means, functions of encoded points ``(n, d) -> (n,)``.
    sd : float
        Prior standard deviation of the residual around the prior mean.
    tolerance : float
        Log-likelihood margin (default 1.92, half the 95% chi-square quantile
        with 1 degree of freedom).
    """

    means: tuple[Callable[[np.ndarray], np.ndarray], ...]
    sd: float
    tolerance: float = 1.92


def _lbfgs(
    obj_func: Any, initial_theta: np.ndarray, bounds: np.ndarray
) -> tuple[np.ndarray, float]:
    """Maximize the log marginal likelihood with L-BFGS-B, at most 60 iterations."""
    from scipy.optimize import minimize

    res = minimize(
        obj_func, initial_theta, method="L-BFGS-B", jac=True, bounds=bounds, options={"maxiter": 60}
    )
    return res.x, float(res.fun)


def fit_objective(
    X: np.ndarray, y: np.ndarray, config: SurrogateConfig, random_state: int
) -> GPModel:
    """Fit the objective's GP to the reports (around their mean).

    Parameters
    ----------
    X : ndarray
        Encoded tested points, shape ``(n, d)``.
    y : ndarray
        Reports, shape ``(n,)``.
    config : SurrogateConfig
        Kernel bounds and when to fit them.
    random_state : int
        Seed of the hyperparameter restarts.

    Returns
    -------
    GPModel
        The fitted model.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    n, d = X.shape
    (slo, shi), (nlo, nhi) = config.variance_bounds()
    kernel = ConstantKernel(np.sqrt(slo * shi), (slo, shi)) * Matern(
        length_scale=np.full(d, config.prior_lengthscale),
        length_scale_bounds=config.lengthscale_bounds,
        nu=2.5,
    ) + WhiteKernel(np.sqrt(nlo * nhi), (nlo, nhi))
    gp = GaussianProcessRegressor(
        kernel,
        normalize_y=False,
        optimizer=_lbfgs if n >= config.fit_after else None,
        n_restarts_optimizer=config.n_restarts if n > 3 else 0,
        random_state=random_state,
    )
    offset = float(np.mean(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(X, y - offset)
    return GPModel(gp, float(gp.kernel_.k2.noise_level), offset)


def fit_side_effect(
    X: np.ndarray,
    s: np.ndarray,
    lengthscales: np.ndarray,
    sd: float,
    noise_sd: float,
    prior: PriorMeans | None = None,
) -> tuple[GPModel, int | None]:
    """Fit the side-effect GP (fixed kernel), around a prior mean when given.

    Parameters
    ----------
    X : ndarray
        Encoded tested points with a rating, shape ``(n, d)``.
    s : ndarray
        Side-effect ratings, shape ``(n,)``.
    lengthscales : ndarray
        Fixed lengthscale of each encoded column, shape ``(d,)``.
    sd : float
        Prior standard deviation of the rating (used without ``prior``).
    noise_sd : float
        Report noise standard deviation.
    prior : PriorMeans or None
        Candidate prior means; ``None`` for a zero prior mean.

    Returns
    -------
    model : GPModel
        The fitted model (its ``prior_mean`` the chosen candidate).
    choice : int or None
        Index of the chosen candidate (``None`` without ``prior``).
    """
    from sklearn.base import clone
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    noise = noise_sd**2
    kernel = ConstantKernel((prior.sd if prior else sd) ** 2, "fixed") * Matern(
        length_scale=lengthscales, length_scale_bounds="fixed", nu=2.5
    ) + WhiteKernel(noise, "fixed")
    gp = GaussianProcessRegressor(kernel, normalize_y=False, optimizer=None)
    if prior is None:
        gp.fit(X, s)
        return GPModel(gp, noise), None
    fits = []
    for k, mean in enumerate(prior.means):
        g = clone(gp)
        g.fit(X, s - mean(X))  # the residual; the mean is added back in GPModel.predict
        fits.append((float(g.log_marginal_likelihood_value_), k, g))
    best = max(f[0] for f in fits)
    _, k, g = next(f for f in fits if f[0] >= best - prior.tolerance)
    return GPModel(g, noise, prior_mean=prior.means[k]), k


def expansion_bounds(
    model: GPModel, XS: np.ndarray, xg: np.ndarray, sd_s: np.ndarray, beta: float
) -> np.ndarray:
    """Side-effect upper bound at a goal after an optimistic report at each safe point.

    For a safe candidate ``x`` the report is imagined at its lower bound
    ``mean - beta * sd``; the GP update of the goal's mean and variance then
    follows from the posterior covariance ``c(goal, x)`` (fixed kernel, so the
    update is exact for that imagined report).

    Parameters
    ----------
    model : GPModel
        The side-effect model (fixed kernel ``signal * Matern + noise``).
    XS : ndarray
        Encoded safe candidates, shape ``(m, d)``.
    xg : ndarray
        Encoded goal, shape ``(d,)``.
    sd_s : ndarray
        Latent standard deviation at ``XS``, shape ``(m,)``.
    beta : float
        Width of the confidence bound.

    Returns
    -------
    ndarray
        The goal's upper bound ``mean + beta * sd`` after each imagined report, ``(m,)``.
    """
    from scipy.linalg import solve_triangular

    gp = model.gp
    k1 = gp.kernel_.k1
    Xtr = gp.X_train_
    a = solve_triangular(gp.L_, k1(Xtr, xg[None, :]), lower=True)
    B = solve_triangular(gp.L_, k1(Xtr, XS), lower=True)
    c = k1(xg[None, :], XS)[0] - (a.T @ B)[0]
    mu_g, sd_g = model.predict(xg[None, :])
    denom = sd_s**2 + model.noise_var
    mu_new = mu_g[0] - c * beta * sd_s / denom
    var_new = np.maximum(sd_g[0] ** 2 - c**2 / denom, 0.0)
    return np.asarray(mu_new + beta * np.sqrt(var_new), dtype=float)
