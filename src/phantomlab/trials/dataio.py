"""Trial data in: long, wide and REDCap-export tables through a column mapping.

:func:`read_trial_data` turns a table as a trial team has it into the long format
:func:`~phantomlab.trials.analyze` takes (``patient``, ``center``, ``arm``, ``week``,
the outcome, plus patient-level covariates). A :class:`DataMapping` (YAML file or
``--map key=value`` flags) says where each column is:

* ``long`` -- one row per patient and visit; the clinic randomization service's
  ``data.csv`` export is this format with the standard names and needs no mapping;
* ``wide`` -- one row per patient, one outcome column per visit named by a pattern
  (``pain_w{week}`` matches ``pain_w0``, ``pain_w4``...);
* ``redcap`` -- a REDCap longitudinal export: ``record_id``, ``redcap_event_name``
  (mapped to weeks, ``baseline_arm_1`` -> 0 and ``week_4_arm_1`` -> 4 without a
  mapping), ``redcap_repeat_instrument``/``redcap_repeat_instance`` (rows of
  repeating instruments are dropped, or their outcome averaged per visit),
  checkbox columns ``x___1``, coded choices (``codes``), and the data access
  group ``redcap_data_access_group`` as the center.

Visit dates give the study day (from the baseline visit or a day-0 date column);
each visit has a window (target day ``7 * week`` +/- ``window_days``). A visit
outside its window is flagged (:attr:`TrialData.out_of_window`) and, with
``outside: exclude``, left out. Without a week column, a dated visit takes the
week whose window holds it.

Every problem of the table is collected and raised at once, one
:class:`~phantomlab.exceptions.Problem` per problem with the file row (header =
row 1), the column, the value and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from phantomlab._result import Result
from phantomlab._validation import problems_from_pydantic
from phantomlab._yaml import load_file
from phantomlab.exceptions import InputError, Problem
from phantomlab.trials.design import TrialDesign

__all__ = [
    "DataMapping",
    "TrialData",
    "VisitDates",
    "load_mapping",
    "long_to_wide",
    "parse_map_flags",
    "read_trial_data",
    "wide_to_long",
]

#: At most this many problems of one kind (column and message) are listed one by one.
MAX_PER_KIND = 25
_REDCAP_ID = "record_id"
_REDCAP_EVENT = "redcap_event_name"
_REDCAP_DAG = "redcap_data_access_group"
_REDCAP_REPEAT = "redcap_repeat_instrument"
_EVENT_WEEK = re.compile(r"^(?:baseline|(?:week|wk|w)_?(\d+)(?![0-9]))")
_EVENT_ARM = re.compile(r"_arm_(\d+)$")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _str_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _str_keys(v) for k, v in value.items()}
    return value


class VisitDates(_Spec):
    """Visit dates and visit windows.

    Attributes
    ----------
    column : str
        Column of visit dates (ISO ``YYYY-MM-DD`` as REDCap exports, or ``format``).
    anchor : str
        ``"baseline"`` (day 0 = the week-0 visit date) or a column holding the
        day-0 date (e.g. the randomization date), one value per patient.
    window_days : float
        Half-width of every visit window, days (target day = ``7 * week``).
    windows : dict of float to float
        Half-widths for particular weeks, days (overrides ``window_days``).
    outside : {"flag", "exclude"}
        What happens to a visit outside its window: listed, or listed and left out.
    format : str or None
        ``strptime`` format of the dates (default: ISO 8601).
    """

    column: str
    anchor: str = "baseline"
    window_days: float = Field(7.0, ge=0)
    windows: dict[float, float] = Field(default_factory=dict)
    outside: Literal["flag", "exclude"] = "flag"
    format: str | None = None


class DataMapping(_Spec):
    """Where the columns of a trial table are and how to read them.

    Attributes
    ----------
    format : {"auto", "long", "wide", "redcap"}
        Table layout; ``auto`` detects REDCap (``record_id`` and
        ``redcap_event_name``), long (the standard names, e.g. the clinic
        export) or wide (a ``pattern``).
    columns : dict of str to str
        Target name (``patient``, ``arm``, ``center``, ``week``, the outcome name,
        a covariate name) to the column of the table.
    codes : dict of str to dict of str to str
        Per table column, code -> label (REDCap coded choices). A value may be a
        code or already a label.
    events : dict of str to float
        REDCap event name -> week.
    checkboxes : dict of str to dict of str to str
        REDCap checkbox field -> {code: label}; its columns ``<field>___<code>``
        (0/1) become one column ``<field>`` of the checked labels joined by ``;``.
    covariates : list of str
        Patient-level columns carried to every row (names after ``columns``).
    pattern : str or None
        Wide tables: outcome column names with ``{week}`` (default ``<outcome>_w{week}``).
    repeat : {"drop", "mean"}
        REDCap rows of repeating instruments: dropped, or their outcome averaged
        per patient and visit.
    dates : VisitDates or None
        Visit dates and windows.
    """

    format: Literal["auto", "long", "wide", "redcap"] = "auto"
    columns: dict[str, str] = Field(default_factory=dict)
    codes: dict[str, dict[str, str]] = Field(default_factory=dict)
    events: dict[str, float] = Field(default_factory=dict)
    checkboxes: dict[str, dict[str, str]] = Field(default_factory=dict)
    covariates: list[str] = Field(default_factory=list)
    pattern: str | None = None
    repeat: Literal["drop", "mean"] = "drop"
    dates: VisitDates | None = None

    @model_validator(mode="before")
    @classmethod
    def _keys_as_text(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            data = dict(data)
            for key in ("columns", "codes", "checkboxes"):
                if isinstance(data.get(key), Mapping):
                    data[key] = {
                        str(k): _str_keys(v) if isinstance(v, Mapping) else str(v)
                        for k, v in data[key].items()
                    }
            for key, v in list(data.get("codes", {}).items()):
                if isinstance(v, Mapping):
                    data["codes"][key] = {k: str(x) for k, x in v.items()}
            for key, v in list(data.get("checkboxes", {}).items()):
                if isinstance(v, Mapping):
                    data["checkboxes"][key] = {k: str(x) for k, x in v.items()}
        return data


def _mapping_from(data: Any, where: str) -> DataMapping:
    if not isinstance(data, Mapping):
        raise InputError(Problem(where, type(data).__name__, "a mapping of fields", "", "bad"))
    try:
        return DataMapping.model_validate(data)
    except ValidationError as exc:
        raise InputError(problems_from_pydantic(exc, where)) from None


def load_mapping(source: str | Path | Mapping[str, Any] | DataMapping | None) -> DataMapping:
    """Load and validate a column mapping (YAML/JSON file, mapping or object).

    Parameters
    ----------
    source : str, Path, mapping, DataMapping or None
        The mapping; ``None`` gives the default (auto-detected format, standard names).

    Returns
    -------
    DataMapping
        The validated mapping.

    Raises
    ------
    InputError
        One problem per invalid field.
    """
    if source is None:
        return DataMapping()
    if isinstance(source, DataMapping):
        return source
    if isinstance(source, str | Path):
        return _mapping_from(load_file(Path(source), field="map"), "map")
    return _mapping_from(source, "map")


def parse_map_flags(flags: Sequence[str], base: DataMapping | None = None) -> DataMapping:
    """Apply ``--map`` flags to a mapping: ``target=column``, ``format=...``, ``pattern=...``.

    A flag without ``=`` is the path of a mapping file (YAML/JSON), loaded first.

    Parameters
    ----------
    flags : sequence of str
        The ``--map`` values in order.
    base : DataMapping or None
        Starting mapping (default: the default mapping).

    Returns
    -------
    DataMapping
        The mapping with the flags applied (later flags win).
    """
    out = base or DataMapping()
    for flag in flags:  # mapping files first, in order
        if "=" not in flag:
            out = load_mapping(flag)
    problems: list[Problem] = []
    for flag in (f for f in flags if "=" in f):
        key, _, value = (s.strip() for s in flag.partition("="))
        if not key or not value:
            problems.append(Problem("--map", flag, "target=column", "", "empty side"))
        elif key in ("format", "pattern", "repeat"):
            try:
                out = DataMapping.model_validate(out.model_dump() | {key: value})
            except ValidationError as exc:
                problems.extend(problems_from_pydantic(exc, "--map"))
        else:
            out = out.model_copy(update={"columns": out.columns | {key: value}})
    if problems:
        raise InputError(problems)
    return out


# --------------------------------------------------------------------------- result
@dataclass(frozen=True, repr=False)
class TrialData(Result):
    """A trial table read into the long format of :func:`~phantomlab.trials.analyze`.

    Attributes
    ----------
    data : pandas.DataFrame
        Long data: ``patient``, ``center``, ``arm``, ``week`` (``period``), the
        outcome, the covariates, and ``day`` when visit dates were given; rows
        with a missing outcome are left out.
    allocated : pandas.DataFrame
        Every patient with an arm (``patient``, ``allocation``, ``center`` and
        the covariates), also those without any outcome, for intention-to-treat
        counts and the baseline table.
    out_of_window : pandas.DataFrame
        Dated visits outside their window: ``row``, ``patient``, ``week``,
        ``day``, ``target_day``, ``window_days``, ``excluded``.
    source_format : str
        ``long``, ``wide`` or ``redcap``.
    notes : tuple of str
        What was done (rows of repeating instruments dropped, ...).
    """

    data: pd.DataFrame
    allocated: pd.DataFrame
    out_of_window: pd.DataFrame
    source_format: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_frame(self) -> pd.DataFrame:
        """Return the long data (a copy)."""
        return self.data.copy()

    def summary(self) -> str:
        """Return what was read: format, patients, rows, flagged visits, notes."""
        lines = [
            f"Read a {self.source_format} table: {len(self.allocated)} patients, "
            f"{len(self.data)} visits with an outcome.",
            f"Visits outside their window: {len(self.out_of_window)} "
            f"({int(self.out_of_window['excluded'].sum()) if len(self.out_of_window) else 0} "
            "excluded).",
        ]
        return "\n".join(lines + list(self.notes))

    def _brief(self) -> str:
        return f"{self.source_format}, {len(self.allocated)} patients"


# --------------------------------------------------------------------------- problems
class _Problems:
    """Collects problems, at most :data:`MAX_PER_KIND` listed per column and kind."""

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self._counts: dict[tuple[str, str], int] = {}

    def add(self, row: int | None, column: str, value: Any, allowed: str, message: str) -> None:
        key = (column, message)
        n = self._counts.get(key, 0) + 1
        self._counts[key] = n
        if n <= MAX_PER_KIND:
            where = f"row {row}.{column}" if row is not None else column
            self.items.append(Problem(where, value, allowed, "", message))

    def rows(
        self, rows: pd.Series, column: str | pd.Series, values: pd.Series, allowed: str, msg: str
    ) -> None:
        names = column[rows.index].tolist() if isinstance(column, pd.Series) else None
        for i, (r, v) in enumerate(zip(rows.tolist(), values.tolist(), strict=True)):
            self.add(int(r), names[i] if names else str(column), v, allowed, msg)

    def raise_any(self) -> None:
        extra = [
            Problem(col, f"{n - MAX_PER_KIND} more", "", "", f"{msg} (further rows not listed)")
            for (col, msg), n in self._counts.items()
            if n > MAX_PER_KIND
        ]
        if self.items:
            raise InputError(self.items + extra)


def _text(col: pd.Series) -> pd.Series:
    """Cells as stripped text (``1.0`` -> ``"1"``), empty cells as NA."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        vals = col.astype(float)
        out = pd.Series(pd.NA, index=col.index, dtype="string")
        ok = vals.notna() & np.isfinite(vals)
        whole = ok & (vals == np.round(vals)) & (vals.abs() < 1e15)
        out[whole] = vals[whole].astype("int64").astype(str)
        out[ok & ~whole] = vals[ok & ~whole].map(repr)
        return out
    out = col.astype("string").str.strip()
    return out.mask(out == "")


