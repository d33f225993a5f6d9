"""``phantomlab trial`` in-silico commands: trial specs, replication, calibration, cohorts.

Their ``app`` is merged into the ``trial`` app of :mod:`phantomlab.cli.trial`. Thin: the science
lives in :mod:`phantomlab.trials.specs`, :mod:`phantomlab.trials.replicate`,
:mod:`phantomlab.trials.calibration` and :mod:`phantomlab.cohorts`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from phantomlab.cli._common import FORCE, check_outputs, emit_json, write_csv, write_figure

__all__ = ["app"]

app = typer.Typer()


@app.command("spec-schema")
def spec_schema() -> None:
    """Print the JSON Schema of the trial-spec YAML format (published trials to replicate)."""
    from phantomlab.trials.specs import trial_spec_schema

    typer.echo(json.dumps(trial_spec_schema(), indent=2))


@app.command("specs")
def specs_cmd(
    write: Path = typer.Option(
        None,
        "--write",
        help="Regenerate the specs from the evidence base into this folder (the packaged "
        "ones are never rewritten unless you name their folder).",
    ),
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the trial specs generated from the evidence base (one per study)."""
    from phantomlab.trials.specs import list_specs, load_trial_spec, write_specs

    if write is not None:
        files = write_specs(write, overwrite=force)
        typer.echo(f"wrote {len(files)} specs to {write}", err=True)
    rows: list[dict[str, Any]] = []
    for sid in list_specs():
        s = load_trial_spec(sid)
        rows.append(
            {
                "study_id": sid,
                "design": s.design,
                "arms": [f"{a.name} (n={a.n}, {a.protocol})" for a in s.arms],
                "replicable_outcomes": s.n_replicable(),
            }
        )
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(
            f"{r['study_id']:<22} {r['design']:<10} replicable outcomes: "
            f"{r['replicable_outcomes']:>2}   arms: {'; '.join(r['arms'])}"
        )


