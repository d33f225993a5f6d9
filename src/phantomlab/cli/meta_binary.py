"""``phantomlab meta mh|peto|tsa``: binary-outcome models and trial sequential analysis.

Merged into ``phantomlab meta`` (see :mod:`phantomlab.cli.meta`). Each command reads a CSV
table with one row per study, calls :func:`phantomlab.meta.rma_mh`,
:func:`phantomlab.meta.rma_peto` or :func:`phantomlab.meta.tsa`, and prints metafor-style
text or (``--json``) one JSON object. Bad input: one line per problem, exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from phantomlab._io import safe_names
from phantomlab.cli._common import FORCE, check_outputs, emit_result, lazy_module, read_table
from phantomlab.exceptions import InputError, Problem

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_module("pandas")

app = typer.Typer()

_DATA = typer.Argument(..., help="CSV (or TSV) table, one row per study (in order of accrual).")
_AI = typer.Option("ai", "--ai", help="Column: events, group 1 (treatment).")
_BI = typer.Option(None, "--bi", help="Column: non-events, group 1.")
_CI = typer.Option("ci", "--ci", help="Column: events, group 2 (control).")
_DI = typer.Option(None, "--di", help="Column: non-events, group 2.")
_N1 = typer.Option(None, "--n1i", help="Column: size of group 1 (instead of --bi).")
_N2 = typer.Option(None, "--n2i", help="Column: size of group 2 (instead of --di).")
_SLAB = typer.Option(None, "--slab", help="Column of study labels.")
_LEVEL = typer.Option(95.0, "--level", help="Confidence level in percent.")
_ADD = typer.Option(0.5, "--add", help="Added to zero cells for the study estimates yi.")
_TO = typer.Option("only0", "--to", help="Where to add: only0, all, if0all, none.")
_DROP = typer.Option(
    True, "--drop00/--keep00", help="Studies without events (or non-events) get no yi."
)
_FOREST = typer.Option(None, "--forest", help="Write a forest plot (PNG/PDF/SVG).")
_JSON = typer.Option(False, "--json", help="Print one JSON object instead of text.")


def _col(df: pd.DataFrame, name: str | None, option: str) -> Any:
    if name is None:
        return None
    if name not in df.columns:
        raise InputError(
            Problem(
                option,
                name,
                f"a column of the table ({safe_names(df.columns)})",
                "",
                "column not found",
            )
        )
    return pd.to_numeric(df[name], errors="coerce").to_numpy(float)


def _cells(
    data: Path,
    ai: str,
    bi: str | None,
    ci: str,
    di: str | None,
    n1i: str | None,
    n2i: str | None,
    slab: str | None,
) -> dict[str, Any]:
    df = read_table(data)
    probs = []
    if (bi is None) == (n1i is None):
        probs.append(Problem("--bi/--n1i", f"{bi}/{n1i}", "exactly one of them", "", "group 1"))
    if (di is None) == (n2i is None):
        probs.append(Problem("--di/--n2i", f"{di}/{n2i}", "exactly one of them", "", "group 2"))
    if probs:
        raise InputError(probs)
    labels = None
    if slab is not None:
        _col(df, slab, "--slab")
        labels = [str(x) for x in df[slab]]
    return {
        "ai": _col(df, ai, "--ai"),
        "bi": _col(df, bi, "--bi"),
        "ci": _col(df, ci, "--ci"),
        "di": _col(df, di, "--di"),
        "n1i": _col(df, n1i, "--n1i"),
        "n2i": _col(df, n2i, "--n2i"),
        "slab": labels,
    }


def _emit(res: Any, as_json: bool, forest: Path | None) -> None:
    if forest is not None:
        res.plot(path=forest)
    emit_result(res, as_json)


@app.command("mh")
def mh_cmd(
    data: Path = _DATA,
    measure: str = typer.Option("OR", "--measure", help="OR, RR or RD."),
    ai: str = _AI,
    bi: str | None = _BI,
    ci: str = _CI,
    di: str | None = _DI,
    n1i: str | None = _N1,
    n2i: str | None = _N2,
    slab: str | None = _SLAB,
    add: float = _ADD,
    to: str = _TO,
    drop00: bool = _DROP,
    correct: bool = typer.Option(
        True, "--correct/--no-correct", help="Continuity correction of the CMH test."
    ),
    level: float = _LEVEL,
    forest: Path | None = _FOREST,
    force: bool = FORCE,
    as_json: bool = _JSON,
) -> None:
    """Mantel-Haenszel model for 2x2 tables (metafor rma.mh)."""
    from phantomlab.meta import rma_mh

    check_outputs(force, forest=forest)
    cells = _cells(data, ai, bi, ci, di, n1i, n2i, slab)
    res = rma_mh(
        **cells, measure=measure, add=add, to=to, drop00=drop00, correct=correct, level=level
    )
    _emit(res, as_json, forest)


@app.command("peto")
def peto_cmd(
    data: Path = _DATA,
    ai: str = _AI,
    bi: str | None = _BI,
    ci: str = _CI,
    di: str | None = _DI,
    n1i: str | None = _N1,
    n2i: str | None = _N2,
    slab: str | None = _SLAB,
    add: float = _ADD,
    to: str = _TO,
    drop00: bool = _DROP,
    level: float = _LEVEL,
    forest: Path | None = _FOREST,
    force: bool = FORCE,
    as_json: bool = _JSON,
) -> None:
    """Peto's one-step odds ratio for 2x2 tables (metafor rma.peto)."""
    from phantomlab.meta import rma_peto

    check_outputs(force, forest=forest)
    cells = _cells(data, ai, bi, ci, di, n1i, n2i, slab)
    res = rma_peto(**cells, add=add, to=to, drop00=drop00, level=level)
    _emit(res, as_json, forest)