def _number(col: pd.Series) -> pd.Series:
    return pd.to_numeric(col, errors="coerce")


def _fmt_week(w: float) -> str:
    return f"{w:g}"


# --------------------------------------------------------------------------- wide
def _week_regex(pattern: str) -> re.Pattern[str]:
    if pattern.count("{week}") != 1:
        raise InputError(Problem("map.pattern", pattern, "one '{week}' placeholder", "", "bad"))
    head, tail = (re.escape(p) for p in pattern.split("{week}"))
    return re.compile(f"^{head}(?P<week>\\d+(?:\\.\\d+)?){tail}$")


def wide_to_long(
    table: pd.DataFrame, pattern: str, value_name: str, *, source_column: str | None = None
) -> pd.DataFrame:
    """Melt one-column-per-visit outcome columns into long rows.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per patient; outcome columns named by ``pattern``.
    pattern : str
        Column names with one ``{week}`` placeholder, e.g. ``"pain_w{week}"``.
    value_name : str
        Name of the outcome column of the result.
    source_column : str or None
        If given, a column of this name keeps the wide column each value came from.

    Returns
    -------
    pandas.DataFrame
        The other columns repeated per visit, plus ``week`` (float) and
        ``value_name``; ordered by table row, then week.

    Raises
    ------
    InputError
        If no column matches ``pattern``.
    """
    rx = _week_regex(pattern)
    cols = {c: float(m["week"]) for c in map(str, table.columns) if (m := rx.match(c))}
    if not cols:
        raise InputError(
            Problem(
                "map.pattern",
                pattern,
                f"matching columns of {list(table.columns)[:12]}",
                "",
                "no column matches the pattern",
            )
        )
    ids = [c for c in table.columns if c not in cols]
    long = table.melt(id_vars=ids, value_vars=list(cols), var_name="_col", value_name=value_name)
    long["week"] = long["_col"].map(cols)
    order = np.lexsort((long["week"].to_numpy(), np.tile(np.arange(len(table)), len(cols))))
    long = (
        long.rename(columns={"_col": source_column}) if source_column else long.drop(columns="_col")
    )
    return long.iloc[order].reset_index(drop=True)