@app.command("replicate")
def replicate_cmd(
    spec: str = typer.Argument(..., help="Study id of the evidence base, or a trial-spec YAML."),
    replicates: int = typer.Option(200, "--replicates", "-r", help="Simulated trials."),
    seed: int = typer.Option(0, "--seed", help="Seed (same seed, same bits)."),
    chunk_size: int = typer.Option(100, "--chunk-size", help="Replicates per chunk."),
    pool: int = typer.Option(None, "--pool", help="Virtual patients per arm and chunk."),
    out_dir: Path = typer.Option(None, "--out-dir", help="Parquet chunks (resumable)."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask address or 'local'."),
    workers: int = typer.Option(1, "--workers", help="Workers of a local Dask cluster."),
    uncalibrated: bool = typer.Option(False, "--uncalibrated", help="Use the priors."),
    plot: Path = typer.Option(None, "--plot", help="Write a figure (PNG/PDF)."),
    posterior: bool = typer.Option(
        False, "--posterior", help="Add posterior predictive intervals and calibration error."
    ),
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Run a published trial in silico; simulated arm statistics next to the published ones."""
    from rich.progress import Progress

    from phantomlab.cli._common import err_console
    from phantomlab.cohorts import default_cohort_spec
    from phantomlab.exceptions import InputError, Problem
    from phantomlab.trials.replicate import replicate
    from phantomlab.trials.specs import load_trial_spec

    if not 1 <= replicates <= 100_000:
        raise InputError(Problem("replicates", replicates, "1 to 100000", "", "out of range"))
    if seed < 0:
        raise InputError(Problem("seed", seed, ">= 0", "", "seeds are non-negative"))
    check_outputs(force, plot=plot)
    s = load_trial_spec(spec)
    base = Path(spec).parent if Path(spec).is_file() else None
    with Progress(console=err_console, transient=True) as bar:
        job = bar.add_task(f"replicating {s.study_id}", total=None)

        def _tick(done: int, total: int) -> None:
            bar.update(job, completed=done, total=total)

        res = replicate(
            s,
            replicates=replicates,
            seed=seed,
            cohort=default_cohort_spec() if uncalibrated else None,
            params={} if uncalibrated else None,
            pool=pool,
            chunk_size=chunk_size,
            out_dir=out_dir,
            scheduler=scheduler,
            n_workers=workers,
            base_dir=base,
            progress=_tick,
        )
    if plot is not None:
        write_figure(plot, res.plot(), force=force, dpi=120, bbox_inches="tight")
    pp = None
    if posterior:
        from phantomlab.trials.posterior import spec_predictive

        pp = spec_predictive(s)
    if as_json:
        out = res.to_dict()
        if pp is not None:
            out["posterior_predictive"] = pp.to_dict("records")
        emit_json(out)
    else:
        typer.echo(res.summary())
        if pp is not None:
            typer.echo("posterior predictive 95 % intervals (parameter draws x trials, in "
                       "silico), calibration error of the arm's parameter block:")  # fmt: skip
            typer.echo(pp.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


@app.command("calibration")
def calibration_cmd(
    file: Path = typer.Option(None, "--file", help="Calibration JSON (default: packaged)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Per published arm: published value and CI, simulated mean and interval, inside or not."""
    from phantomlab.trials.calibration import calibration_report, format_report

    rep = calibration_report(file)
    if as_json:
        emit_json(rep)
    else:
        typer.echo(format_report(rep))


def _fit_inputs(study: list[str] | None, out: Path | None, force: bool) -> tuple[Any, Path]:
    """Specs of ``--study`` (``None``: all packaged) and the checked output path of a fit."""
    from phantomlab.exceptions import InputError, Problem
    from phantomlab.trials.calibration import default_calibration_output
    from phantomlab.trials.specs import list_specs, load_trial_spec

    specs = None
    if study:
        bad = [s for s in study if s not in list_specs()]
        if bad:
            raise InputError(Problem("study", bad[0], "a packaged study id", "", "unknown study"))
        if out is None:
            raise InputError(
                Problem("out", None, "a file", "", "a fit to some studies must not go to the "
                        "default calibration file: give --out")
            )  # fmt: skip
        specs = [load_trial_spec(s) for s in dict.fromkeys(study)]
    target = out if out is not None else default_calibration_output()
    check_outputs(force, out=target)
    return specs, target


#: ``-o`` of the commands that write a calibration record (never into the package).
CALIBRATION_OUT: Any = typer.Option(
    None,
    "--out",
    "--output",
    "-o",
    help="Write the record here (default: calibration_v1.json in the user data folder, "
    "$PHANTOMLAB_DATA_DIR; the packaged calibration is never written).",
)


@app.command("calibrate")
def calibrate_cmd(
    seed: int = typer.Option(20261124, "--seed", help="Seed of pool, draws and optimizer."),
    pool: int = typer.Option(300, "--pool", help="Virtual patients in the common pool."),
    sweeps: int = typer.Option(2, "--sweeps", help="Block-coordinate sweeps."),
    maxiter: int = typer.Option(5, "--maxiter", help="Differential-evolution generations."),
    popsize: int = typer.Option(4, "--popsize", help="Differential-evolution population factor."),
    no_loso: bool = typer.Option(False, "--no-loso", help="Skip leave-one-study-out."),
    study: list[str] = typer.Option(
        None, "--study", help="Fit only these studies (repeatable; needs --out)."
    ),
    scheduler: str = typer.Option(
        None, "--scheduler", help="Dask scheduler address, or 'local' (default: in-process)."
    ),
    workers: int = typer.Option(1, "--workers", help="Workers of a local Dask cluster."),
    out: Path = CALIBRATION_OUT,
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Print the record's summary as JSON."),
) -> None:
    """Recalibrate: fit therapy and cohort parameters to all replicable published arms.

    One command, offline (about 15 min on 2 cores for the packaged specs): a progress bar
    counts the work units. With ``--scheduler`` the independent units (cohort-grid rows,
    leave-one-study-out refits, independent-pool check, fingerprint) run on Dask; the
    record is the serial one, bit for bit.
    """
    import time

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from phantomlab.cli._common import err_console
    from phantomlab.trials.calibration import (
        calibrate,
        write_calibration,
    )

    specs, target = _fit_inputs(study, out, force)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[unit]}"),
    )
    t0 = time.perf_counter()
    bar = Progress(*columns, console=err_console)
    job = bar.add_task("calibrating", total=None, unit="")

    def _tick(done: int, total: int, label: str) -> None:
        bar.start()  # idempotent: shown once calibrate has checked its arguments
        bar.update(job, completed=done, total=total, unit=label)

    try:
        rec = calibrate(
            seed=seed,
            pool=pool,
            sweeps=sweeps,
            maxiter=maxiter,
            popsize=popsize,
            loso=not no_loso,
            specs=specs,
            progress=_tick,
            scheduler=scheduler,
            n_workers=workers,
        )
    finally:
        bar.stop()
    seconds = time.perf_counter() - t0
    path = write_calibration(rec, target, overwrite=force)
    summary = {
        "path": str(path),
        "seconds": seconds,
        "scheduler": scheduler or "serial",
        **{k: rec.get(k) for k in (
            "version", "date", "seed", "pool", "sweeps", "de_budget", "n_targets",
            "discrepancy", "fraction_inside", "loso_fraction_inside",
            "fresh_pool_fraction_inside", "params", "cohort")},
    }  # fmt: skip
    if as_json:
        emit_json(summary)
    else:
        typer.echo(
            f"wrote {path} in {seconds:.0f} s: fraction inside {rec['fraction_inside']:.2f}, "
            f"leave-one-study-out {rec.get('loso_fraction_inside', float('nan')):.2f}, "
            f"independent pool {rec['fresh_pool_fraction_inside']:.2f}"
        )


