"""Safety rules as values: the quantities they compare and the rule record.

A :class:`SafetyRule` compares one quantity of a protocol (SI-suffixed key such as
``"current_A"``) with a limit. Published limits are rows of ``data/safety_rules.csv``;
a protocol class may also declare its own (class attribute ``safety_limits``), each
with its citation or, for a value not read in a source, ``"assumed: <reason>"``.

Quantity keys are shared by every modality (:data:`QUANTITIES`); a protocol class adds
the keys only it has in its class attribute ``quantity_units``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from phantomlab.protocols.registry import MODALITIES

__all__ = ["OPS", "QUANTITIES", "SafetyRule", "quantity_info", "short_source", "show_quantity"]

#: Comparison operators of the rules.
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

#: Quantity key -> (field name in the protocol, SI unit, display unit).
QUANTITIES: dict[str, tuple[str, str, str]] = {
    "current_A": ("current", "A", "mA"),
    "amplitude_A": ("amplitude", "A", "mA"),
    "duration_s": ("duration", "s", "min"),
    "frequency_Hz": ("frequency", "Hz", "Hz"),
    "pulse_width_s": ("pulse_width", "s", "us"),
    "electrode_area_m2": ("electrode_area", "m^2", "cm^2"),
    "contact_area_m2": ("contact_area", "m^2", "mm^2"),
    "train_duration_s": ("train_duration", "s", "s"),
    "inter_train_interval_s": ("inter_train_interval", "s", "s"),
    "intensity_pct_mt": ("intensity", "", "%MT"),
    "intensity_pct_mso": ("intensity", "", "%MSO"),
    "intensity_pct_threshold": ("intensity", "", "% of a threshold"),
    "sessions_per_week": ("schedule.per_week", "", ""),
    "sessions_per_day": ("schedule.per_day", "", ""),
    "time_per_week_s": ("time_per_week (derived)", "s", "h"),
    "time_per_day_s": ("time_per_day (derived)", "s", "h"),
    "pulses_per_session": ("pulses_per_session", "", ""),
    "sessions": ("schedule.sessions", "", ""),
    "shannon_k": ("shannon_k (derived)", "", ""),
    "charge_per_phase_C": ("charge_per_phase (derived)", "C", "uC"),
    "charge_density_C_per_m2": ("charge_density (derived)", "C/m^2", "uC/cm^2"),
    "current_density_A_per_m2": ("current_density (derived)", "A/m^2", "A/m^2"),
    "charge_per_session_C": ("charge_per_session (derived)", "C", "C"),
    "envelope_frequency_Hz": ("envelope_frequency (derived)", "Hz", "Hz"),
}


def short_source(citation: str) -> str:
    """Return a short form of a rule's citation for one-line listings.

    Parameters
    ----------
    citation : str
        The full citation.

    Returns
    -------
    str
        ``"<first author> <year>"`` when the citation starts with an author and gives a
        year in parentheses (``"Chen 1997"``), else its first 60 characters.
    """
    import re

    year = re.search(r"\(((?:19|20)\d\d)\)", citation)
    first = citation.strip().split(" ", 1)[0].rstrip(",.")
    if year and first[:1].isupper() and first.isalpha():
        return f"{first} {year.group(1)}"
    return citation if len(citation) <= 60 else citation[:57].rstrip() + "..."


def quantity_info(quantity: str) -> tuple[str, str, str]:
    """Return (field, SI unit, display unit) of a quantity key.

    Parameters
    ----------
    quantity : str
        A key of :data:`QUANTITIES` or of a registered protocol class's
        ``quantity_units``.

    Returns
    -------
    tuple of str
        ``(quantity, "", "")`` for an unknown key.
    """
    if quantity in QUANTITIES:
        return QUANTITIES[quantity]
    for cls in MODALITIES.values():
        if quantity in cls.quantity_units:
            return cls.quantity_units[quantity]
    return (quantity, "", "")


def show_quantity(quantity: str, value: Any) -> str:
    """Format a value of a quantity in its display unit.

    Parameters
    ----------
    quantity : str
        Quantity key.
    value : Any
        SI value (other types are shown as text).

    Returns
    -------
    str
        e.g. ``"4 mA"``.
    """
    if not isinstance(value, int | float):
        return str(value)
    _, si, disp = quantity_info(quantity)
    if si and disp and si != disp:
        from phantomlab._units import format_si

        return format_si(float(value), si, disp)
    if disp:
        return f"{value:.4g} {disp}".replace(" %", " %")
    return f"{value:.4g}"


@dataclass(frozen=True)
class SafetyRule:
    """One row of the safety table.

    Attributes
    ----------
    id : str
        Unique rule id, e.g. ``"tdcs_current_bikson2016"``.
    modalities : tuple of str
        Modality keys the rule applies to.
    quantity : str
        Key of :func:`~phantomlab.protocols.protocol_quantities` (SI-suffixed), e.g.
        ``"current_A"``.
    comparison : str
        Allowed relation of value to limit: ``<``, ``<=``, ``>``, ``>=``.
    limit : float
        The limit, in the SI unit of ``quantity``.
    severity : str
        ``"error"`` (published limit) or ``"warning"`` (outside the PLP-study range).
    citation : str
        Source of the limit (``"assumed: <reason>"`` for a value not read in a source).
    where : str
        Where in the source the value was read.
    when : tuple of (str, str, float)
        Conditions (quantity, comparison, value) under which the rule applies.
    message : str
        What a violation means.
    plausibility : bool
        A bound on a value as stated (e.g. at most 100 %MSO): the rule is not
        applicable when the protocol does not state the value, instead of "not
        assessable".
    documented_only : bool
        The source's limits were not read; only a condition documented as safe is
        known (``when`` and the comparison describe it). Inside it the rule passes;
        outside it (a condition fails, or the comparison) the rule is "not
        assessable", never "violated" nor "not applicable": nothing read says
        whether such a protocol is safe.
    """

    id: str
    modalities: tuple[str, ...]
    quantity: str
    comparison: str
    limit: float
    severity: str
    citation: str
    where: str = ""
    when: tuple[tuple[str, str, float], ...] = ()
    message: str = ""
    plausibility: bool = False
    documented_only: bool = False

    def applies(self, quantities: Mapping[str, Any]) -> bool | None:
        """Return whether the ``when`` conditions hold (``None`` if undetermined).

        Parameters
        ----------
        quantities : mapping
            Output of :func:`~phantomlab.protocols.protocol_quantities`.

        Returns
        -------
        bool or None
            ``False`` as soon as one known condition fails (whatever the unknown
            ones), ``None`` when no condition fails but one is unknown.
        """
        unknown = False
        for key, op, value in self.when:
            v = quantities.get(key)
            if v is None:
                unknown = True
            elif not OPS[op](v, value):
                return False
        return None if unknown else True

    def beyond_note(self, quantities: Mapping[str, Any]) -> str:
        """Say which stated values lie outside the documented condition.

        Parameters
        ----------
        quantities : mapping
            Output of :func:`~phantomlab.protocols.protocol_quantities`.

        Returns
        -------
        str
            e.g. ``"beyond the condition documented as safe: frequency = 25 Hz (documented
            <= 20 Hz); no limit read beyond it"``.
        """
        checks = [*self.when, (self.quantity, self.comparison, self.limit)]
        out = []
        for key, op, lim in checks:
            v = quantities.get(key)
            if v is not None and not OPS[op](v, lim):
                shown, limit = show_quantity(key, v), show_quantity(key, lim)
                out.append(f"{quantity_info(key)[0]} = {shown} (documented {op} {limit})")
        return (
            "beyond the condition documented as safe: "
            + "; ".join(out)
            + "; no limit was read beyond it"
        )

    def limit_text(self) -> str:
        """Return the allowed range in display units, e.g. ``"<= 4 mA"``.

        A rule that knows only a documented safe condition says so:
        ``"<= 1.6 s (documented safe; no limit read)"``.
        """
        text = f"{self.comparison} {show_quantity(self.quantity, self.limit)}"
        return text + " (documented safe; no limit read)" if self.documented_only else text

    def to_dict(self) -> dict[str, Any]:
        """Return the rule as a flat dict (one table row)."""
        when = ";".join(f"{k}{op}{v:g}" for k, op, v in self.when)
        return {
            "id": self.id,
            "modality": ";".join(self.modalities),
            "quantity": self.quantity,
            "comparison": self.comparison,
            "limit": self.limit,
            "limit_display": self.limit_text(),
            "severity": self.severity,
            "citation": self.citation,
            "where": self.where,
            "when": when,
            "message": self.message,
            "plausibility": self.plausibility,
            "documented_only": self.documented_only,
        }