def long_to_wide(
    data: pd.DataFrame, design: TrialDesign, pattern: str | None = None
) -> pd.DataFrame:
    """Pivot long data to one row per patient with one outcome column per visit.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data (``patient``, ``week``, the outcome, patient-level columns).
    design : TrialDesign
        The design (outcome name, visits).
    pattern : str or None
        Outcome column names with ``{week}`` (default ``<outcome>_w{week}``).

    Returns
    -------
    pandas.DataFrame
        ``patient``, the patient-level columns (first value), then one column per
        visit of the design (NaN where missed). :func:`wide_to_long` inverts it.
    """
    y = design.outcome.name
    pattern = pattern or f"{y}_w{{week}}"
    _week_regex(pattern)
    level = [c for c in data.columns if c not in ("patient", "week", y, "day")]
    info = data.groupby("patient", sort=False)[level].first()
    vals = data.pivot_table(index="patient", columns="week", values=y, aggfunc="first", sort=False)
    vals = vals.reindex(columns=[float(w) for w in design.outcome.visits])
    vals.columns = [pattern.replace("{week}", _fmt_week(w)) for w in vals.columns]
    return info.join(vals).reset_index()


# --------------------------------------------------------------------------- reading
def _detect(table: pd.DataFrame, m: DataMapping, design: TrialDesign) -> str:
    if m.format != "auto":
        return m.format
    cols = set(map(str, table.columns))
    if {_REDCAP_ID, _REDCAP_EVENT} <= cols:
        return "redcap"
    if m.pattern is not None:
        return "wide"
    time_col = design.strategy.time_column
    y = design.outcome.name
    if {m.columns.get(k, k) for k in ("patient", "arm", time_col, y)} <= cols:
        return "long"
    if any(_week_regex(f"{y}_w{{week}}").match(c) for c in cols):
        return "wide"
    raise InputError(
        Problem(
            "data",
            sorted(cols)[:12],
            f"long (patient, arm, {time_col}, {y}), wide ({y}_w0, ...) or a REDCap export "
            "(record_id, redcap_event_name); or give --map",
            "",
            "cannot tell the table's format",
        )
    )