@app.command("posterior")
def posterior_cmd(
    seed: int = typer.Option(20261124, "--seed", help="Seed of pool, draws and samplers."),
    budget: str = typer.Option(
        "standard", "--budget", help="Simulation budget: standard, full or tiny."
    ),
    study: list[str] = typer.Option(
        None, "--study", help="Fit only these studies (repeatable; needs --out)."
    ),
    out: Path = CALIBRATION_OUT,
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Print the record's summary as JSON."),
) -> None:
    """Recalibrate with uncertainty: parameter posterior by block-wise ABC-SMC (pyabc).

    Offline, single core, seeded (same seed, same posterior); a progress bar counts the
    blocks. The record keeps the posterior medians as point values and the sample.
    """
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from phantomlab.cli._common import err_console
    from phantomlab.trials.calibration import write_calibration
    from phantomlab.trials.posterior import fit_posterior

    specs, target = _fit_inputs(study, out, force)
    t0 = time.perf_counter()
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("{task.fields[unit]}"), console=err_console,
    )  # fmt: skip
    job = bar.add_task("posterior", total=None, unit="")

    def _tick(done: int, total: int, label: str) -> None:
        bar.start()
        bar.update(job, completed=done, total=total, unit=label)

    try:
        rec = fit_posterior(seed=seed, budget=budget, specs=specs, progress=_tick)
    finally:
        bar.stop()
    seconds = time.perf_counter() - t0
    path = write_calibration(rec, target, overwrite=force)
    summary = {
        "path": str(path), "seconds": seconds,
        **{k: rec.get(k) for k in ("version", "kind", "date", "seed", "pool", "budget",
                                   "n_targets", "params", "cohort")},
        "n_posterior": len(rec["posterior"]["samples"]),
    }  # fmt: skip
    if as_json:
        emit_json(summary)
    else:
        typer.echo(f"wrote {path} in {seconds:.0f} s: posterior of "
                   f"{summary['n_posterior']} parameter vectors")  # fmt: skip


