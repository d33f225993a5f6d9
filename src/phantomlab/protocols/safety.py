"""Safety rules as data, and the check of a protocol against them.

Two kinds of rule:

* **published limits** (``data/safety_rules.csv``): each row is a modality, a
  quantity, an allowed comparison and limit (SI), a severity, a citation and where
  the value was read. Only values read in a source are encoded (see the citations).
  Exceeding one is an **error**: the protocol is invalid unless the caller passes an
  explicit override, which is logged and kept as a warning.
* **range used in published PLP studies**: derived at run time from the reference
  library (:mod:`phantomlab.protocols.library`): for each modality and parameter, the
  minimum and maximum over the studies' active protocols. Outside it is a **warning**.

A check returns every violation at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from phantomlab._result import Result, as_figure, new_axes
from phantomlab.exceptions import Problem, ProtocolError
from phantomlab.protocols._base import ProtocolBase
from phantomlab.protocols.dose import DoseMetrics
from phantomlab.protocols.registry import MODALITIES, model_for
from phantomlab.protocols.rules import OPS, QUANTITIES, SafetyRule, quantity_info, show_quantity

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ParameterBound",
    "SafetyReport",
    "SafetyRule",
    "check_protocol",
    "parameter_bounds",
    "protocol_quantities",
    "safety_rules",
    "safety_table",
]

log = logging.getLogger("phantomlab.protocols.safety")

#: Parameters whose range over published PLP studies is turned into warnings.
PLP_RANGE_QUANTITIES: tuple[str, ...] = (
    "current_A",
    "amplitude_A",
    "duration_s",
    "frequency_Hz",
    "pulse_width_s",
    "electrode_area_m2",
    "intensity_pct_mt",
    "pulses_per_session",
    "train_duration_s",
    "inter_train_interval_s",
    "sessions",
)


def _parse_when(text: str) -> tuple[tuple[str, str, float], ...]:
    out = []
    for part in filter(None, (s.strip() for s in text.split(";"))):
        for op in (">=", "<=", ">", "<"):
            if op in part:
                key, value = part.split(op)
                out.append((key.strip(), op, float(value)))
                break
    return tuple(out)


@lru_cache(maxsize=1)
def published_rules() -> tuple[SafetyRule, ...]:
    """Return the published safety limits of ``data/safety_rules.csv``.

    Returns
    -------
    tuple of SafetyRule
        One per row.
    """
    import csv
    import io

    text = resources.files("phantomlab.protocols").joinpath("data/safety_rules.csv").read_text()
    rules = []
    for row in csv.DictReader(io.StringIO(text)):
        rules.append(
            SafetyRule(
                id=row["id"],
                modalities=tuple(row["modality"].split(";")),
                quantity=row["quantity"],
                comparison=row["comparison"],
                limit=float(row["limit"]),
                severity=row["severity"],
                citation=row["citation"],
                where=row["where"],
                when=_parse_when(row["when"]),
                message=row["message"],
            )
        )
    return tuple(rules)


@lru_cache(maxsize=1)
def plp_range_rules() -> tuple[SafetyRule, ...]:
    """Return warning rules for the parameter ranges used in published PLP studies.

    Derived from the active (non-sham) protocols of the reference library: for each
    modality and each quantity of :data:`PLP_RANGE_QUANTITIES` stated by at least one
    study, a lower (``>= min``) and an upper (``<= max``) rule.

    Returns
    -------
    tuple of SafetyRule
        Severity ``"warning"``; the citation lists the reference protocols.
    """
    from phantomlab.protocols.library import get_reference, list_reference, reference_entry

    seen: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for name in list_reference():
        for p in get_reference(name).flatten():
            if p.role == "sham":
                continue
            q = protocol_quantities(p)
            for key in PLP_RANGE_QUANTITIES:
                v = q.get(key)
                if isinstance(v, int | float):
                    seen.setdefault((p.modality_key(), key), []).append((float(v), name))
    rules = []
    for (modality, key), values in sorted(seen.items()):
        lo = min(v for v, _ in values)
        hi = max(v for v, _ in values)
        names = sorted({n for _, n in values})
        n_studies = len({reference_entry(n).study_id for n in names})
        cite = (
            f"range stated by {n_studies} published PLP "
            f"{'study' if n_studies == 1 else 'studies'} (reference protocols: "
            f"{', '.join(names)})"
        )
        for suffix, op, lim in (("min", ">=", lo), ("max", "<=", hi)):
            if suffix == "min" and key in ("sessions", "pulses_per_session") and lim <= 1:
                continue  # a count cannot be below 1: the rule could never fire
            rules.append(
                SafetyRule(
                    id=f"plp_range.{modality}.{key}.{suffix}",
                    modalities=(modality,),
                    quantity=key,
                    comparison=op,
                    limit=lim,
                    severity="warning",
                    citation=cite,
                    where="phantomlab reference library (data/reference_protocols.yaml)",
                    message="outside the range used in published PLP studies",
                )
            )
    return tuple(rules)


def declared_rules() -> tuple[SafetyRule, ...]:
    """Return the limits declared by the registered protocol classes (``safety_limits``).

    Returns
    -------
    tuple of SafetyRule
        In the order of the standard.
    """
    return tuple(r for cls in MODALITIES.values() for r in cls.safety_limits)


def safety_rules() -> tuple[SafetyRule, ...]:
    """Return every rule: published limits, limits declared by classes, PLP-study ranges.

    Returns
    -------
    tuple of SafetyRule
        The full rule table.
    """
    return published_rules() + declared_rules() + plp_range_rules()


def safety_table() -> Any:
    """Return the rule table as a pandas DataFrame (one row per rule).

    Returns
    -------
    pandas.DataFrame
        Columns id, modality, quantity, comparison, limit, limit_display, severity,
        citation, where, when, message.
    """
    import pandas as pd

    return pd.DataFrame([r.to_dict() for r in safety_rules()])


def protocol_quantities(protocol: ProtocolBase) -> dict[str, Any]:
    """Return the SI quantities that safety rules are evaluated on.

    Parameters
    ----------
    protocol : ProtocolBase
        A single-modality protocol (combinations are checked per component).

    Returns
    -------
    dict
        Dose metrics (:data:`~phantomlab.protocols.dose.DOSE_KEYS`) plus stated
        fields with SI suffixes (``current_A``, ``duration_s``, ``frequency_Hz``,
        ``intensity_pct_mt`` ...). Unknown values are ``None``. Computed by the
        protocol class (:meth:`~phantomlab.protocols.ProtocolBase.safety_quantities`).
    """
    return protocol.safety_quantities()


@dataclass(frozen=True, repr=False)
class SafetyReport(Result):
    """Result of checking a protocol.

    Attributes
    ----------
    errors : list of Problem
        Violations of published limits, missing required parameters and
        inconsistencies; the protocol is invalid if there is any.
    warnings : list of Problem
        Values outside the PLP-study range, overridden errors, missing parameters
        a publication should report.
    dose : DoseMetrics
        The dose, as far as it could be computed.
    not_evaluated : list of str
        Rules that apply to the modality but could not be evaluated (value unknown).
    """

    errors: list[Problem]
    warnings: list[Problem]
    dose: DoseMetrics
    not_evaluated: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """Whether there is no error."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"valid", "errors", "warnings", "dose"}`` (JSON-able)."""
        return {
            "valid": self.valid,
            "errors": [p.to_dict() for p in self.errors],
            "warnings": [p.to_dict() for p in self.warnings],
            "dose": self.dose.to_dict(),
        }

    def summary(self) -> str:
        """Return a short text report: verdict, problems, dose."""
        lines = ["VALID" if self.valid else f"INVALID ({len(self.errors)} error(s))"]
        lines += [f"error: {p.line()}" for p in self.errors]
        lines += [f"warning: {p.line()}" for p in self.warnings]
        if self.not_evaluated:
            lines.append("not evaluated (value unknown): " + ", ".join(self.not_evaluated))
        lines.append("dose:")
        lines += ["  " + s for s in self.dose.summary().splitlines()]
        return "\n".join(lines)

    def to_frame(self) -> Any:
        """Return the errors and warnings as a pandas DataFrame (one row per problem).

        Returns
        -------
        pandas.DataFrame
            Columns field, value, limit, source, message, severity.
        """
        import pandas as pd

        cols = ["field", "value", "limit", "source", "message", "severity"]
        return pd.DataFrame([p.to_dict() for p in self.errors + self.warnings], columns=cols)

    def plot(self, ax: Any = None) -> Figure:
        """Bar chart of the errors, warnings and rules not evaluated.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new Figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure drawn into.
        """
        ax = new_axes(ax)
        counts = [len(self.errors), len(self.warnings), len(self.not_evaluated)]
        ax.bar(["errors", "warnings", "not evaluated"], counts, color=["C3", "C1", "0.6"])
        ax.set(ylabel="count", title="VALID" if self.valid else "INVALID")
        return as_figure(ax)

    def raise_if_invalid(self) -> None:
        """Raise :class:`~phantomlab.exceptions.ProtocolError` if there are errors."""
        if self.errors:
            raise ProtocolError(self.errors)