@app.command("tsa")
def tsa_cmd(
    data: Path = _DATA,
    yi: str = typer.Option("yi", "--yi", help="Column of effect sizes (e.g. log RR)."),
    vi: str = typer.Option("vi", "--vi", help="Column of sampling variances."),
    ni: str = typer.Option("ni", "--ni", help="Column of participants per study."),
    slab: str | None = _SLAB,
    ris: float | None = typer.Option(None, "--ris", help="Required information size, if known."),
    control_rate: float | None = typer.Option(
        None, "--control-rate", help="Anticipated control event proportion (binary)."
    ),
    rrr: float | None = typer.Option(
        None, "--rrr", help="Anticipated relative risk reduction (binary)."
    ),
    mean_difference: float | None = typer.Option(
        None, "--mean-difference", help="Anticipated mean difference (continuous)."
    ),
    sd: float | None = typer.Option(None, "--sd", help="Standard deviation (continuous)."),
    alpha: float = typer.Option(0.05, "--alpha", help="Two-sided type I error."),
    beta: float = typer.Option(0.2, "--beta", help="Type II error (1 - power)."),
    heterogeneity: str = typer.Option(
        "D2", "--heterogeneity", help="RIS adjustment: D2, I2, or a fraction in [0, 1)."
    ),
    method: str = typer.Option("DL", "--method", help="Cumulative model: EE, DL, REML, ..."),
    futility: bool = typer.Option(False, "--futility", help="Add futility boundaries."),
    spending: str = typer.Option(
        "per_side", "--spending", help="Two-sided alpha spending: per_side (rpact) or total."
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Write the TSA diagram."),
    force: bool = FORCE,
    as_json: bool = _JSON,
) -> None:
    """Trial sequential analysis: RIS, cumulative z-curve, Lan-DeMets boundaries."""
    from phantomlab.meta import tsa

    check_outputs(force, plot=plot)
    df = read_table(data)
    het: str | float = heterogeneity
    if heterogeneity.upper() not in ("D2", "I2"):
        try:
            het = float(heterogeneity)
        except ValueError:
            raise InputError(
                Problem(
                    "--heterogeneity",
                    heterogeneity,
                    "D2, I2 or a number in [0, 1)",
                    "",
                    "bad value",
                )
            ) from None
    labels = None
    if slab is not None:
        _col(df, slab, "--slab")
        labels = [str(x) for x in df[slab]]
    res = tsa(
        _col(df, yi, "--yi"),
        _col(df, vi, "--vi"),
        _col(df, ni, "--ni"),
        ris=ris,
        control_rate=control_rate,
        rrr=rrr,
        mean_difference=mean_difference,
        sd=sd,
        alpha=alpha,
        beta=beta,
        heterogeneity=het,
        method=method,
        futility=futility,
        spending=spending,
        slab=labels,
    )
    _emit(res, as_json, plot)