def _event_week(event: str, events: Mapping[str, float]) -> float | None:
    if event in events:
        return float(events[event])
    m = _EVENT_WEEK.match(event)
    if m is None:
        return None
    return 0.0 if m.group(1) is None else float(m.group(1))


def _decode(t: pd.DataFrame, m: DataMapping, probs: _Problems) -> set[int]:
    """Replace codes by labels; return the rows with an unknown code (already reported)."""
    flagged: set[int] = set()
    for col, codes in m.codes.items():
        if col not in t:
            probs.add(None, col, None, "a column of the table", "coded column not in the table")
            continue
        v = t[col]
        ok = v.isna() | v.isin(list(codes)) | v.isin(list(codes.values()))
        allowed = ", ".join(f"{k}={lab}" for k, lab in codes.items())
        probs.rows(t.loc[~ok, "_row"], col, v[~ok], allowed, "unknown code")
        flagged |= set(t.loc[~ok, "_row"].tolist())
        t[col] = v.replace(codes)
    for base, choices in m.checkboxes.items():
        labels = []
        for code, label in choices.items():
            c = f"{base}___{code}"
            if c not in t:
                probs.add(None, c, None, "a column of the table", "checkbox column not found")
                continue
            v = t[c]
            bad = v.notna() & ~v.isin(["0", "1"])
            probs.rows(t.loc[bad, "_row"], c, v[bad], "0 or 1", "not a checkbox value")
            labels.append(np.where((v == "1").fillna(False).to_numpy(bool), label, ""))
        if labels:
            joined = pd.Series(
                [";".join(x for x in r if x) for r in zip(*labels, strict=True)],
                index=t.index,
                dtype="string",
            )
            answered = (
                t[[f"{base}___{k}" for k in choices if f"{base}___{k}" in t]].notna().any(axis=1)
            )
            t[base] = joined.where(answered)
    return flagged