def _check_one(
    p: ProtocolBase, prefix: str, rules: tuple[SafetyRule, ...], require_complete: bool
) -> tuple[list[Problem], list[str]]:
    problems: list[Problem] = []
    not_evaluated: list[str] = []
    modality = p.modality_key()
    pre = f"{prefix}{modality}"
    q = protocol_quantities(p)
    for rule in rules:
        if modality not in rule.modalities:
            continue
        value = q.get(rule.quantity)
        applies = rule.applies(q)
        if applies is False:
            continue
        if value is None or applies is None:
            if rule.severity == "error":
                not_evaluated.append(f"{pre}:{rule.id}")
            continue
        if not OPS[rule.comparison](value, rule.limit):
            fname = quantity_info(rule.quantity)[0]
            problems.append(
                Problem(
                    f"{pre}.{fname}",
                    show_quantity(rule.quantity, value),
                    rule.limit_text(),
                    rule.citation,
                    f"{rule.message} [rule {rule.id}]",
                    rule.severity,
                )
            )
    problems += p.extra_problems(pre)
    for fname, need in p.missing_required():
        problems.append(
            Problem(
                f"{pre}.{fname}",
                None,
                need,
                "",
                "required to deliver the protocol is missing",
                "error" if require_complete else "warning",
            )
        )
    for sub_prefix, child, full in p.nested():
        if full:
            sub, ne = _check_one(child, f"{pre}.{sub_prefix}", rules, require_complete)
            problems += sub
            not_evaluated += ne
        else:  # only the errors of the protocol itself (no rules, completeness not required)
            sub, _ = _check_one(child, f"{pre}.{sub_prefix}", (), False)
            problems += [s for s in sub if s.severity == "error"]
    return problems, not_evaluated


