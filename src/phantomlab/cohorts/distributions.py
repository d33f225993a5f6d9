"""Documented, vectorized sampling distributions for virtual populations.

Every distribution of a :class:`~phantomlab.cohorts.spec.CohortSpec` is one of
the pydantic models below and carries its provenance: ``kind`` is ``"source"``
(``source`` names where the numbers were read), ``"calibrated"`` (fitted to
named data) or ``"assumed"`` (``note`` gives the reason), the vocabulary of the
core :class:`phantomlab._params.Param`, checked by the same rule
(:func:`phantomlab._params.check_provenance`). ``sample(n, rng)``
draws ``n`` values at once (no Python loop over patients) from an explicit
``numpy.random.Generator``. Truncation uses the inverse CDF, so a truncated
draw costs one uniform per patient and is reproducible bit for bit.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.special import ndtr, ndtri

from phantomlab._params import Kind, check_provenance

__all__ = [
    "Bernoulli",
    "Categorical",
    "Dist",
    "LogNormal",
    "Normal",
    "Uniform",
]


class _DistBase(BaseModel):
    """Provenance shared by every distribution."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind = Field(description="Provenance: source, calibrated or assumed.")
    source: str = Field("", description="Citation (source) or calibration target (calibrated).")
    note: str = Field("", description="Location (source), procedure or reason (assumed).")

    @model_validator(mode="after")
    def _provenance(self) -> _DistBase:
        dist = getattr(self, "dist", type(self).__name__.lower())
        check_provenance(f"{dist} distribution", self.kind, self.source, self.note)
        return self

    def provenance(self) -> str:
        """Return ``"kind: source; note"`` (one line)."""
        return f"{self.kind}: " + "; ".join(s for s in (self.source, self.note) if s)


def _truncated_std_normal(
    n: int, a: float, b: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Draw standard normals truncated to ``[a, b]`` by the inverse CDF."""
    lo, hi = float(ndtr(a)), float(ndtr(b))
    u = lo + (hi - lo) * rng.random(n)
    return np.asarray(ndtri(np.clip(u, 1e-300, 1.0 - 1e-16)), dtype=float)


class Normal(_DistBase):
    """Normal distribution, optionally truncated to ``[low, high]``."""

    dist: Literal["normal"] = "normal"
    mean: float
    sd: float = Field(ge=0.0)
    low: float = -np.inf
    high: float = np.inf

    @model_validator(mode="after")
    def _bounds(self) -> Normal:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        """Draw ``n`` values.

        Parameters
        ----------
        n : int
            Number of draws.
        rng : numpy.random.Generator
            Random stream.

        Returns
        -------
        ndarray, shape (n,)
            Draws in ``[low, high]``.
        """
        if self.sd == 0:
            return np.full(n, np.clip(self.mean, self.low, self.high))
        a, b = (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd
        return self.mean + self.sd * _truncated_std_normal(n, a, b, rng)

    def quantile(self, q: NDArray[np.float64]) -> NDArray[np.float64]:
        """Inverse CDF of the truncated distribution at probabilities ``q``."""
        if self.sd == 0:
            return np.full(np.shape(q), self.mean)
        a, b = (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd
        lo, hi = ndtr(a), ndtr(b)
        return self.mean + self.sd * ndtri(lo + (hi - lo) * np.asarray(q, float))


class LogNormal(_DistBase):
    """Log-normal distribution (median and log-SD), optionally truncated."""

    dist: Literal["lognormal"] = "lognormal"
    median: float = Field(gt=0.0)
    sigma: float = Field(ge=0.0)
    low: float = Field(0.0, ge=0.0)
    high: float = np.inf

    @model_validator(mode="after")
    def _bounds(self) -> LogNormal:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self

    def _ab(self) -> tuple[float, float]:
        mu = np.log(self.median)
        a = -np.inf if self.low <= 0 else (np.log(self.low) - mu) / self.sigma
        b = np.inf if not np.isfinite(self.high) else (np.log(self.high) - mu) / self.sigma
        return float(a), float(b)

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        """Draw ``n`` values (see :meth:`Normal.sample`)."""
        if self.sigma == 0:
            return np.full(n, self.median)
        a, b = self._ab()
        return np.exp(np.log(self.median) + self.sigma * _truncated_std_normal(n, a, b, rng))

    def quantile(self, q: NDArray[np.float64]) -> NDArray[np.float64]:
        """Inverse CDF of the truncated distribution at probabilities ``q``."""
        if self.sigma == 0:
            return np.full(np.shape(q), self.median)
        a, b = self._ab()
        lo, hi = ndtr(a), ndtr(b)
        z = ndtri(lo + (hi - lo) * np.asarray(q, float))
        return np.exp(np.log(self.median) + self.sigma * z)


class Uniform(_DistBase):
    """Uniform distribution on ``[low, high]``."""

    dist: Literal["uniform"] = "uniform"
    low: float
    high: float

    @model_validator(mode="after")
    def _bounds(self) -> Uniform:
        if not self.low <= self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        """Draw ``n`` values."""
        return self.low + (self.high - self.low) * rng.random(n)

    def quantile(self, q: NDArray[np.float64]) -> NDArray[np.float64]:
        """Inverse CDF at probabilities ``q``."""
        return self.low + (self.high - self.low) * np.asarray(q, float)


class Categorical(_DistBase):
    """Categories with probabilities (normalised if they sum to within 1 %% of 1)."""

    dist: Literal["categorical"] = "categorical"
    probs: dict[str, float]

    @model_validator(mode="after")
    def _probs(self) -> Categorical:
        if not self.probs:
            raise ValueError("probs must name at least one category")
        p = np.array(list(self.probs.values()), float)
        if np.any(~np.isfinite(p)) or np.any(p < 0):
            raise ValueError("probabilities must be finite and >= 0")
        if abs(p.sum() - 1.0) > 0.01:
            raise ValueError(f"probabilities sum to {p.sum():.4g}, not 1")
        return self

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.str_]:
        """Draw ``n`` category labels."""
        keys = np.array(list(self.probs))
        p = np.array(list(self.probs.values()), float)
        cum = np.cumsum(p / p.sum())
        idx = np.minimum(np.searchsorted(cum, rng.random(n), side="right"), keys.size - 1)
        return keys[idx]


class Bernoulli(_DistBase):
    """Yes/no with probability ``p``."""

    dist: Literal["bernoulli"] = "bernoulli"
    p: float = Field(ge=0.0, le=1.0)

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.bool_]:
        """Draw ``n`` booleans."""
        return rng.random(n) < self.p


#: Any distribution (tagged by its ``dist`` field in YAML).
Dist = Annotated[
    Normal | LogNormal | Uniform | Categorical | Bernoulli, Field(discriminator="dist")
]