@app.command("sensitivity")
def sensitivity_cmd(
    trial: list[str] = typer.Argument(..., help="Packaged study ids or trial-spec YAML files."),
    n: int = typer.Option(64, "--n", help="Saltelli base sample size (power of 2)."),
    ranges: str = typer.Option("posterior", "--ranges", help="posterior or prior."),
    seed: int = typer.Option(None, "--seed", help="Seed (default: the calibration's)."),
    pool: int = typer.Option(None, "--pool", help="Virtual patients (default: calibration's)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Sobol sensitivity: which calibrated parameters drive each arm prediction."""
    from rich.progress import Progress

    from phantomlab.cli._common import err_console
    from phantomlab.trials.sensitivity import sensitivity
    from phantomlab.trials.specs import load_trial_spec

    specs = [load_trial_spec(t) for t in trial]
    with Progress(console=err_console, transient=True) as bar:
        job = bar.add_task("Sobol sensitivity", total=None)

        def _tick(done: int, total: int, text: str) -> None:
            bar.update(job, completed=done, total=total, description=text)

        res = sensitivity(specs, n=n, seed=seed, pool=pool, ranges=ranges, progress=_tick)
    if as_json:
        emit_json({"in_silico": True, "settings": res.settings, "notes": res.notes,
                   "rows": res.rows})  # fmt: skip
    else:
        typer.echo(res.summary())


@app.command("cohort")
def cohort_cmd(
    n: int = typer.Option(500, "--n", help="Virtual patients."),
    seed: int = typer.Option(0, "--seed", help="Seed."),
    spec: Path = typer.Option(None, "--spec", help="Cohort spec YAML (default: calibrated)."),
    csv: Path = typer.Option(None, "--csv", help="Write one row per patient."),
    schema: bool = typer.Option(False, "--schema", help="Print the cohort-spec JSON Schema."),
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Sample a virtual PLP population and summarise it (with each distribution's source)."""
    from phantomlab.cohorts import (
        VirtualCohort,
        calibrated_cohort_spec,
        cohort_spec_schema,
        load_cohort_spec,
    )
    from phantomlab.exceptions import InputError, Problem

    if schema:
        typer.echo(json.dumps(cohort_spec_schema(), indent=2))
        return
    if not 1 <= n <= 200_000:
        raise InputError(Problem("n", n, "1 to 200000", "", "out of range"))
    check_outputs(force, csv=csv)
    cs = load_cohort_spec(spec) if spec is not None else calibrated_cohort_spec()
    pop = VirtualCohort(cs, n, seed).population
    if csv is not None:
        write_csv(csv, pop.to_frame(), force=force, field="--csv")
    if as_json:
        emit_json(
            {
                "spec": cs.model_dump(mode="json"),
                "digest": cs.digest(),
                "n": n,
                "enrolled": int(pop.enrolled.sum()),
                "baseline_nrs_enrolled": float(pop.baseline_nrs[pop.enrolled].mean())
                if pop.enrolled.any()
                else None,
                "provenance": cs.provenance_table(),
            }
        )
    else:
        typer.echo(pop.summary())
        for row in cs.provenance_table():
            typer.echo(f"  {row['field']:<24} {row['provenance'][:110]}")


@app.command("validate")
def validate_cmd(
    spec: list[Path] = typer.Option(None, "--spec", help="Predict your own trial-spec YAML."),
    budget: str = typer.Option(
        "standard", "--budget", help="Fold posterior budget: standard, full or tiny."
    ),
    pool: int = typer.Option(None, "--pool", help="Virtual patients (default: the budget's)."),
    seed: int = typer.Option(None, "--seed", help="Seed (default: the calibration's)."),
    group: list[str] = typer.Option(None, "--group", help="Hold out only these groups."),
    cache_dir: Path = typer.Option(
        None,
        "--cache-dir",
        help="Folder of fold posteriors reused across runs (default: validation_folds in "
        "the user data folder).",
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Refit every fold, store nothing."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Leave-one-patient-group-out prediction of arms and contrasts, against two baselines.

    Each fold fits its own posterior (block-wise ABC-SMC from priors, without the held-out
    group); ``--spec`` predicts your trials from the stored calibration before you look at
    their results.
    """
    from rich.progress import Progress

    from phantomlab.cli._common import err_console
    from phantomlab.exceptions import InputError, Problem
    from phantomlab.trials.specs import load_trial_spec
    from phantomlab.trials.validation import validate

    missing = [str(p) for p in spec or [] if not p.is_file()]
    if missing:
        raise InputError(
            Problem("spec", missing, "existing trial-spec YAML files", "", "not found")
        )
    specs = [load_trial_spec(str(p)) for p in spec] if spec else None
    if cache_dir is None and not no_cache:
        from phantomlab._io import user_data_dir

        cache_dir = user_data_dir() / "validation_folds"
    with Progress(console=err_console, transient=True) as bar:
        job = bar.add_task("leave-one-patient-group-out", total=None)

        def _tick(done: int, total: int, text: str) -> None:
            bar.update(job, completed=done, total=total, description=text)

        res = validate(
            budget=budget,
            pool=pool,
            seed=seed,
            groups=group or None,
            specs=specs,
            progress=_tick,
            cache_dir=None if no_cache else cache_dir,
        )
    if as_json:
        emit_json(res.to_dict())
    else:
        typer.echo(res.summary())
