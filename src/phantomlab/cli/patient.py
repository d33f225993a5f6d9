"""``phantomlab patient``: simulate virtual PLP cohorts and print the model card."""

from __future__ import annotations

from pathlib import Path

import typer

from phantomlab._optional import require
from phantomlab.cli._common import FORCE, check_outputs, emit_json, write_csv

app = typer.Typer(help="Virtual PLP patients: simulate cohorts, show the model card.")


@app.command("simulate")
def simulate(
    n: int = typer.Option(100, "--n", help="Number of patients."),
    days: int = typer.Option(365, "--days", help="Days since amputation to simulate."),
    seed: int = typer.Option(1, "--seed", help="Seed (same seed, same trajectories)."),
    hypothesis: str = typer.Option(
        "reorganization", "--hypothesis", help="reorganization or persistence."
    ),
    workers: int = typer.Option(1, "--workers", help="Worker threads."),
    output: Path = typer.Option(None, "--output", "-o", help="Write daily rows (CSV/Parquet)."),
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Simulate a cohort from amputation and summarise the last 28 days (in silico)."""
    from phantomlab._validation import raise_if
    from phantomlab.mechanisms.patient import check_trajectory_memory

    if 1 <= n <= 1_000_000 and 1 <= days <= 36_500:  # else the cohort names the bad one
        raise_if(check_trajectory_memory(n, days))  # before building the cohort

    import numpy as np

    from phantomlab._io import atomic_write
    from phantomlab.mechanisms import Cohort

    check_outputs(force, output=output)

    cohort = Cohort(n, hypothesis, rng=seed, n_workers=workers)
    tr = cohort.run(days)
    if output is not None:
        df = tr.to_frame()
        if output.suffix == ".parquet":
            require("pyarrow", extra="scale", feature="phantomlab patient simulate -o *.parquet")
            atomic_write(
                output,
                lambda tmp: df.to_parquet(tmp, index=False),
                overwrite=force,
                private=True,
                field="--output",
            )
        else:
            write_csv(output, df, force=force, field="--output")
    if as_json:
        m = tr.mean_nrs(min(28, tr.n_days))
        emit_json(
            {
                "hypothesis": hypothesis,
                "n_patients": n,
                "days": days,
                "seed": seed,
                "mean_nrs": float(m.mean()),
                "plp_fraction": float(np.mean(m >= 1.0)),
                "lip_shift_mm_mean": float(tr.lip_shift_mm[-1].mean()),
                "mean_nrs_per_patient": m,
                "output": str(output) if output is not None else None,
            }
        )
    else:
        typer.echo(tr.summary())


@app.command("model-card")
def model_card() -> None:
    """Print the model card (every parameter, value, unit, source) as Markdown."""
    from phantomlab.mechanisms.model_card import render

    typer.echo(render(), nl=False)
