"""One provenance record type for every model parameter in PhantomLab.

Each model constant is a :class:`Param`: its value, unit and where the value comes
from. ``kind`` is one of

* ``"source"``: read in a publication (``source`` names it; ``note`` says where);
* ``"calibrated"``: fitted by PhantomLab to named data (``source`` names the target
  data, ``note`` the procedure);
* ``"assumed"``: not read anywhere; ``note`` gives the reason for the value.

A parameter that a calibration may move carries its ``prior`` range. Subpackages keep
their own registries (``dict[str, Param]``) so that each model card lists its own level,
but every registry holds this one type, built and checked by :func:`make_param`. A
registry that is a table (many rows of the same shape) lives in a CSV file under its
package's ``data/`` folder and is read by :func:`read_params`. Records that are not
scalars (the distributions of a cohort spec) carry the same ``kind``, ``source`` and
``note``, checked by the same rule, :func:`check_provenance`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = [
    "KINDS",
    "PARAM_COLUMNS",
    "Kind",
    "Param",
    "check_provenance",
    "make_param",
    "read_params",
    "registry_values",
]

#: Allowed provenance kinds.
KINDS: tuple[str, ...] = ("source", "calibrated", "assumed")

Kind = Literal["source", "calibrated", "assumed"]

#: Columns of a parameter table file (:func:`read_params`); ``prior_low`` and
#: ``prior_high`` may be added (empty for a fixed value).
PARAM_COLUMNS: tuple[str, ...] = ("name", "value", "unit", "kind", "source", "note")


@dataclass(frozen=True)
class Param:
    """One model parameter with its provenance.

    Parameters
    ----------
    module : str
        Short name of the model part (``"peripheral"``, ``"rtms"``, ``"bci"``, ...).
    name : str
        Parameter name, unique within its module.
    value : float
        Numeric value in ``unit`` (SI unless the unit says otherwise).
    unit : str
        Unit of ``value`` (``"1"`` for dimensionless).
    kind : {"source", "calibrated", "assumed"}
        Provenance kind.
    source : str
        Citation (DOI/PMID), calibration target, or ``""`` for assumed values.
    note : str
        Reason (assumed), procedure (calibrated) or location (source).
    prior : tuple of float or None
        ``(low, high)`` range a calibration may search, or ``None`` for a fixed value.
    """

    module: str
    name: str
    value: float
    unit: str
    kind: Kind
    source: str
    note: str = ""
    prior: tuple[float, float] | None = None

    @property
    def key(self) -> str:
        """Return ``"module.name"``."""
        return f"{self.module}.{self.name}"


def check_provenance(what: str, kind: str, source: str, note: str) -> None:
    """Check a provenance triple: the one rule for every record of every package.

    Parameters
    ----------
    what : str
        The record, for the message (``"peripheral.tau_M"``, ``"normal distribution"``).
    kind : str
        One of :data:`KINDS`.
    source : str
        Citation or calibration target; required for ``source`` and ``calibrated``.
    note : str
        Reason; required for ``assumed``.

    Raises
    ------
    ValueError
        If the kind is unknown, or the source or reason it needs is missing.
    """
    if kind not in KINDS:
        raise ValueError(f"{what}: provenance kind must be one of {KINDS}, got {kind!r}")
    if kind in ("source", "calibrated") and not source:
        raise ValueError(
            f"{what}: a {kind} value needs a 'source' (citation or calibration target)"
        )
    if kind == "assumed" and not note:
        raise ValueError(f"{what}: an assumed value needs a 'note' giving the reason")


def make_param(
    module: str,
    name: str,
    value: float,
    unit: str,
    kind: str,
    source: str = "",
    note: str = "",
    prior: tuple[float, float] | None = None,
) -> Param:
    """Build a checked :class:`Param` (a malformed record is a programming error).

    Parameters
    ----------
    module, name : str
        Where the parameter lives.
    value : float
        Its value.
    unit : str
        Its unit.
    kind : {"source", "calibrated", "assumed"}
        Provenance kind.
    source : str
        Citation or calibration target (required for ``source`` and ``calibrated``).
    note : str
        Reason (required for ``assumed``) or location.
    prior : tuple of float, optional
        ``(low, high)`` calibration range; must contain ``value``.

    Returns
    -------
    Param
        The record.

    Raises
    ------
    ValueError
        If the kind is unknown, a source or reason is missing, or the value lies
        outside its prior.
    """
    check_provenance(f"{module}.{name}", kind, source, note)
    rng: tuple[float, float] | None = None
    if prior is not None:
        rng = (float(prior[0]), float(prior[1]))
        if not rng[0] <= float(value) <= rng[1]:
            raise ValueError(f"{module}.{name}: value {value} outside its prior {rng}")
    return Param(module, name, float(value), unit, kind, source, note, rng)  # type: ignore[arg-type]


def registry_values(*registries: Mapping[str, Any]) -> dict[str, float]:
    """Every parameter value of ``registries``, keyed ``"module.name"`` (for fingerprints).

    Parameters
    ----------
    *registries : mapping of str to Param
        Registries to read (records with ``key`` and ``value``).

    Returns
    -------
    dict of str to float
        Sorted by key.
    """
    out: dict[str, float] = {}
    for reg in registries:
        for p in reg.values():
            out[p.key] = p.value
    return dict(sorted(out.items()))


class _Readable(Protocol):
    """A file or package resource (:class:`pathlib.Path`, ``importlib`` traversable)."""

    def read_text(self, encoding: str | None = None) -> str: ...


def read_params(file: _Readable, module: str) -> list[Param]:
    """Read a parameter table file into checked :class:`Param` records.

    The file is CSV with a header row of :data:`PARAM_COLUMNS` (and optionally
    ``prior_low, prior_high``), one parameter a row, in registry order. Values are
    parsed with :func:`float`, so a value written as ``repr(x)`` reads back as ``x``
    bit for bit.

    Parameters
    ----------
    file : Path or importlib.resources.abc.Traversable
        The table (``resources.files(package) / "data" / "params.csv"``).
    module : str
        Module of every record.

    Returns
    -------
    list of Param
        One record per row, checked by :func:`make_param`.

    Raises
    ------
    ValueError
        If a column is missing or unknown, a name repeats, or a record is malformed
        (a packaged table is code: this is a programming error, not user input).
    """
    rows = list(csv.DictReader(io.StringIO(file.read_text(encoding="utf-8"))))
    cols = set(rows[0]) if rows else set()
    allowed = {*PARAM_COLUMNS, "prior_low", "prior_high"}
    if not rows or not set(PARAM_COLUMNS) <= cols or not cols <= allowed:
        raise ValueError(f"{module} parameter table: columns must be {PARAM_COLUMNS}, got {cols}")
    out: list[Param] = []
    for row in rows:
        lo, hi = row.get("prior_low") or "", row.get("prior_high") or ""
        prior = (float(lo), float(hi)) if lo or hi else None
        out.append(
            make_param(
                module,
                row["name"],
                float(row["value"]),
                row["unit"],
                row["kind"],
                row["source"],
                row["note"],
                prior,
            )
        )
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"{module} parameter table: repeated names {dup}")
    return out
