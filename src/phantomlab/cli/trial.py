"""``phantomlab trial``: trial designs, randomization lists, analysis and power."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from phantomlab.cli import trial_data, trial_insilico
from phantomlab.cli._common import FORCE, check_outputs, emit_json, read_table, write_figure

app = typer.Typer(help="Trial statistics: design schema, randomization, analysis, power.")


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of the trial-design YAML format."""
    from phantomlab.trials import design_schema

    typer.echo(json.dumps(design_schema(), indent=2))


@app.command("randomize")
def randomize_cmd(
    design: Path = typer.Argument(..., help="Trial design (YAML or JSON)."),
    seed: int = typer.Option(..., "--seed", help="Seed (record it; same seed, same list)."),
    output: Path = typer.Option(..., "--output", "-o", help="CSV file for the list."),
    participants: Path = typer.Option(
        None, "--participants", help="CSV of participants in arrival order (minimization)."
    ),
    per_stratum: int = typer.Option(None, "--per-stratum", help="Slots per stratum."),
    envelopes: int = typer.Option(
        None, "--envelopes", help="Also write a blinded sheet and key, codes from this seed."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Generate an allocation list, write it as CSV and seal it with SHA-256.

    The list, its ``.sha256`` and the envelope sheet and key are created with mode 0600
    and are never replaced: an existing one stops the command (exit code 2) before any
    work, and there is no ``--force`` for sealed lists.
    """
    from phantomlab._io import atomic_write, frame_csv_bytes
    from phantomlab.trials import load_design, randomize
    from phantomlab.trials.randomize import refuse_sealed

    check_outputs(True, output=output)  # folder exists, not a folder, has a file name
    stem = output.with_suffix("")
    files = [str(output), f"{output}.sha256"]
    if envelopes is not None:
        files += [f"{stem}.sheet.csv", f"{stem}.key.csv"]
    refuse_sealed(files)
    d = load_design(design)
    people = read_table(participants) if participants is not None else None
    alloc = randomize(d, seed, participants=people, per_stratum=per_stratum)
    digest = alloc.to_csv(output)
    if envelopes is not None:
        for name, table in zip(files[2:], alloc.sealed_envelopes(envelopes), strict=True):
            atomic_write(name, frame_csv_bytes(table), private=True, field="output")
    if as_json:
        counts = alloc.table["allocation"].value_counts().sort_index()
        emit_json(
            {
                "method": alloc.method,
                "rows": len(alloc.table),
                "sha256": digest,
                "counts": {str(k): int(v) for k, v in counts.items()},
                "files": files,
            }
        )
    else:
        typer.echo(alloc.summary())
        typer.echo("Wrote " + ", ".join(files))


@app.command("analyze")
def analyze_cmd(
    data: Path = typer.Argument(..., help="Long-format trial data (CSV)."),
    design: Path = typer.Option(..., "--design", help="Trial design (YAML or JSON)."),
    allocated: Path = typer.Option(
        None, "--allocated", help="CSV of every randomized patient (patient, allocation)."
    ),
    plot: Path = typer.Option(None, "--plot", help="Write a figure (PNG/PDF)."),
    analyses: str = typer.Option(
        None,
        "--analyses",
        help="Comma-separated subset of change,ancova,mixed,mmrm,mi,tipping (parallel "
        "designs; default change,ancova,mixed, plus mmrm when it is the primary analysis). "
        "mi/tipping use the design's analysis.missing_data.",
    ),
    tipping_plot: Path = typer.Option(
        None, "--tipping-plot", help="Write the tipping-point figure (needs 'tipping')."
    ),
    mapping: list[str] = trial_data.MAP,
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Analyse real trial data: change, ANCOVA, mixed model, MMRM, responders, CONSORT, MI."""
    from phantomlab.exceptions import InputError, Problem
    from phantomlab.trials import analyze, load_design
    from phantomlab.trials.analysis import ANALYSES

    check_outputs(force, plot=plot, tipping_plot=tipping_plot)
    todo = None
    if analyses is not None:
        todo = tuple(a.strip() for a in analyses.split(",") if a.strip())
        bad = [a for a in todo if a not in ANALYSES]
        if bad or not todo:
            raise InputError(
                Problem(
                    "--analyses",
                    analyses,
                    f"comma-separated, of {','.join(ANALYSES)}",
                    "",
                    "unknown analysis",
                )
            )
    if tipping_plot is not None and "tipping" not in (todo or ()):
        raise InputError(
            Problem(
                "--tipping-plot",
                str(tipping_plot),
                "with --analyses ...,tipping",
                "",
                "no tipping-point analysis asked for",
            )
        )
    d = load_design(design)
    alloc = read_table(allocated) if allocated is not None else None
    if mapping:  # a wide or REDCap table, or other column names
        td = trial_data.read_mapped(data, d, mapping)
        alloc = td.allocated if alloc is None else alloc
        res = analyze(td.data, d, allocated=alloc, analyses=todo)
    else:
        res = analyze(read_table(data), d, allocated=alloc, analyses=todo)
    if plot is not None:
        write_figure(plot, res.plot(), force=force, dpi=120)
    if tipping_plot is not None:
        write_figure(tipping_plot, res.sensitivity["tipping"].plot(), force=force, dpi=120)
    if as_json:
        emit_json(res.to_dict())
    else:
        typer.echo(res.summary())


@app.command("power")
def power_cmd(
    design: Path = typer.Argument(..., help="Trial design (YAML or JSON)."),
    n: str = typer.Option("20:200:20", "--n", help="Patients per arm: start:stop:step or list."),
    sims: int = typer.Option(1000, "--sims", help="Simulated trials per n."),
    seed: int = typer.Option(1, "--seed", help="Seed of the simulations."),
    plot: Path = typer.Option(None, "--plot", help="Write the power curve figure."),
    scheduler: str = typer.Option(
        None, "--scheduler", help="Dask scheduler address, or 'local' (default: in-process)."
    ),
    workers: int = typer.Option(1, "--workers", help="Workers of a local Dask cluster."),
    model: str = typer.Option(
        "planning",
        "--model",
        help="Simulator: 'planning' (the design's parametric planning model) or 'virtual' "
        "(the calibrated virtual PLP cohort; every arm names a protocol; seconds per trial).",
    ),
    force: bool = FORCE,
    draws: int = typer.Option(
        20,
        "--draws",
        help="With --model virtual: posterior parameter draws (--sims split over them).",
    ),
    calibration: Path = typer.Option(
        None, "--calibration", help="With --model virtual: calibration JSON (default: packaged)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Print analytic and simulated power side by side.

    Analytic power uses the design's planning values; simulated power uses the
    planning model or, with ``--model virtual``, trials run on the calibrated
    virtual cohort (each arm's ``protocol``) and analysed by the same code, with a
    95 % interval over posterior parameter draws and the calibration error of each arm.
    """
    from rich.progress import Progress

    from phantomlab.cli._common import err_console
    from phantomlab.exceptions import InputError, Problem
    from phantomlab.trials import load_design, parse_n_range, power_curve

    if model not in ("planning", "virtual"):
        raise InputError(Problem("model", model, "'planning' or 'virtual'", "", "unknown model"))
    check_outputs(force, plot=plot)
    d = load_design(design)
    ns = parse_n_range(n)
    simulate = None
    if model == "virtual":
        from phantomlab.trials.replicate import VirtualTrialModel

        simulate = VirtualTrialModel(d)
        simulate.check()
    if sims < 1 or sims > 1_000_000:
        raise InputError(Problem("sims", sims, ">= 1 and <= 1000000", "", "out of range"))
    if workers < 1 or workers > 512:
        raise InputError(Problem("workers", workers, ">= 1 and <= 512", "", "out of range"))
    with Progress(console=err_console, transient=True) as bar:
        job = bar.add_task("simulating", total=None)

        def _tick(done: int, total: int) -> None:
            bar.update(job, completed=done, total=total)

        if simulate is not None:
            from phantomlab.cohorts import load_calibration
            from phantomlab.trials.power import posterior_power

            rec = load_calibration(calibration)
            bar.update(job, description="simulating (posterior parameter draws)")
            res = posterior_power(d, ns, n_sims=sims, n_draws=draws, record=rec, rng=seed,
                                  scheduler=scheduler, n_workers=workers,
                                  progress=_tick)  # fmt: skip
        else:
            res = power_curve(
                d,
                ns,
                n_sims=sims,
                rng=seed,
                scheduler=scheduler,
                n_workers=workers,
                progress=_tick,
            )
    if plot is not None:
        write_figure(plot, res.plot(), force=force, dpi=120)
    if as_json:
        emit_json(res.to_dict())
    else:
        typer.echo(res.summary())


@app.command("samplesize")
def samplesize_cmd(
    outcome: str = typer.Option("continuous", "--outcome", help="'continuous' or 'binary'."),
    d: float = typer.Option(None, "--d", help="Continuous: standardized effect (diff / SD)."),
    p1: float = typer.Option(None, "--p1", help="Binary: responder proportion, arm 1."),
    p2: float = typer.Option(None, "--p2", help="Binary: responder proportion, arm 2."),
    power: float = typer.Option(0.8, "--power", help="Target power, in (0, 1)."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level."),
    alternative: str = typer.Option("two-sided", "--alternative", help="two-sided|greater."),
    ratio: float = typer.Option(1.0, "--ratio", help="n2 / n1."),
    method: str = typer.Option("arcsine", "--method", help="Binary: arcsine|unpooled."),
    rho_baseline: float = typer.Option(0.0, "--rho-baseline", help="ANCOVA: corr(baseline, y)."),
    visits: int = typer.Option(1, "--visits", help="Post-baseline visits averaged."),
    rho_visits: float = typer.Option(0.0, "--rho-visits", help="Correlation between visits."),
    cluster_size: float = typer.Option(1.0, "--cluster-size", help="Patients per center."),
    icc: float = typer.Option(0.0, "--icc", help="Intra-center correlation."),
    dropout: float = typer.Option(0.0, "--dropout", help="Expected fraction lost, [0, 1)."),
    curve: str = typer.Option(None, "--curve", help="Also a power curve at these n/arm."),
    plot: Path = typer.Option(None, "--plot", help="Write the power curve figure."),
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Solve the sample size per arm (analytic), with attrition and center inflation."""
    from phantomlab.trials import parse_n_range, sample_size, sample_size_curve

    check_outputs(force, plot=plot)
    kw = dict(effect_size=d, p1=p1, p2=p2, alpha=alpha, alternative=alternative, ratio=ratio,
              method=method, rho_baseline=rho_baseline, visits=visits, rho_visits=rho_visits,
              cluster_size=cluster_size, icc=icc)  # fmt: skip
    res = sample_size(outcome, power=power, dropout=dropout, **kw)  # type: ignore[arg-type]
    crv = None
    if curve is not None or plot is not None:
        ns = parse_n_range(curve) if curve is not None else list(range(4, 4 * res.n_evaluable, 2))
        crv = sample_size_curve(ns, outcome, **kw)
        if plot is not None:
            write_figure(plot, crv.plot(), force=force, dpi=120)
    if as_json:
        out = res.to_dict()
        if crv is not None:
            out["curve"] = crv.to_frame().to_dict(orient="records")
        emit_json(out)
    else:
        typer.echo(res.summary())
        if crv is not None and curve is not None:
            typer.echo(crv.summary())


@app.command("consort")
def consort_cmd(
    disposition: Path = typer.Argument(
        ..., help="Disposition table (CSV/TSV, one row per participant) or counts (YAML/JSON)."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Diagram: .svg, .png, .pdf or .html."),
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Print the box counts as JSON."),
) -> None:
    """Draw the CONSORT 2010 flow diagram; counts that do not add up stop it (exit 2)."""
    from phantomlab.exceptions import InputError, Problem
    from phantomlab.report.consort import consort_figure, consort_report
    from phantomlab.trials.consort import load_consort

    suffix = output.suffix.lower()
    if suffix not in {".svg", ".png", ".pdf", ".html"}:
        raise InputError(
            Problem("--output", str(output), ".svg, .png, .pdf or .html", "", "unknown format")
        )
    check_outputs(force, output=output)
    flow = load_consort(disposition)
    if suffix == ".html":
        consort_report(flow).save(output, overwrite=force)
    else:
        write_figure(output, consort_figure(flow), force=force, field="--output", dpi=150)
    if as_json:
        emit_json({"randomized": flow.randomized, "boxes": flow.table().to_dict("records")})
    else:
        arms = ", ".join(f"{k} {a.allocated}/{a.analysed}" for k, a in flow.arms.items())
        typer.echo(
            f"Assessed {flow.assessed}, randomised {flow.randomized}; "
            f"allocated/analysed per arm: {arms}. Wrote {output}"
        )


# the in-silico commands (specs, replicate, calibration, cohort) are defined next door
app.registered_commands += trial_insilico.app.registered_commands
app.registered_commands += trial_data.app.registered_commands  # import, report