def _dated(t: pd.DataFrame, dates: VisitDates, visits: list[float], probs: _Problems) -> None:
    """Add ``day``; assign ``week`` where missing; flag visits outside their windows."""
    if dates.column not in t:
        probs.add(None, dates.column, None, "a column of the table", "date column not found")
        return
    when = pd.to_datetime(t[dates.column], format=dates.format or "ISO8601", errors="coerce")
    bad = t[dates.column].notna() & when.isna()
    probs.rows(
        t.loc[bad, "_row"],
        dates.column,
        t.loc[bad, dates.column],
        dates.format or "a date YYYY-MM-DD",
        "not a date",
    )
    if dates.anchor == "baseline":
        first = t["week"] == 0 if t["week"].notna().any() else when.notna()
        base = when.where(first).groupby(t["patient"]).transform("min")
    elif dates.anchor in t:
        a = pd.to_datetime(t[dates.anchor], format=dates.format or "ISO8601", errors="coerce")
        base = a.groupby(t["patient"]).transform("min")
    else:
        probs.add(None, dates.anchor, None, "'baseline' or a column", "anchor column not found")
        return
    day = (when - base).dt.days.astype(float)
    half = np.array([dates.windows.get(w, dates.window_days) for w in visits])
    target = 7.0 * np.asarray(visits)
    if t["week"].isna().all():  # assign by window
        d = day.to_numpy()[:, None]
        inside = np.abs(d - target[None, :]) <= half[None, :]
        nearest = np.argmin(np.where(inside, np.abs(d - target[None, :]), np.inf), axis=1)
        t["week"] = np.where(inside.any(axis=1), np.asarray(visits)[nearest], np.nan)
        unplaced = day.notna() & t["week"].isna()
        t.loc[unplaced, "week"] = np.asarray(visits)[
            np.argmin(np.abs(day[unplaced].to_numpy()[:, None] - target[None, :]), axis=1)
        ]
    t["day"] = day
    t["_target"] = 7.0 * t["week"]
    t["_half"] = t["week"].map(dict(zip(visits, half, strict=True)))
    t["_outside"] = day.notna() & ((day - t["_target"]).abs() > t["_half"])


def _patient_level(t: pd.DataFrame, cols: list[str], probs: _Problems, skip: set[int]) -> None:
    """Check one value per patient in ``cols`` (rows in ``skip`` aside) and fill it in."""
    for c in cols:
        g = t.groupby("patient", sort=False)[c]
        n = t[~t["_row"].isin(skip)].groupby("patient", sort=False)[c].nunique()
        for pid in n.index[n > 1]:
            vals = sorted(t.loc[(t["patient"] == pid) & t[c].notna(), c].unique().tolist())
            vals = [str(v) for v in vals]
            probs.add(None, f"patient {pid}.{c}", vals, "one value per patient", "differs")
        t[c] = g.transform("first")