def check_protocol(
    protocol: ProtocolBase,
    *,
    overrides: Mapping[str, str] | None = None,
    require_complete: bool = True,
) -> SafetyReport:
    """Check a protocol against every safety rule and the PLP-study ranges.

    Parameters
    ----------
    protocol : ProtocolBase
        The protocol.
    overrides : mapping of str to str, optional
        Rule id -> reason. An error from an overridden rule is logged (logger
        ``phantomlab.protocols.safety``, level WARNING) and reported as a warning
        whose message names the override and its reason. An empty reason is refused.
    require_complete : bool
        If true, parameters needed to deliver the protocol (e.g. tDCS current and
        duration) are required: missing ones are errors. If false (e.g. for the
        reference library, which keeps only what the sources state) they are warnings.

    Returns
    -------
    SafetyReport
        Every error and warning at once, and the dose.

    Raises
    ------
    ProtocolError
        If an override names an unknown rule or gives no reason.
    """
    overrides = dict(overrides or {})
    known = {r.id for r in safety_rules()}
    bad = [
        Problem("override", k, "a rule id of the safety table", "", "unknown rule")
        for k in overrides
        if k not in known
    ] + [
        Problem(f"override.{k}", v, "a non-empty reason", "", "an override needs a reason")
        for k, v in overrides.items()
        if k in known and not str(v).strip()
    ]
    if bad:
        raise ProtocolError(bad)
    problems, not_evaluated = _check_one(protocol, "", safety_rules(), require_complete)
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for p in problems:
        rule_id = p.message.rsplit("[rule ", 1)[-1].rstrip("]") if "[rule " in p.message else ""
        if p.severity == "error" and rule_id in overrides:
            reason = overrides[rule_id]
            log.warning("safety override of rule %s at %s: %s", rule_id, p.field, reason)
            warnings.append(
                Problem(
                    p.field,
                    p.value,
                    p.limit,
                    p.source,
                    f"OVERRIDDEN ({reason}): {p.message}",
                    "warning",
                )
            )
        elif p.severity == "error":
            errors.append(p)
        else:
            warnings.append(p)
    return SafetyReport(errors, warnings, protocol.dose(), not_evaluated)


