"""Parameter spaces of stimulation protocols, as the optimizer sees them.

A :class:`ParameterSpace` lists the free parameters of one modality's
protocol: continuous ones (:class:`Real`, optionally on a log scale) and
categorical ones (:class:`Categorical`, e.g. the active contact pair of a lead).
It encodes parameter values into the unit hypercube for the Gaussian-process
surrogate and decodes them back, samples candidates, builds grids, and turns a
point into the fields of a protocol file (with units, as a user writes them) so
that the ``protocols`` layer can validate and safety-check it.

Units: continuous parameters are held in SI (A, s, Hz); ``display`` names the
clinical unit used when a point is written out for a protocol (``"mA"``).

Each modality's space is declared on its protocol class (class attribute
``search_space``, a :class:`phantomlab.protocols.SearchSpec`); :func:`default_space`
builds it, so a new modality needs no change here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from phantomlab._rng import RNGLike, as_generator
from phantomlab._units import convert
from phantomlab.exceptions import InputError, Problem
from phantomlab.protocols import MODALITIES, SearchSpec

__all__ = [
    "Categorical",
    "ParameterSpace",
    "Real",
    "default_space",
    "known_modalities",
    "space_from_spec",
]


@functools.lru_cache(maxsize=64)
def _factor(unit: str, shown: str) -> float:
    """Multiplier from ``unit`` to ``shown`` (pint, looked up once per pair)."""
    return convert(1.0, unit, shown)


@dataclass(frozen=True)
class Real:
    """A continuous parameter.

    Parameters
    ----------
    name : str
        Field name in the protocol (e.g. ``"amplitude"``).
    low, high : float
        Bounds in the SI unit ``unit``.
    unit : str
        SI unit of the values (``"A"``, ``"s"``, ``"Hz"``, or ``""``).
    log : bool
        Search on a logarithmic scale (thresholds and frequencies act
        multiplicatively, so equal steps in log are equal relative steps).
    display : str
        Unit used when the value is written into a protocol file (``"mA"``).
    grid : tuple of float
        The values a device can be programmed to (SI, ascending, inside the bounds;
        empty: any value). With a grid, :meth:`decode` returns the nearest grid value
        (on the parameter's own scale), so every candidate an optimizer draws is on it.
    """

    name: str
    low: float
    high: float
    unit: str = ""
    log: bool = False
    display: str = ""
    grid: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if not (np.isfinite(self.low) and np.isfinite(self.high) and self.low < self.high):
            problems.append(
                Problem(self.name, (self.low, self.high), "low < high, finite", "", "bad bounds")
            )
        if self.log and self.low <= 0:
            problems.append(
                Problem(self.name, self.low, "> 0 for a log scale", "", "log scale needs low > 0")
            )
        g = np.asarray(self.grid, dtype=float)
        if g.size and (
            not np.all(np.isfinite(g))
            or np.any(np.diff(g) <= 0)
            or g[0] < self.low * (1 - 1e-12)
            or g[-1] > self.high * (1 + 1e-12)
        ):
            problems.append(
                Problem(
                    self.name,
                    f"{g.size} grid values",
                    f"ascending, inside {self.low:g} to {self.high:g} {self.unit}".strip(),
                    "",
                    "bad device grid",
                )
            )
        if problems:
            raise InputError(problems)

    @property
    def width(self) -> int:
        """Number of encoded columns (1)."""
        return 1

    def _scale(self, v: np.ndarray) -> np.ndarray:
        return np.log(v) if self.log else v

    def to_grid(self, values: np.ndarray) -> np.ndarray:
        """Return the nearest grid value of each SI value (unchanged without a grid).

        Parameters
        ----------
        values : ndarray
            SI values inside the bounds.

        Returns
        -------
        ndarray
            Grid values (nearest on the log scale for a log parameter).
        """
        v = np.asarray(values, dtype=float)
        if not self.grid:
            return v
        g = np.asarray(self.grid, dtype=float)
        if g.size == 1:
            return np.full_like(v, g[0])
        kv, kg = self._scale(np.clip(v, g[0], g[-1])), self._scale(g)
        i = np.clip(np.searchsorted(kg, kv), 1, g.size - 1)
        i = np.where(kv - kg[i - 1] <= kg[i] - kv, i - 1, i)
        return g[i]

    def neighbours(self, value: float) -> tuple[float, ...]:
        """Return the grid values just below and above ``value`` (one if on the grid)."""
        if not self.grid:
            return (float(value),)
        g = np.asarray(self.grid, dtype=float)
        if self.on_grid(value):
            return (float(self.to_grid(np.array([value]))[0]),)
        i = int(np.searchsorted(g, value))
        return tuple(float(x) for x in g[max(i - 1, 0) : i + 1])

    def on_grid(self, value: float) -> bool:
        """Whether ``value`` is a grid value (relative tolerance 1e-9; True without a grid)."""
        if not self.grid:
            return True
        near = float(self.to_grid(np.array([float(value)]))[0])
        return abs(near - float(value)) <= 1e-9 * max(abs(near), 1e-300)

    def show(self, value: float) -> str:
        """Write one SI value in its clinical unit, e.g. ``"1.4 mA"``, ``"200 µs"``."""
        if not self.unit:
            return f"{float(value):.6g}"
        shown = self.display or self.unit
        mag = float(value) * _factor(self.unit, shown)
        return f"{mag:.6g} {shown.replace('us', 'µs')}"

    def clinical(self, value: float) -> float:
        """Return one SI value in the clinical unit (``display``), rounded to 9 digits."""
        if not self.unit:
            return float(value)
        shown = self.display or self.unit
        return float(f"{float(value) * _factor(self.unit, shown):.9g}")

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Map SI values to [0, 1] (linear or log), shape ``(n, 1)``."""
        v = np.asarray(values, dtype=float)
        if self.log:
            u = (np.log(v) - np.log(self.low)) / (np.log(self.high) - np.log(self.low))
        else:
            u = (v - self.low) / (self.high - self.low)
        return u.reshape(-1, 1)

    def decode(self, u: np.ndarray) -> np.ndarray:
        """Map encoded columns back to SI values, shape ``(n,)``."""
        x = np.clip(np.asarray(u, dtype=float).reshape(-1), 0.0, 1.0)
        if self.log:
            v = np.exp(np.log(self.low) + x * (np.log(self.high) - np.log(self.low)))
        else:
            v = self.low + x * (self.high - self.low)
        return self.to_grid(np.clip(v, self.low, self.high))

    def check(self, value: Any) -> list[Problem]:
        """Return the problems of one value (empty if inside the bounds)."""
        if not isinstance(value, int | float) or isinstance(value, bool) or not np.isfinite(value):
            return [
                Problem(self.name, value, f"a number in {self.unit or '1'}", "", "not a number")
            ]
        if not self.low <= value <= self.high:
            return [
                Problem(
                    self.name,
                    value,
                    f"{self.low:g} to {self.high:g} {self.unit}".strip(),
                    "",
                    "outside the search space",
                )
            ]
        return []

    def to_field(self, value: float) -> Any:
        """Write one SI value as a protocol field (a quantity string if dimensional)."""
        if not self.unit:
            return float(value)
        shown = self.display or self.unit
        return f"{float(value) * _factor(self.unit, shown):.6g} {shown}"


@dataclass(frozen=True)
class Categorical:
    """A categorical parameter, e.g. the active contact pair of a lead.

    Parameters
    ----------
    name : str
        Field name.
    choices : tuple of str
        Allowed values.
    positions : tuple of float or None
        Optional numeric embedding of each choice (e.g. the centre of a bipole
        along the lead, in m). With positions the surrogate treats nearby
        choices as similar (one encoded column); without, choices are one-hot
        encoded and equally dissimilar.
    """

    name: str
    choices: tuple[str, ...]
    positions: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.choices) < 1 or len(set(self.choices)) != len(self.choices):
            raise InputError(
                Problem(self.name, self.choices, "distinct, non-empty", "", "bad choices")
            )
        if self.positions is not None and len(self.positions) != len(self.choices):
            raise InputError(
                Problem(self.name, self.positions, "one per choice", "", "bad positions")
            )

    @property
    def width(self) -> int:
        """Number of encoded columns (1 with positions, else one per choice)."""
        return 1 if self.positions is not None else len(self.choices)

    def index(self, values: Sequence[Any]) -> np.ndarray:
        """Return the integer index of each value (raises on unknown values)."""
        lookup = {c: i for i, c in enumerate(self.choices)}
        bad = [v for v in values if v not in lookup]
        if bad:
            raise InputError(self.check(bad[0]))
        return np.array([lookup[v] for v in values], dtype=int)

    def encode_index(self, idx: np.ndarray) -> np.ndarray:
        """Encode integer indices, shape ``(n, width)``."""
        idx = np.asarray(idx, dtype=int).reshape(-1)
        if self.positions is not None:
            pos = np.asarray(self.positions, dtype=float)
            span = float(pos.max() - pos.min()) or 1.0
            return ((pos[idx] - pos.min()) / span).reshape(-1, 1)
        out = np.zeros((idx.size, len(self.choices)))
        out[np.arange(idx.size), idx] = 1.0
        return out

    def encode(self, values: Sequence[Any]) -> np.ndarray:
        """Encode choice values, shape ``(n, width)``."""
        return self.encode_index(self.index(values))

    def decode_index(self, u: np.ndarray) -> np.ndarray:
        """Nearest choice index of encoded columns, shape ``(n,)``."""
        u = np.asarray(u, dtype=float).reshape(-1, self.width)
        if self.positions is None:
            return np.argmax(u, axis=1)
        ref = self.encode_index(np.arange(len(self.choices)))[:, 0]
        return np.argmin(np.abs(u[:, :1] - ref[None, :]), axis=1)

    def check(self, value: Any) -> list[Problem]:
        """Return the problems of one value (empty if allowed)."""
        if value in self.choices:
            return []
        shown = ", ".join(self.choices[:12]) + (" ..." if len(self.choices) > 12 else "")
        return [Problem(self.name, value, f"one of: {shown}", "", "not an allowed choice")]

    def to_field(self, value: str) -> Any:
        """Write one choice as a protocol field (unchanged)."""
        return value


