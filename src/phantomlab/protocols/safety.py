"""Safety rules as data, and the check of a protocol against them.

Three kinds of rule:

* **published limits** (``data/safety_rules.csv``): each row is a modality, a
  quantity, an allowed comparison and limit (SI), a severity, a citation and where
  the value was read. Only values read in a source are encoded (see the citations).
  Exceeding one is an **error**: the protocol is invalid unless the caller passes an
  explicit override, which is logged and kept as a warning.
* **plausibility bounds** (``data/plausibility_rules.csv``): physical limits (at most
  100 %MSO, at most 24 h of sessions a day) and bounds on stated values from a
  source or marked ``assumed`` with the reason. Exceeding one is an **error**.
* **range used in published PLP studies**: derived at run time from the reference
  library (:mod:`phantomlab.protocols.library`): for each modality and parameter, the
  minimum and maximum over the studies' active protocols. Outside it is a **warning**.

A published rule whose source's limits were not read, only a condition it documents as
safe (``kind = documented``: the rTMS consensus tables of Rossi et al. 2009), passes inside
that condition and is "not assessable" beyond it, never "violated".

A check returns every violation at once, and the outcome of **every** rule that
concerns the protocol: passed, violated, not assessable (a value or a condition it
needs is unknown, e.g. an intensity in %MSO without the patient's motor threshold)
or not applicable (its condition does not hold). The verdict is ``valid`` only if no
error rule is violated and none is left not assessable.

Simulations call :func:`require_safe`: a protocol whose verdict is not ``valid`` is
refused unless the caller gives an explicit reason (``allow_unsafe``), which is
logged and recorded in the result.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from phantomlab._result import Result, as_figure, new_axes
from phantomlab.exceptions import Problem, ProtocolError
from phantomlab.protocols._base import ProtocolBase
from phantomlab.protocols.dose import DoseMetrics
from phantomlab.protocols.registry import MODALITIES
from phantomlab.protocols.rules import (
    OPS,
    SafetyRule,
    quantity_info,
    short_source,
    show_quantity,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "RuleOutcome",
    "SafetyReport",
    "SafetyRule",
    "check_protocol",
    "plausibility_rules",
    "require_safe",
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


def _read_rules(name: str, plausibility: bool) -> tuple[SafetyRule, ...]:
    import csv
    import io

    text = resources.files("phantomlab.protocols").joinpath(f"data/{name}").read_text()
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
                plausibility=plausibility,
                documented_only=row.get("kind") == "documented",
            )
        )
    return tuple(rules)


@lru_cache(maxsize=1)
def published_rules() -> tuple[SafetyRule, ...]:
    """Return the published safety limits of ``data/safety_rules.csv``.

    Returns
    -------
    tuple of SafetyRule
        One per row.
    """
    return _read_rules("safety_rules.csv", plausibility=False)


@lru_cache(maxsize=1)
def plausibility_rules() -> tuple[SafetyRule, ...]:
    """Return the plausibility bounds of ``data/plausibility_rules.csv``.

    Physical limits (at most 100 %MSO; the sessions of a day fit in 24 h) and bounds
    on stated values (each with its source, or ``assumed`` with the reason). A
    modality ``*`` means every registered modality.

    Returns
    -------
    tuple of SafetyRule
        One per row; severity ``"error"``; not applicable when the value is unstated.
    """
    return _read_rules("plausibility_rules.csv", plausibility=True)


def _concerns(rule: SafetyRule, modality: str) -> bool:
    return modality in rule.modalities or "*" in rule.modalities


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
    """Return every rule: published limits, plausibility bounds, class limits, PLP ranges.

    Returns
    -------
    tuple of SafetyRule
        The full rule table.
    """
    return published_rules() + plausibility_rules() + declared_rules() + plp_range_rules()


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


@dataclass(frozen=True)
class RuleOutcome:
    """How one rule came out for one (component of a) protocol.

    Attributes
    ----------
    rule : str
        Rule id.
    field : str
        Protocol field (dotted, with the modality prefix) the rule is about.
    status : str
        ``"passed"``, ``"violated"``, ``"not assessable"`` (a value or condition the
        rule needs is unknown) or ``"not applicable"`` (its condition does not hold,
        or a plausibility bound on a value the protocol does not state).
    severity : str
        ``"error"`` or ``"warning"`` (of the rule).
    value : str or None
        The value compared, in display units.
    limit : str
        Allowed range in display units.
    source : str
        Citation of the limit.
    note : str
        Why it is not assessable or not applicable; an override and its reason.
    unconverted : bool
        Not assessable although the protocol states the value: it is written in a
        unit the rule cannot use without more data (e.g. %MSO without the
        patient's motor threshold).
    """

    rule: str
    field: str
    status: str
    severity: str
    value: str | None
    limit: str
    source: str
    note: str = ""
    unconverted: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as a flat dict."""
        return asdict(self)

    def line(self) -> str:
        """Return one line: ``status  rule: field = value (limit) - note [source]``."""
        value = "?" if self.value is None else self.value
        text = f"{self.status:<14} {self.rule}: {self.field} = {value} (allowed {self.limit})"
        text += f" - {self.note}" if self.note else ""
        return text + f" [source: {short_source(self.source)}]"


@dataclass(frozen=True, repr=False)
class SafetyReport(Result):
    """Result of checking a protocol.

    Attributes
    ----------
    errors : list of Problem
        Violations of published limits and plausibility bounds, missing required
        parameters and inconsistencies; the protocol is invalid if there is any.
    warnings : list of Problem
        Values outside the PLP-study range, overridden errors, missing parameters
        a publication should report.
    dose : DoseMetrics
        The dose, as far as it could be computed.
    not_evaluated : list of str
        Error rules that concern the protocol but could not be assessed
        (``"modality:rule_id"``): a value or a condition they need is unknown.
    rules : list of RuleOutcome
        The outcome of every rule that concerns the protocol.
    """

    errors: list[Problem]
    warnings: list[Problem]
    dose: DoseMetrics
    not_evaluated: list[str] = field(default_factory=list)
    rules: list[RuleOutcome] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``"invalid"``, ``"not assessable"`` (an error rule unassessed) or ``"valid"``."""
        if self.errors:
            return "invalid"
        return "not assessable" if self.not_evaluated else "valid"

    @property
    def valid(self) -> bool:
        """Whether the verdict is ``"valid"`` (no error, every error rule assessed)."""
        return self.verdict == "valid"

    def to_dict(self) -> dict[str, Any]:
        """Return verdict, errors, warnings, every rule's outcome and the dose (JSON-able)."""
        return {
            "valid": self.valid,
            "verdict": self.verdict,
            "errors": [p.to_dict() for p in self.errors],
            "warnings": [p.to_dict() for p in self.warnings],
            "not_assessable": list(self.not_evaluated),
            "rules": [r.to_dict() for r in self.rules],
            "dose": self.dose.to_dict(),
        }

    def summary(self) -> str:
        """Return a text report: verdict, problems, every rule's outcome, dose."""
        head = {
            "valid": "VALID",
            "invalid": f"INVALID ({len(self.errors)} error(s))",
            "not assessable": f"NOT ASSESSABLE ({len(self.not_evaluated)} rule(s) could "
            "not be assessed)",
        }[self.verdict]
        lines = [head]
        lines += [f"error: {p.line()}" for p in self.errors]
        lines += [f"warning: {p.line()}" for p in self.warnings]
        lines += self.rules_text()
        lines.append("dose:")
        lines += ["  " + s for s in self.dose.summary().splitlines()]
        return "\n".join(lines)

    def rules_text(self) -> list[str]:
        """Return one line per rule: passed / violated / not assessable / not applicable."""
        return ["rules:"] + ["  " + r.line() for r in self.rules]

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
        """Bar chart of the rule outcomes (passed, violated, not assessable, not applicable).

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
        names = ["passed", "violated", "not assessable", "not applicable"]
        counts = [sum(r.status == n for r in self.rules) for n in names]
        ax.bar(names, counts, color=["C2", "C3", "0.4", "0.8"])
        ax.set(ylabel="rules", title=self.verdict.upper())
        return as_figure(ax)

    def raise_if_invalid(self) -> None:
        """Raise :class:`~phantomlab.exceptions.ProtocolError` unless the verdict is valid."""
        if not self.valid:
            raise ProtocolError(self.blocking_problems())

    def blocking_problems(self) -> list[Problem]:
        """Return the errors plus one problem per error rule that could not be assessed.

        Returns
        -------
        list of Problem
            Empty when the verdict is valid.
        """
        out = list(self.errors)
        for r in self.rules:
            if (
                r.status == "not assessable"
                and r.severity == "error"
                and not r.note.startswith("OVERRIDDEN")
            ):
                out.append(
                    Problem(
                        r.field,
                        r.value,
                        r.limit,
                        r.source,
                        f"rule {r.rule} cannot be assessed: {r.note}",
                    )
                )
        return out


def _rule_field(rule: SafetyRule, pre: str) -> str:
    return f"{pre}.{quantity_info(rule.quantity)[0]}"


def _unknown_note(rule: SafetyRule, q: Mapping[str, Any]) -> str:
    missing = [k for k, _, _ in rule.when if q.get(k) is None]
    if q.get(rule.quantity) is None:
        missing.insert(0, rule.quantity)
    names = ", ".join(quantity_info(k)[0] for k in dict.fromkeys(missing))
    hint = ""
    if any(k.startswith("intensity_pct") for k in missing):
        hint = " (give the patient's motor_threshold in %MSO to convert the intensity)"
    return f"unknown: {names}{hint}"


def _unconverted(rule: SafetyRule, q: Mapping[str, Any], p: ProtocolBase) -> bool:
    keys = [rule.quantity, *(k for k, _, _ in rule.when)]
    for key in keys:
        fname = quantity_info(key)[0]
        if q.get(key) is None and "(derived)" not in fname and p.value_at(fname) is not None:
            return True
    return False


def _outcome(rule: SafetyRule, q: Mapping[str, Any], pre: str, p: ProtocolBase) -> RuleOutcome:
    value = q.get(rule.quantity)
    applies = rule.applies(q)
    shown = None if value is None else show_quantity(rule.quantity, value)

    def out(status: str, note: str = "") -> RuleOutcome:
        field = _rule_field(rule, pre)
        limit = rule.limit_text()
        unconverted = status == "not assessable" and _unconverted(rule, q, p)
        return RuleOutcome(
            rule.id, field, status, rule.severity, shown, limit, rule.citation, note, unconverted
        )

    if applies is False:
        if rule.documented_only:  # outside what the source documents: no verdict
            return out("not assessable", rule.beyond_note(q))
        return out("not applicable", "condition does not hold")
    if value is None and rule.plausibility:
        return out("not applicable", "value not stated")
    if value is None or applies is None:
        return out("not assessable", _unknown_note(rule, q))
    ok = OPS[rule.comparison](value, rule.limit)
    if not ok and rule.documented_only:
        return out("not assessable", rule.beyond_note(q))
    return out("passed" if ok else "violated")


def _check_one(
    p: ProtocolBase, prefix: str, rules: tuple[SafetyRule, ...], require_complete: bool
) -> tuple[list[Problem], list[RuleOutcome]]:
    problems: list[Problem] = []
    outcomes: list[RuleOutcome] = []
    modality = p.modality_key()
    pre = f"{prefix}{modality}"
    q = protocol_quantities(p)
    for rule in rules:
        if not _concerns(rule, modality):
            continue
        out = _outcome(rule, q, pre, p)
        outcomes.append(out)
        if out.status == "violated":
            problems.append(
                Problem(
                    out.field,
                    out.value,
                    out.limit,
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
            sub, so = _check_one(child, f"{pre}.{sub_prefix}", rules, require_complete)
            problems += sub
            outcomes += so
        else:  # only the errors of the protocol itself (no rules, completeness not required)
            sub, _ = _check_one(child, f"{pre}.{sub_prefix}", (), False)
            problems += [s for s in sub if s.severity == "error"]
    return problems, outcomes


def check_protocol(
    protocol: ProtocolBase,
    *,
    overrides: Mapping[str, str] | None = None,
    require_complete: bool = True,
) -> SafetyReport:
    """Check a protocol against every safety rule, plausibility bound and PLP-study range.

    Every rule that concerns the protocol's modality is listed in the report with its
    outcome (:class:`RuleOutcome`). A rule whose value or condition is unknown (an
    intensity in %MSO with no motor threshold to convert it to %MT, say) is "not
    assessable", and then the verdict is "not assessable", not "valid".

    Parameters
    ----------
    protocol : ProtocolBase
        The protocol.
    overrides : mapping of str to str, optional
        Rule id -> reason. An error from an overridden rule (violated or not
        assessable) is logged (logger ``phantomlab.protocols.safety``, level WARNING)
        and reported as a warning whose message names the override and its reason.
        An empty reason is refused.
    require_complete : bool
        If true, parameters needed to deliver the protocol (e.g. tDCS current and
        duration) are required: missing ones are errors. If false (e.g. for the
        reference library, which keeps only what the sources state) they are warnings.

    Returns
    -------
    SafetyReport
        Every error and warning at once, every rule's outcome, and the dose.

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
    problems, outcomes = _check_one(protocol, "", safety_rules(), require_complete)
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
    rules: list[RuleOutcome] = []
    not_evaluated: list[str] = []
    for o in outcomes:
        if o.rule in overrides and o.status in ("violated", "not assessable"):
            reason = overrides[o.rule]
            if o.status == "not assessable":
                log.warning("safety override of rule %s at %s: %s", o.rule, o.field, reason)
                warnings.append(
                    Problem(
                        o.field,
                        o.value,
                        o.limit,
                        o.source,
                        f"OVERRIDDEN ({reason}): not assessable, {o.note} [rule {o.rule}]",
                        "warning",
                    )
                )
            o = replace(o, note=f"OVERRIDDEN ({reason})" + (f"; {o.note}" if o.note else ""))
        elif o.status == "not assessable" and o.severity == "error":
            not_evaluated.append(f"{o.field.split('.')[0]}:{o.rule}")
        rules.append(o)
    return SafetyReport(errors, warnings, protocol.dose(), not_evaluated, rules)


def require_safe(
    protocol: ProtocolBase,
    *,
    allow_unsafe: str | None = None,
    what: str = "protocol",
) -> str:
    """Refuse to simulate a protocol that fails the safety check, unless told why.

    Simulations (therapy courses, trial arms) call this before they run. Refused:
    a violated error rule, and an error rule that cannot be assessed although the
    protocol states the value (written in a unit the rule cannot use, e.g. an
    intensity in %MSO without the patient's motor threshold). A rule that cannot be
    assessed because the protocol leaves a value unstated does not block: the
    simulation uses the therapy's documented defaults for it, and that is recorded.
    An explicit reason (``allow_unsafe``, ``--allow-unsafe REASON`` on the CLI) lets a
    refused protocol through; it is logged (logger ``phantomlab.protocols.safety``,
    level WARNING) and returned for the caller to record in its result.

    Parameters
    ----------
    protocol : ProtocolBase
        The protocol to simulate.
    allow_unsafe : str, optional
        A reason to simulate it anyway (in silico, e.g. to study a dose beyond the
        published limits).
    what : str
        Name of the protocol in the error (e.g. ``"arm protocol 'x.yaml'"``).

    Returns
    -------
    str
        ``""`` when the verdict is valid; otherwise what was let through and why.

    Raises
    ------
    ProtocolError
        If the protocol is refused and no reason is given, or the reason is empty.
    """
    report = check_protocol(protocol, require_complete=False)
    if report.valid:
        return ""
    if allow_unsafe is not None and not str(allow_unsafe).strip():
        raise ProtocolError(
            Problem("allow_unsafe", allow_unsafe, "a non-empty reason", "", "empty reason")
        )
    ids = sorted({r.rule for r in report.rules if r.status in ("violated", "not assessable")})
    hard = [
        r
        for r in report.rules
        if r.severity == "error"
        and not r.note.startswith("OVERRIDDEN")
        and r.status == "not assessable"
        and r.unconverted
    ]
    if not report.errors and not hard:
        return (
            f"safety verdict {report.verdict}: rules {', '.join(report.not_evaluated)} need "
            "values the protocol does not state (simulated with the therapy's defaults) or "
            "reach beyond the conditions whose safety was read"
        )
    if allow_unsafe:
        note = f"safety verdict {report.verdict} (rules {', '.join(ids)}); accepted: {allow_unsafe}"
        log.warning("%s simulated with %s", what, note)
        return note
    problems = list(report.errors) + [
        Problem(r.field, r.value, r.limit, r.source, f"rule {r.rule} cannot be assessed: {r.note}")
        for r in hard
    ]
    problems.append(
        Problem(
            what,
            report.verdict,
            "a protocol whose safety verdict is valid",
            "",
            "refused: pass an explicit reason to simulate it anyway "
            "(--allow-unsafe REASON; it is logged and recorded)",
        )
    )
    raise ProtocolError(problems)