@dataclass(frozen=True)
class ParameterBound:
    """Bounds of one stated parameter of a modality, for search and design.

    Attributes
    ----------
    field : str
        Field name in the protocol (e.g. ``"current"``).
    quantity : str
        SI-suffixed quantity (e.g. ``"current_A"``).
    safe_low, safe_high : float or None
        Unconditional published limits (SI); ``None`` if none was read.
    safe_source : str
        Citations of the published limits.
    plp_low, plp_high : float or None
        Range used in published PLP studies (SI).
    """

    field: str
    quantity: str
    safe_low: float | None
    safe_high: float | None
    safe_source: str
    plp_low: float | None
    plp_high: float | None


def parameter_bounds(modality: str) -> dict[str, ParameterBound]:
    """Return, per stated parameter of a modality, the published and PLP-study bounds.

    Only rules without conditions on directly stated fields are used (derived
    quantities such as Shannon k or charge per session, and conditional rules such as
    Chen 1997, must still be checked with :func:`check_protocol`).

    Parameters
    ----------
    modality : str
        A modality key, e.g. ``"tdcs"``.

    Returns
    -------
    dict of str to ParameterBound
        Keyed by field name; e.g. ``parameter_bounds("tdcs")["current"].safe_high``
        is 0.004 (A, Bikson et al. 2016).
    """
    cls = model_for(modality)
    fields = cls.model_fields
    out: dict[str, ParameterBound] = {}
    for quantity, (fname, _, _) in {**QUANTITIES, **cls.quantity_units}.items():
        base = fname.split(".")[-1]
        if "(derived)" in fname or (base not in fields and fname != "schedule.sessions"):
            continue
        safe_lo = safe_hi = plp_lo = plp_hi = None
        sources: list[str] = []
        for rule in safety_rules():
            if modality not in rule.modalities or rule.quantity != quantity or rule.when:
                continue
            upper = rule.comparison in ("<", "<=")
            if rule.severity == "error":
                sources.append(rule.citation)
                if upper:
                    safe_hi = rule.limit if safe_hi is None else min(safe_hi, rule.limit)
                else:
                    safe_lo = rule.limit if safe_lo is None else max(safe_lo, rule.limit)
            elif upper:
                plp_hi = rule.limit
            else:
                plp_lo = rule.limit
        if any(v is not None for v in (safe_lo, safe_hi, plp_lo, plp_hi)):
            out[fname] = ParameterBound(
                fname, quantity, safe_lo, safe_hi, "; ".join(sources), plp_lo, plp_hi
            )
    return out