Parameter = Real | Categorical


@dataclass(frozen=True)
class ParameterSpace:
    """The free parameters of one modality's protocol, and its fixed fields.

    Parameters
    ----------
    modality : str
        Protocol modality key (``"scs"``, ``"drg"``, ``"tdcs"`` ...).
    parameters : tuple of Real or Categorical
        The searched parameters, in a fixed order.
    fixed : dict
        Protocol fields that are not searched (e.g. ``lead``, ``contact_area``),
        written as in a protocol file (quantity strings).
    safe_seed : dict
        A point believed safe for every patient (e.g. the lowest amplitude),
        from which safe exploration starts.
    sources : dict
        Where each bound comes from (citation or ``assumed: reason``).
    side_effect_lengthscales : dict
        Prior lengthscale (encoded units) of the side effect along each
        parameter, for the SafeOpt-style constraint model; long where the side
        effect hardly depends on the parameter. Missing names use the
        optimizer's default.
    not_in_protocol : tuple of str
        Searched parameters the protocol schema has no field for (e.g. the
        active SCS bipole); they are kept out of :meth:`protocol_fields`.
    """

    modality: str
    parameters: tuple[Parameter, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    safe_seed: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    side_effect_lengthscales: Mapping[str, float] = field(default_factory=dict)
    not_in_protocol: tuple[str, ...] = ()

    def with_bounds(self, **bounds: tuple[float, float]) -> ParameterSpace:
        """Return a copy with new bounds for continuous parameters (SI units).

        Parameters
        ----------
        **bounds : tuple of float
            ``name=(low, high)`` per continuous parameter.

        Returns
        -------
        ParameterSpace
            The narrowed (or widened) space.
        """
        params = []
        for p in self.parameters:
            if p.name in bounds:
                if not isinstance(p, Real):
                    raise InputError(
                        Problem(
                            p.name,
                            bounds[p.name],
                            "a continuous parameter",
                            "",
                            "bounds apply to continuous parameters",
                        )
                    )
                lo, hi = bounds[p.name]
                p = replace(p, low=float(lo), high=float(hi))
            params.append(p)
        unknown = sorted(set(bounds) - set(self.names))
        if unknown:
            raise InputError(Problem("bounds", unknown, ", ".join(self.names), "", "unknown"))
        return replace(self, parameters=tuple(params))

    def parse(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Convert user-written values (``"1.9 mA"``) to SI floats / choices.

        Parameters
        ----------
        values : mapping
            Parameter name -> quantity string, number in SI, or choice.

        Returns
        -------
        dict
            Parsed values (not checked against the bounds).
        """
        from phantomlab._units import as_si

        out: dict[str, Any] = {}
        problems: list[Problem] = []
        for k, v in values.items():
            try:
                p = self.parameter(k)
                out[k] = (
                    as_si(v, p.unit or "dimensionless", field=k) if isinstance(p, Real) else str(v)
                )
            except InputError as exc:
                problems += exc.problems
        if problems:
            raise InputError(problems)
        return out

    def with_seed(self, seed: Mapping[str, Any]) -> ParameterSpace:
        """Return a copy whose safe seed is updated with ``seed`` (validated)."""
        merged = {**dict(self.safe_seed), **dict(seed)}
        return replace(self, safe_seed=self.validate(merged))

    @property
    def names(self) -> list[str]:
        """Parameter names in order."""
        return [p.name for p in self.parameters]

    @property
    def n_encoded(self) -> int:
        """Number of columns of the encoded representation."""
        return sum(p.width for p in self.parameters)

    def parameter(self, name: str) -> Parameter:
        """Return the parameter called ``name``."""
        for p in self.parameters:
            if p.name == name:
                return p
        raise InputError(Problem("parameter", name, ", ".join(self.names), "", "unknown"))

    # -- validation --------------------------------------------------------------------------
    def validate(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """Check one point; return it as a plain dict or raise every problem.

        Parameters
        ----------
        point : mapping
            Parameter name -> SI value (or choice).

        Returns
        -------
        dict
            The point with floats for continuous parameters.
        """
        problems: list[Problem] = []
        unknown = sorted(set(point) - set(self.names))
        problems += [Problem(k, point[k], ", ".join(self.names), "", "unknown") for k in unknown]
        out: dict[str, Any] = {}
        for p in self.parameters:
            if p.name not in point:
                problems.append(Problem(p.name, None, "required", "", "missing parameter"))
                continue
            v = point[p.name]
            if isinstance(p, Real) and isinstance(v, np.generic):
                v = v.item()
            problems += p.check(v)
            out[p.name] = float(v) if isinstance(p, Real) and not problems else v
        if problems:
            raise InputError(problems)
        return out

    def off_grid(self, point: Mapping[str, Any]) -> list[Problem]:
        """Problems of the continuous values of ``point`` that are not on their device grid.

        Parameters
        ----------
        point : mapping
            Parameter name -> SI value (or choice).

        Returns
        -------
        list of Problem
            One per value off its grid, naming the nearest programmable values.
        """
        problems = []
        for p in self.parameters:
            if isinstance(p, Real) and p.name in point and not p.on_grid(point[p.name]):
                near = " or ".join(p.show(v) for v in p.neighbours(float(point[p.name])))
                problems.append(
                    Problem(
                        p.name,
                        p.show(float(point[p.name])),
                        f"a value the device can be programmed to (nearest: {near})",
                        "device profile",
                        "not on the device's programmable grid",
                    )
                )
        return problems

    def snap_point(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """Return ``point`` with each continuous value moved to its nearest grid value."""
        out = dict(point)
        for p in self.parameters:
            if isinstance(p, Real) and p.name in out:
                out[p.name] = float(p.to_grid(np.array([float(out[p.name])]))[0])
        return out

    def clinical(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """Values in clinical units with unit-named keys (``amplitude_mA``, ``pulse_width_us``).

        Parameters
        ----------
        point : mapping
            Parameter name -> SI value (or choice).

        Returns
        -------
        dict
            Continuous values in their clinical unit, choices unchanged.
        """
        out: dict[str, Any] = {}
        for p in self.parameters:
            if p.name not in point:
                continue
            if isinstance(p, Real) and p.unit:
                out[f"{p.name}_{p.display or p.unit}"] = p.clinical(float(point[p.name]))
            else:
                out[p.name] = point[p.name]
        return out

    def show(self, point: Mapping[str, Any]) -> dict[str, str]:
        """Values written for a clinician, e.g. ``{"amplitude": "1.4 mA"}``."""
        return {
            p.name: p.show(float(point[p.name])) if isinstance(p, Real) else str(point[p.name])
            for p in self.parameters
            if p.name in point
        }

    # -- encoding ----------------------------------------------------------------------------
    def encode(self, points: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Encode points (list of dicts) to an array ``(n, n_encoded)`` in [0, 1]."""
        cols = []
        for p in self.parameters:
            vals = [pt[p.name] for pt in points]
            cols.append(
                p.encode(np.asarray(vals, dtype=float)) if isinstance(p, Real) else p.encode(vals)
            )
        if not points:
            return np.zeros((0, self.n_encoded))
        return np.hstack(cols)

    def encode_columns(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Encode column arrays (continuous in SI, categorical as integer index)."""
        cols = []
        for p in self.parameters:
            c = np.asarray(columns[p.name])
            cols.append(p.encode(c) if isinstance(p, Real) else p.encode_index(c))
        return np.hstack(cols)

    def decode_columns(self, u: np.ndarray) -> dict[str, np.ndarray]:
        """Decode an encoded array to columns (SI floats; integer index for choices)."""
        u = np.atleast_2d(np.asarray(u, dtype=float))
        out: dict[str, np.ndarray] = {}
        j = 0
        for p in self.parameters:
            block = u[:, j : j + p.width]
            out[p.name] = p.decode(block) if isinstance(p, Real) else p.decode_index(block)
            j += p.width
        return out

    def columns_to_points(self, columns: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
        """Turn column arrays (choices as indices) into a list of point dicts."""
        n = len(np.asarray(columns[self.parameters[0].name]))
        pts: list[dict[str, Any]] = [{} for _ in range(n)]
        for p in self.parameters:
            col = np.asarray(columns[p.name])
            for i in range(n):
                pts[i][p.name] = float(col[i]) if isinstance(p, Real) else p.choices[int(col[i])]
        return pts

    def points_to_columns(self, points: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """Turn point dicts into column arrays (choices as integer indices)."""
        out: dict[str, np.ndarray] = {}
        for p in self.parameters:
            vals = [pt[p.name] for pt in points]
            out[p.name] = np.asarray(vals, dtype=float) if isinstance(p, Real) else p.index(vals)
        return out

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Project encoded rows onto valid encodings (clip, snap choices)."""
        return self.encode_columns(self.decode_columns(u))

    # -- sampling ----------------------------------------------------------------------------
    def sample_columns(self, n: int, rng: RNGLike = None) -> dict[str, np.ndarray]:
        """Draw ``n`` quasi-random points (scrambled Sobol in the encoded cube).

        Parameters
        ----------
        n : int
            Number of points.
        rng : Generator, int or None
            Randomness (scrambling and choice draws).

        Returns
        -------
        dict of ndarray
            Columns: SI values for continuous parameters, indices for choices.
        """
        gen = as_generator(rng)
        reals = [p for p in self.parameters if isinstance(p, Real)]
        out: dict[str, np.ndarray] = {}
        if reals:
            from scipy.stats import qmc  # scipy.stats takes a second to import: only here

            sob = qmc.Sobol(d=len(reals), scramble=True, seed=gen)
            m = int(np.ceil(np.log2(max(n, 2))))
            u = sob.random_base2(m)[:n]
            for j, r in enumerate(reals):
                out[r.name] = r.decode(u[:, j])
        for c in self.parameters:
            if isinstance(c, Categorical):
                out[c.name] = gen.integers(0, len(c.choices), size=n)
        return out

    def grid_columns(self, levels: int | Mapping[str, int]) -> dict[str, np.ndarray]:
        """Full factorial grid: every choice times ``levels`` values per continuous axis.

        Continuous axes use evenly spaced values on their own scale (log or
        linear), including both bounds. The order is nested with the first
        parameter outermost, as a clinician sweeps one setting at a time.

        Parameters
        ----------
        levels : int or mapping
            Levels per continuous parameter (one number for all, or by name).

        Returns
        -------
        dict of ndarray
            Grid columns.
        """
        axes = []
        for p in self.parameters:
            if isinstance(p, Real):
                k = levels if isinstance(levels, int) else int(levels.get(p.name, 3))
                axes.append(
                    p.decode(np.linspace(0.0, 1.0, max(k, 1)))
                    if k > 1
                    else p.decode(np.array([0.5]))
                )
            else:
                axes.append(np.arange(len(p.choices)))
        mesh = np.meshgrid(*axes, indexing="ij")
        return {p.name: m.reshape(-1) for p, m in zip(self.parameters, mesh, strict=True)}

    # -- protocols -------------------------------------------------------------------------
    def protocol_fields(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """Return the protocol-file fields of one point (fixed fields included).

        Parameters
        ----------
        point : mapping
            Parameter name -> SI value or choice.

        Returns
        -------
        dict
            ``{"modality": ..., **fixed, **searched}`` with quantity strings,
            e.g. ``{"amplitude": "3.5 mA"}``.
        """
        out: dict[str, Any] = {"modality": self.modality, **dict(self.fixed)}
        for p in self.parameters:
            if p.name not in self.not_in_protocol:
                out[p.name] = p.to_field(point[p.name])
        return out

    def describe(self) -> list[dict[str, Any]]:
        """One dict per parameter (name, kind, bounds or choices, scale, source)."""
        rows: list[dict[str, Any]] = []
        for p in self.parameters:
            if isinstance(p, Real):
                rows.append(
                    {
                        "name": p.name,
                        "kind": "log" if p.log else "linear",
                        "low": p.low,
                        "high": p.high,
                        "unit": p.unit,
                        "grid": len(p.grid),
                        "source": self.sources.get(p.name, ""),
                    }
                )
            else:
                rows.append(
                    {
                        "name": p.name,
                        "kind": "categorical",
                        "choices": list(p.choices),
                        "source": self.sources.get(p.name, ""),
                    }
                )
        return rows


def space_from_spec(modality: str, spec: SearchSpec) -> ParameterSpace:
    """Build the optimizer's space from a protocol class's declaration.

    Parameters
    ----------
    modality : str
        Modality key.
    spec : SearchSpec
        The class attribute ``search_space`` of the modality's protocol class.

    Returns
    -------
    ParameterSpace
        Continuous parameters as :class:`Real`, choices as :class:`Categorical`.
    """
    params: list[Parameter] = []
    for t in spec.parameters:
        if t.categorical:
            params.append(Categorical(t.name, t.choices, t.positions))
        else:
            if t.low is None or t.high is None:
                raise InputError(
                    Problem(t.name, (t.low, t.high), "low and high", "", "bounds missing")
                )
            params.append(Real(t.name, t.low, t.high, t.unit, log=t.log, display=t.display))
    return ParameterSpace(
        modality=modality,
        parameters=tuple(params),
        fixed=dict(spec.fixed),
        safe_seed=dict(spec.safe_seed),
        sources=dict(spec.sources),
        side_effect_lengthscales=dict(spec.side_effect_lengthscales),
        not_in_protocol=tuple(t.name for t in spec.parameters if not t.in_protocol),
    )


def known_modalities() -> list[str]:
    """Modalities whose protocol class declares a search space (``search_space``)."""
    return sorted(k for k, cls in MODALITIES.items() if cls.search_space is not None)


def default_space(modality: str) -> ParameterSpace:
    """Return the parameter space a modality's protocol class declares.

    Parameters
    ----------
    modality : str
        Protocol modality key (see :func:`known_modalities`).

    Returns
    -------
    ParameterSpace
        Its searched parameters, fixed protocol fields and a safe seed, from the
        class attribute ``search_space`` of the protocol class
        (:class:`phantomlab.protocols.SearchSpec`).

    Raises
    ------
    InputError
        For a modality without a declared space.
    """
    key = str(modality).strip().lower()
    cls = MODALITIES.get(key)
    if cls is None or cls.search_space is None:
        raise InputError(
            Problem(
                "modality",
                modality,
                "one of: " + ", ".join(known_modalities()),
                "",
                "no optimization space for this modality",
            )
        )
    return space_from_spec(key, cls.search_space)
