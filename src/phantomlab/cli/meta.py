"""``phantomlab meta``: effect sizes and meta-analysis from a CSV table.

A thin layer over :mod:`phantomlab.meta` (``escalc``, ``rma`` and the analyses of a
fitted model): read the table, pick the columns, call the public API, print
metafor-style text or (``--json``) one JSON object.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from phantomlab._io import safe_names
from phantomlab.cli import meta_binary
from phantomlab.cli._common import (
    FORCE,
    check_outputs,
    emit_json,
    emit_result,
    lazy_module,
    read_table,
    write_csv,
)
from phantomlab.exceptions import InputError, Problem

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = lazy_module("numpy")
    pd = lazy_module("pandas")

app = typer.Typer(
    help="Effect sizes (escalc) and meta-analysis (rma, confint, regtest, ranktest, trimfill, "
    "leave1out, subgroups, nma, mh, peto), matching R's metafor; trial sequential analysis "
    "(tsa).",
    no_args_is_help=True,
)

_DATA = typer.Argument(..., help="CSV (or TSV) table, one row per study.")
_YI = typer.Option("yi", "--yi", help="Column of effect sizes.")
_VI = typer.Option("vi", "--vi", help="Column of sampling variances.")
_SEI = typer.Option(None, "--sei", help="Column of standard errors (instead of --vi).")
_METHOD = typer.Option(
    "REML",
    "--method",
    help="tau^2 estimator: EE (FE), DL, HE, HS, HSk, SJ, ML, REML, EB, PM, PMM, DLIT, SJIT.",
)
_TEST = typer.Option("z", "--test", help="Inference: z, t, knha (Knapp-Hartung), adhoc.")
_LEVEL = typer.Option(95.0, "--level", help="Confidence level in percent.")
_SLAB = typer.Option(None, "--slab", help="Column of study labels.")
_JSON = typer.Option(False, "--json", help="Print one JSON object instead of text.")


@contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    """Print library warnings as one ``warning:`` line each on stderr."""
    from phantomlab.exceptions import one_line

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        if issubclass(w.category, UserWarning):
            typer.echo(f"warning: {one_line(w.message)}", err=True)


def _column(df: pd.DataFrame, name: str, option: str) -> pd.Series:
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
    return df[name]


def _load(
    data: Path, yi: str, vi: str, sei: str | None, slab: str | None
) -> tuple[pd.DataFrame, Any, Any, list[str] | None]:
    df = read_table(data)
    y = _column(df, yi, "--yi")
    if sei is not None:
        s = pd.to_numeric(_column(df, sei, "--sei"), errors="coerce")
        v = s**2
    else:
        v = _column(df, vi, "--vi")
    labels = None if slab is None else [str(x) for x in _column(df, slab, "--slab")]
    return df, y, v, labels


def _fit(
    data: Path,
    yi: str,
    vi: str,
    sei: str | None,
    method: str,
    test: str,
    level: float,
    slab: str | None,
    mods: str | None = None,
) -> Any:
    from phantomlab.meta import rma

    df, y, v, labels = _load(data, yi, vi, sei, slab)
    moddf = None
    if mods:
        cols = [c.strip() for c in mods.split(",") if c.strip()]
        moddf = pd.DataFrame({c: _column(df, c, "--mods") for c in cols})
    return rma(y, v, method=method, test=test, level=level, mods=moddf, slab=labels)


@app.command("escalc")
def escalc_cmd(
    data: Path = _DATA,
    measure: str = typer.Option(
        ...,
        "--measure",
        help="RR, OR, RD, AS, MD, SMD, SMDH, ROM, MC, SMCC, SMCR, PR, PLN, PLO, PAS, PFT, "
        "ZCOR, COR, IR, IRLN, IRR, IRD, MN, MNLN.",
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the table with yi, vi to this CSV."
    ),
    ai: str | None = typer.Option(None, "--ai", help="Column: events, group 1."),
    bi: str | None = typer.Option(None, "--bi", help="Column: non-events, group 1."),
    ci: str | None = typer.Option(None, "--ci", help="Column: events, group 2."),
    di: str | None = typer.Option(None, "--di", help="Column: non-events, group 2."),
    n1i: str | None = typer.Option(None, "--n1i", help="Column: size of group 1."),
    n2i: str | None = typer.Option(None, "--n2i", help="Column: size of group 2."),
    m1i: str | None = typer.Option(None, "--m1i", help="Column: mean of group 1 (or post)."),
    m2i: str | None = typer.Option(None, "--m2i", help="Column: mean of group 2 (or pre)."),
    sd1i: str | None = typer.Option(None, "--sd1i", help="Column: SD of group 1."),
    sd2i: str | None = typer.Option(None, "--sd2i", help="Column: SD of group 2."),
    xi: str | None = typer.Option(None, "--xi", help="Column: events (single group)."),
    mi: str | None = typer.Option(None, "--mi", help="Column: non-events (PR...) or mean (MN)."),
    ni: str | None = typer.Option(None, "--ni", help="Column: sample size."),
    ri: str | None = typer.Option(None, "--ri", help="Column: correlation."),
    ti: str | None = typer.Option(None, "--ti", help="Column: person-time."),
    sdi: str | None = typer.Option(None, "--sdi", help="Column: SD (MN, MNLN)."),
    x1i: str | None = typer.Option(None, "--x1i", help="Column: events, group 1 (IRR, IRD)."),
    x2i: str | None = typer.Option(None, "--x2i", help="Column: events, group 2 (IRR, IRD)."),
    t1i: str | None = typer.Option(None, "--t1i", help="Column: person-time, group 1."),
    t2i: str | None = typer.Option(None, "--t2i", help="Column: person-time, group 2."),
    add: float | None = typer.Option(
        None, "--add", help="Added to zero cells (metafor: 1/2; 0 for AS, PAS, PFT)."
    ),
    to: str = typer.Option("only0", "--to", help="Where to add: only0, all, if0all, none."),
    drop00: bool = typer.Option(
        False, "--drop00", help="Drop studies with no events in both groups."
    ),
    vtype: str = typer.Option("LS", "--vtype", help="Variance type: LS, or UB (SMD, SMCC, SMCR)."),
    force: bool = FORCE,
    as_json: bool = _JSON,
) -> None:
    """Compute effect sizes yi and sampling variances vi (metafor escalc)."""
    from phantomlab.meta import escalc

    check_outputs(force, out=out)
    df = read_table(data)
    cols = dict(
        ai=ai,
        bi=bi,
        ci=ci,
        di=di,
        n1i=n1i,
        n2i=n2i,
        m1i=m1i,
        m2i=m2i,
        sd1i=sd1i,
        sd2i=sd2i,
        xi=xi,
        mi=mi,
        ni=ni,
        ri=ri,
        ti=ti,
        sdi=sdi,
        x1i=x1i,
        x2i=x2i,
        t1i=t1i,
        t2i=t2i,
    )
    given: dict[str, Any] = {k: v for k, v in cols.items() if v is not None}
    res = escalc(measure, df, add=add, to=to, drop00=drop00, vtype=vtype, **given)
    if out is not None:
        write_csv(out, res, force=force, private=False)
    if as_json:
        emit_json(
            {
                "measure": res.attrs.get("measure", measure),
                "yi": res["yi"].to_numpy(),
                "vi": res["vi"].to_numpy(),
            }
        )
    elif out is None:
        typer.echo(res.to_string(index=False))
    else:
        n_ok = int(np.isfinite(res["yi"]).sum())
        typer.echo(f"wrote {out} ({len(res)} rows, {n_ok} with yi, measure {measure.upper()})")


@app.command("rma")
def rma_cmd(
    data: Path = _DATA,
    yi: str = _YI,
    vi: str = _VI,
    sei: str | None = _SEI,
    method: str = _METHOD,
    test: str = _TEST,
    mods: str | None = typer.Option(None, "--mods", help="Comma-separated moderator columns."),
    level: float = _LEVEL,
    slab: str | None = _SLAB,
    forest: Path | None = typer.Option(None, "--forest", help="Write a forest plot (PNG/PDF/SVG)."),
    funnel: Path | None = typer.Option(None, "--funnel", help="Write a funnel plot."),
    transf: str = typer.Option(
        "none",
        "--transf",
        help="Back-transform the estimate, CI, PI and forest axis: none, or exp (for log "
        "ratios: RR, OR, ROM, IRR).",
    ),
    force: bool = FORCE,
    as_json: bool = _JSON,
) -> None:
    """Fit a random-/mixed-effects model (metafor rma)."""
    check_outputs(force, forest=forest, funnel=funnel)
    if transf not in ("none", "exp"):
        raise InputError(Problem("--transf", transf, "none, exp", "", "unknown transformation"))
    fn = np.exp if transf == "exp" else None
    with _warnings_to_stderr():
        res = _fit(data, yi, vi, sei, method, test, level, slab, mods)
        if forest is not None:
            res.forest(path=forest, transf=fn, refline=1.0 if fn is not None else 0.0)
        if funnel is not None:
            res.funnel(path=funnel)
    if fn is None:
        emit_result(res, as_json)
        return
    pred = res.predict(transf=fn).iloc[[0] if res.int_only else slice(None)]
    if as_json:
        emit_json({**res.to_dict(), "transf": "exp", "predict_transf": pred.to_dict("list")})
        return
    typer.echo(res.summary())
    typer.echo("Back-transformed (exp):\n")
    typer.echo(pred.drop(columns="se").to_string(index=False, float_format=lambda x: f"{x:.4f}"))


@app.command("paired")
def paired_cmd(
    data: Path = _DATA,
    measure: str = typer.Option("MC", "--measure", help="MC, SMCC, SMCR, SMCRH or ROMC."),
    m1i: str = typer.Option("m1i", "--m1i", help="Column: mean of condition 1 (post/active)."),
    sd1i: str = typer.Option("sd1i", "--sd1i", help="Column: SD of condition 1."),
    m2i: str = typer.Option("m2i", "--m2i", help="Column: mean of condition 2 (pre/control)."),
    sd2i: str = typer.Option("sd2i", "--sd2i", help="Column: SD of condition 2."),
    ni: str = typer.Option("ni", "--ni", help="Column: number of patients."),
    ri: float | None = typer.Option(
        None, "--ri", help="Assumed within-patient correlation (studies without sd_diff or t)."
    ),
    sd_diff: str | None = typer.Option(None, "--sd-diff", help="Column: SD of the differences."),
    tstat: str | None = typer.Option(None, "--t", help="Column: paired t statistic."),
    ri_sweep: str | None = typer.Option(
        None, "--ri-sweep", help="Refit for each assumed ri, e.g. 0.2,0.4,0.6,0.8."
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Write the ri-sweep plot."),
    method: str = _METHOD,
    slab: str | None = _SLAB,
    force: bool = FORCE,
    as_json: bool = _JSON,
) -> None:
    """Pool paired (pre-post or crossover) data with an explicit within-patient correlation."""
    from phantomlab.meta import paired_escalc, rma
    from phantomlab.meta import ri_sweep as sweep

    check_outputs(force, plot=plot)
    df = read_table(data)
    cols = {
        k: pd.to_numeric(_column(df, c, f"--{k}"), errors="coerce").to_numpy(float)
        for k, c in (("m1i", m1i), ("sd1i", sd1i), ("m2i", m2i), ("sd2i", sd2i), ("ni", ni))
    }
    extra = {
        k: pd.to_numeric(_column(df, c, o), errors="coerce").to_numpy(float)
        for k, c, o in (("sd_diff", sd_diff, "--sd-diff"), ("t", tstat, "--t"))
        if c is not None
    }
    labels = None if slab is None else [str(x) for x in _column(df, slab, "--slab")]
    with _warnings_to_stderr():
        if ri_sweep is not None:
            try:
                grid = [float(x) for x in ri_sweep.split(",") if x.strip()]
            except ValueError:
                raise InputError(
                    Problem("--ri-sweep", ri_sweep, "numbers in [-1, 1], comma-separated", "", "")
                ) from None
            res: Any = sweep(measure, **cols, **extra, ri=grid, method=method)
            if plot is not None:
                res.plot(path=plot)
            if as_json:
                emit_json(res.to_dict())
            else:
                typer.echo(res.summary())
            return
        es = paired_escalc(measure, **cols, **extra, ri=ri, slab=labels)
        fit = rma(es["yi"], es["vi"], method=method, slab=labels)
    if as_json:
        emit_json({**fit.to_dict(), "ri": list(es["ri"]), "ri_source": list(es["ri_source"])})
        return
    typer.echo(es[["yi", "vi", "ri", "ri_source"]].to_string())
    typer.echo(fit.summary())


def _simple(name: str, doc: str, call: Callable[[Any], Any]) -> None:
    def command(
        data: Path = _DATA,
        yi: str = _YI,
        vi: str = _VI,
        sei: str | None = _SEI,
        method: str = _METHOD,
        test: str = _TEST,
        level: float = _LEVEL,
        slab: str | None = _SLAB,
        mods: str | None = typer.Option(None, "--mods", help="Comma-separated moderators."),
        as_json: bool = _JSON,
    ) -> None:
        with _warnings_to_stderr():
            res = _fit(data, yi, vi, sei, method, test, level, slab, mods)
            extra = call(res)
        emit_result(extra, as_json)

    command.__doc__ = doc
    app.command(name)(command)


_simple(
    "confint",
    "Q-profile confidence intervals for tau^2, tau, I^2, H^2 (metafor confint).",
    lambda r: r.confint(),
)
_simple("leave1out", "Leave-one-out estimates (metafor leave1out).", lambda r: r.leave1out())
_simple(
    "influence",
    "Case-deletion influence diagnostics (metafor influence).",
    lambda r: r.influence(),
)
_simple(
    "ranktest", "Begg & Mazumdar rank correlation test (metafor ranktest).", lambda r: r.ranktest()
)


@app.command("regtest")
def regtest_cmd(
    data: Path = _DATA,
    yi: str = _YI,
    vi: str = _VI,
    sei: str | None = _SEI,
    method: str = _METHOD,
    test: str = _TEST,
    level: float = _LEVEL,
    predictor: str = typer.Option("sei", "--predictor", help="sei or vi."),
    model: str = typer.Option(
        "rma", "--model", help="rma (meta-regression) or lm (classical Egger)."
    ),
    as_json: bool = _JSON,
) -> None:
    """Egger-type regression test for funnel-plot asymmetry (metafor regtest)."""
    with _warnings_to_stderr():
        res = _fit(data, yi, vi, sei, method, test, level, None)
        out = res.regtest(predictor=predictor, model=model)
    emit_result(out, as_json)


@app.command("trimfill")
def trimfill_cmd(
    data: Path = _DATA,
    yi: str = _YI,
    vi: str = _VI,
    sei: str | None = _SEI,
    method: str = _METHOD,
    test: str = _TEST,
    level: float = _LEVEL,
    slab: str | None = _SLAB,
    side: str | None = typer.Option(
        None, "--side", help="left or right (default: chosen as metafor)."
    ),
    estimator: str = typer.Option("L0", "--estimator", help="L0, R0 or Q0."),
    funnel: Path | None = typer.Option(
        None, "--funnel", help="Write a funnel plot with filled studies."
    ),
    force: bool = FORCE,
    as_json: bool = _JSON,
) -> None:
    """Duval & Tweedie trim-and-fill (metafor trimfill)."""
    check_outputs(force, funnel=funnel)
    with _warnings_to_stderr():
        res = _fit(data, yi, vi, sei, method, test, level, slab)
        out = res.trimfill(side=side, estimator=estimator)
        if funnel is not None:
            out.funnel(path=funnel)
    emit_result(out, as_json)


@app.command("subgroups")
def subgroups_cmd(
    data: Path = _DATA,
    by: str = typer.Option(..., "--by", help="Column with the subgroup of each study."),
    yi: str = _YI,
    vi: str = _VI,
    sei: str | None = _SEI,
    method: str = _METHOD,
    test: str = _TEST,
    level: float = _LEVEL,
    slab: str | None = _SLAB,
    tau2: str = typer.Option("separate", "--tau2", help="separate (per subgroup) or common."),
    forest: Path | None = typer.Option(None, "--forest", help="Write a grouped forest plot."),
    force: bool = FORCE,
    as_json: bool = _JSON,
) -> None:
    """Subgroup analysis with the test of subgroup differences."""
    from phantomlab.meta import rma_subgroups

    check_outputs(force, forest=forest)

    with _warnings_to_stderr():
        df, y, v, labels = _load(data, yi, vi, sei, slab)
        res = rma_subgroups(
            y,
            v,
            list(_column(df, by, "--by")),
            method=method,
            test=test,
            level=level,
            slab=labels,
            tau2=tau2,
        )
        if forest is not None:
            res.forest(path=forest)
    emit_result(res, as_json)


def _nma_layout(df: pd.DataFrame, layout: str, treatment: str, treat1: str, treat2: str) -> str:
    if layout not in ("auto", "arms", "contrasts"):
        raise InputError(
            Problem("--layout", layout, "auto, arms or contrasts", "", "unknown layout")
        )
    if layout != "auto":
        return layout
    if treatment in df.columns:
        return "arms"
    if treat1 in df.columns and treat2 in df.columns:
        return "contrasts"
    raise InputError(
        Problem(
            "--layout",
            "auto",
            f"a {treatment!r} column (one row per arm) or {treat1!r} and {treat2!r} columns "
            f"(one row per contrast); the table has {safe_names(df.columns)}",
            "",
            "cannot tell whether the table is arm-level or contrast-level",
        )
    )


@app.command("nma")
def nma_cmd(
    data: Path = typer.Argument(
        ..., help="CSV, long format: one row per study arm, or one row per contrast."
    ),
    layout: str = typer.Option("auto", "--layout", help="auto, arms or contrasts."),
    study: str = typer.Option("study", "--study", help="Column of study labels."),
    treatment: str = typer.Option("treatment", "--treatment", help="Arm-level: treatment column."),
    measure: str = typer.Option("OR", "--measure", help="Arm-level: OR (events, n) or MD."),
    events: str = typer.Option("events", "--events", help="Arm-level: events column (OR)."),
    n: str = typer.Option("n", "--n", help="Arm-level: arm size column."),
    mean: str = typer.Option("mean", "--mean", help="Arm-level: mean column (MD)."),
    sd: str = typer.Option("sd", "--sd", help="Arm-level: SD column (MD)."),
    add: float = typer.Option(0.5, "--add", help="Arm-level OR: added to zero cells."),
    to: str = typer.Option("only0", "--to", help="Arm-level OR: only0, all or none."),
    treat1: str = typer.Option("treat1", "--treat1", help="Contrast-level: treatment column."),
    treat2: str = typer.Option("treat2", "--treat2", help="Contrast-level: comparator column."),
    yi: str = _YI,
    vi: str = _VI,
    vbase: str = typer.Option(
        "vbase", "--vbase", help="Contrast-level: baseline arm variance (multi-arm studies)."
    ),
    reference: str | None = typer.Option(None, "--reference", help="Reference treatment."),
    method: str = typer.Option("REML", "--method", help="tau^2 estimator: REML or ML."),
    level: float = _LEVEL,
    small_values: str = typer.Option(
        "good", "--small-values", help="good or bad: direction of benefit for the P-scores."
    ),
    graph: Path | None = typer.Option(None, "--graph", help="Write the network graph."),
    funnel: Path | None = typer.Option(
        None, "--funnel", help="Write the comparison-adjusted funnel plot."
    ),
    league: Path | None = typer.Option(None, "--league", help="Write the league table (CSV)."),
    split: bool = typer.Option(
        False, "--node-split", help="Add node-splitting (direct vs indirect) per comparison."
    ),
    force: bool = FORCE,
    as_json: bool = _JSON,
) -> None:
    """Network meta-analysis (contrast-based random effects, as metafor rma.mv)."""
    from phantomlab.meta import nma, nma_arms

    check_outputs(force, graph=graph, funnel=funnel, league=league)
    with _warnings_to_stderr():
        df = read_table(data)
        kind = _nma_layout(df, layout, treatment, treat1, treat2)
        common: dict[str, Any] = {
            "reference": reference,
            "method": method,
            "level": level,
            "small_values": small_values,
        }
        if kind == "arms":
            cols = {"OR": ("events", "n"), "MD": ("mean", "sd", "n")}.get(measure.upper())
            if cols is None:
                raise InputError(Problem("--measure", measure, "OR or MD", "", "unknown measure"))
            names = {"events": events, "n": n, "mean": mean, "sd": sd}
            arm_data = {c: _column(df, names[c], f"--{c}") for c in cols}
            res = nma_arms(
                _column(df, study, "--study"),
                _column(df, treatment, "--treatment"),
                measure=measure,
                add=add,
                to=to,
                **arm_data,
                **common,
            )
        else:
            res = nma(
                _column(df, study, "--study"),
                _column(df, treat1, "--treat1"),
                _column(df, treat2, "--treat2"),
                _column(df, yi, "--yi"),
                _column(df, vi, "--vi"),
                vbase=df[vbase] if vbase in df.columns else None,
                **common,
            )
        if graph is not None:
            res.network_graph(path=graph)
        if funnel is not None:
            res.funnel(path=funnel)
        if league is not None:
            write_csv(league, res.league().reset_index(names=""), force=force, field="--league")
        ns = res.node_split() if split else None
    if ns is None:
        emit_result(res, as_json)
    elif as_json:
        emit_json({**res.to_dict(), "node_split": ns.to_dict(orient="records")})
    else:
        typer.echo(res.summary())
        typer.echo("\nNode-splitting (direct vs indirect; diff = direct - indirect):")
        typer.echo(ns.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


app.registered_commands += meta_binary.app.registered_commands