def read_trial_data(
    table: pd.DataFrame,
    design: TrialDesign,
    mapping: DataMapping | Mapping[str, Any] | str | Path | None = None,
) -> TrialData:
    """Read a long, wide or REDCap-export table into the long format of ``analyze``.

    Parameters
    ----------
    table : pandas.DataFrame
        The table as read from the file (row ``i`` of the frame is file row ``i + 2``).
    design : TrialDesign
        The design: arms, centers, visits, outcome name and scale.
    mapping : DataMapping, mapping, path or None
        Where the columns are (:class:`DataMapping`); ``None``: auto-detected
        format with the standard names (the clinic export, a REDCap export with
        ``week_N`` events).

    Returns
    -------
    TrialData
        Long data, allocation list, visits outside their windows, notes.

    Raises
    ------
    InputError
        Every problem of the table at once: missing columns, unknown codes,
        events, arms or centers, values that are not numbers or are outside the
        scale, visits not in the design, duplicated visits, bad dates,
        patient-level values that change between rows.
    """
    m = load_mapping(mapping)
    y = design.outcome.name
    time_col = design.strategy.time_column
    fmt = _detect(table, m, design)
    probs = _Problems()
    notes: list[str] = []
    defaults = {"patient": "patient", "arm": "arm", "center": "center", time_col: time_col, y: y}
    if fmt == "redcap":
        defaults |= {"patient": _REDCAP_ID, "center": _REDCAP_DAG, time_col: _REDCAP_EVENT}
    cols = defaults | m.columns
    targets = [*defaults, *m.covariates]
    typos = [
        Problem(
            f"map.columns.{k}",
            v,
            f"a target: {', '.join(targets)}",
            "",
            "unknown target (list covariates under 'covariates')",
        )
        for k, v in m.columns.items()
        if k not in targets
    ]
    if typos:
        raise InputError(typos)
    t = table.copy()
    t.columns = [str(c) for c in t.columns]
    t["_row"] = np.arange(len(t)) + 2
    if fmt == "wide":
        t = wide_to_long(t, m.pattern or f"{y}_w{{week}}", "_y", source_column="_ycol")
        cols[y], cols[time_col] = "_y", "week"
    for c in t.columns:
        if c not in ("_row", "week", "_ycol"):
            t[c] = _text(t[c])
    if fmt == "redcap" and _REDCAP_EVENT in t:  # the REDCap arm number of the event
        t["redcap_arm"] = t[_REDCAP_EVENT].str.extract(_EVENT_ARM, expand=False)
    if fmt == "redcap" and _REDCAP_REPEAT in t:
        rep = t[_REDCAP_REPEAT].notna()
        if rep.any() and m.repeat == "drop":
            notes.append(f"{int(rep.sum())} rows of repeating instruments left out.")
            t = t[~rep]
    multi = len(design.centers) > 1
    need = ["patient", "arm", y] + (["center"] if multi else [])
    if not (fmt == "long" and m.dates is not None and cols[time_col] not in t):
        need.append(time_col)
    shown = ", ".join(c for c in t.columns if c != "_row")
    if len(shown) > 200:
        shown = shown[:200] + "..."
    for target in list(cols):
        src = cols[target]
        if src not in t and (target in need or target in m.columns):
            probs.add(
                None, f"map.{target}", src, f"a column of the table: {shown}", "column not found"
            )
    for c in m.covariates:
        if cols.get(c, c) not in t:
            probs.add(
                None,
                f"map.covariates.{c}",
                cols.get(c, c),
                f"a column of the table: {shown}",
                "column not found",
            )
    probs.raise_any()
    coded_bad = _decode(t, m, probs)
    out = pd.DataFrame({"_row": t["_row"], "patient": t[cols["patient"]]})
    out["arm"] = t[cols["arm"]]
    out["center"] = t[cols["center"]] if cols["center"] in t else design.centers[0].name
    covs = [c for c in m.covariates if c not in ("arm", "center")]
    covs += [b for b in m.checkboxes if b not in covs]
    for c in covs:
        out[c] = t[cols.get(c, c)] if cols.get(c, c) in t else pd.NA
    raw_y = t[cols[y]]
    y_name = t["_ycol"] if "_ycol" in t else cols[y]
    out[y] = _number(raw_y)
    bad = raw_y.notna() & out[y].isna()
    probs.rows(out.loc[bad, "_row"], y_name, raw_y[bad], "a number", "not a number")
    lo, hi = design.outcome.scale_min, design.outcome.scale_max
    off = out[y].notna() & ((out[y] < lo) | (out[y] > hi))
    probs.rows(
        out.loc[off, "_row"],
        y_name,
        raw_y[off],
        f">= {lo:g} and <= {hi:g}",
        "outside the outcome scale",
    )
    miss = out["patient"].isna()
    probs.rows(
        out.loc[miss, "_row"],
        cols["patient"],
        out.loc[miss, "patient"],
        "an identifier",
        "empty patient identifier",
    )
    out = out[~miss]
    t = t[~miss]
    visits = [float(v) for v in design.outcome.visits]
    if fmt == "redcap":
        ev = t[cols[time_col]]
        wk = ev.map(lambda e: np.nan if pd.isna(e) else _event_week(str(e), m.events))
        unk = wk.isna()
        ev_allowed = ", ".join(f"{k}={v:g}" for k, v in m.events.items()) or (
            "baseline..., week_<N>_... or an 'events:' mapping"
        )
        probs.rows(t.loc[unk, "_row"], cols[time_col], ev[unk], ev_allowed, "unknown event")
        out["week"] = wk.astype(float)
    elif cols[time_col] in t:
        raw = t[cols[time_col]]
        out["week"] = _number(raw)
        bad = raw.notna() & out["week"].isna()
        probs.rows(t.loc[bad, "_row"], cols[time_col], raw[bad], "a number", "not a number")
    else:
        out["week"] = np.nan
    if m.dates is not None:
        if m.dates.column in t:
            out[m.dates.column] = t[m.dates.column]
        if m.dates.anchor in t:
            out[m.dates.anchor] = t[m.dates.anchor]
        _dated(out, m.dates, visits, probs)
    out["_time"] = t[cols[time_col]] if cols[time_col] in t else out["week"]
    arms = design.arm_names
    centers = [c.name for c in design.centers]
    unflagged = ~out["_row"].isin(coded_bad)
    for col, allowed in (("arm", arms), ("center", centers)):
        bad = unflagged & out[col].notna() & ~out[col].isin(allowed)
        probs.rows(
            out.loc[bad, "_row"],
            cols[col],
            out.loc[bad, col],
            f"one of {allowed}",
            f"unknown {col}",
        )
        coded_bad |= set(out.loc[bad, "_row"].tolist())  # reported: not again as 'differs'
    _patient_level(out, ["arm", "center", *covs], probs, coded_bad)
    if time_col == "week":
        off_v = out["week"].notna() & ~out["week"].isin(visits)
        probs.rows(
            out.loc[off_v, "_row"],
            cols[time_col],
            out.loc[off_v, "_time"],
            f"a visit of the design {[_fmt_week(v) for v in visits]}",
            "visit not in the design",
        )
    first = out.drop_duplicates("patient")
    for col, allowed in (("arm", arms), ("center", centers)):
        if col == "center" and not multi:
            continue
        none = first[first[col].isna() & ~first["_row"].isin(coded_bad)]
        for pid in none["patient"]:
            probs.add(
                None,
                f"patient {pid}.{cols[col]}",
                None,
                f"one of {allowed}",
                f"patient without {'an' if col == 'arm' else 'a'} {col}",
            )
    window = pd.DataFrame(
        columns=["row", "patient", "week", "day", "target_day", "window_days", "excluded"]
    )
    if "_outside" in out:
        o = out[out["_outside"]]
        window = pd.DataFrame(
            {
                "row": o["_row"],
                "patient": o["patient"],
                "week": o["week"],
                "day": o["day"],
                "target_day": o["_target"],
                "window_days": o["_half"],
                "excluded": m.dates is not None and m.dates.outside == "exclude",
            }
        )
        if m.dates is not None and m.dates.outside == "exclude":
            out = out[~out["_outside"]]
    observed = out[out[y].notna() & out["week"].notna()]
    if fmt == "redcap" and m.repeat == "mean":
        agg = observed.groupby(["patient", "week"], sort=False)[y].transform("mean")
        observed = observed.assign(**{y: agg}).drop_duplicates(["patient", "week"])
    dup = observed.duplicated(["patient", "week"], keep="first")
    probs.rows(
        observed.loc[dup, "_row"],
        cols[time_col],
        observed.loc[dup, "_time"],
        "one row per patient and visit",
        "duplicated visit",
    )
    probs.raise_any()
    alloc = (
        out.dropna(subset=["arm"])
        .drop_duplicates("patient")[["patient", "arm", "center", *covs]]
        .rename(columns={"arm": "allocation"})
        .reset_index(drop=True)
    )
    keep = ["patient", "center", "arm", "week", y, *covs] + (["day"] if "day" in out else [])
    data = observed[keep].rename(columns={"week": time_col})
    data = data.sort_values(["patient", time_col], kind="stable").reset_index(drop=True)
    return TrialData(
        data=data,
        allocated=alloc,
        out_of_window=window.reset_index(drop=True),
        source_format=fmt,
        notes=tuple(notes),
    )
