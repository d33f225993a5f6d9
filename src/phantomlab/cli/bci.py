"""``phantomlab bci``: simulate EEG epochs, decode real or simulated epochs, run BCI training."""

from __future__ import annotations

from pathlib import Path

import typer

from phantomlab.cli._common import FORCE, check_outputs, emit_json

app = typer.Typer(
    help="BCI: simulate EEG of attempted movements, decode epochs, closed-loop training."
)


@app.command("decode")
def decode_cmd(
    path: Path = typer.Argument(
        ..., help="Epochs (-epo.fif) or raw .fif/.edf/.bdf with annotations."
    ),
    pipeline: str = typer.Option("csp-lda", "--pipeline", help="csp-lda or ts-lr."),
    classes: str = typer.Option(
        "", "--classes", help="Comma-separated event names (default: all)."
    ),
    tmin: float = typer.Option(0.5, "--tmin", help="Decoding window start, s."),
    tmax: float = typer.Option(2.5, "--tmax", help="Decoding window end, s."),
    fmin: float = typer.Option(8.0, "--fmin", help="Band-pass low edge, Hz."),
    fmax: float = typer.Option(30.0, "--fmax", help="Band-pass high edge, Hz."),
    folds: int = typer.Option(5, "--folds", help="Stratified k-fold splits."),
    seed: int = typer.Option(42, "--seed", help="Seed of the fold shuffling."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Cross-validate a decoder on epochs (MOABB within-session evaluation)."""
    from phantomlab.bci import decode, load_epochs

    epochs = load_epochs(path)
    cls = [c.strip() for c in classes.split(",") if c.strip()] or None
    res = decode(
        epochs, pipeline, classes=cls, tmin=tmin, tmax=tmax, fmin=fmin, fmax=fmax,
        n_folds=folds, rng=seed,
    )  # fmt: skip
    if as_json:
        emit_json({"file": str(path), **res.to_dict()})
    else:
        typer.echo(res.summary())


@app.command("simulate")
def simulate_cmd(
    output: Path = typer.Argument(..., help="Output epochs file (must end in -epo.fif)."),
    tasks: str = typer.Option("rest,phantom", "--tasks", help="Comma-separated tasks (classes)."),
    n_epochs: int = typer.Option(40, "--n-epochs", help="Epochs per task."),
    strength: float = typer.Option(
        1.0, "--strength", help="Hand representation strength (0 removes it)."
    ),
    subject: str = typer.Option("patient", "--subject", help="patient (amputee) or healthy."),
    hypothesis: str = typer.Option(
        "persistence", "--hypothesis", help="Cortical hypothesis of the patient."
    ),
    days: int = typer.Option(365, "--days", help="Days since amputation before recording."),
    channels: str = typer.Option("eeg32", "--channels", help="eeg32, eeg64 or meg102."),
    seed: int = typer.Option(1, "--seed", help="Seed."),
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Simulate EEG epochs of attempted movements from a virtual patient (in silico)."""
    from phantomlab._io import atomic_write
    from phantomlab._validation import check_in, raise_if
    from phantomlab.bci import healthy_activity, patient_activity, simulate_epochs
    from phantomlab.exceptions import InputError, Problem
    from phantomlab.mechanisms import Cohort

    raise_if(check_in("subject", subject, ("patient", "healthy")))
    if not output.name.endswith(("-epo.fif", "_epo.fif", "-epo.fif.gz")):
        raise InputError(
            [Problem("output", str(output), "a name ending in -epo.fif", "MNE", "bad name")]
        )
    check_outputs(force, output=output)
    if subject == "healthy":
        act = healthy_activity(strength)
    else:
        cohort = Cohort(1, hypothesis, rng=seed)
        cohort.run(days)
        act = patient_activity(cohort).scaled(strength)
    names = tuple(t.strip() for t in tasks.split(",") if t.strip())
    ep = simulate_epochs(act, names, n_epochs, channels=channels, rng=seed)
    atomic_write(
        output,
        lambda tmp: ep.save(tmp, overwrite=True, verbose="error"),
        overwrite=force,
        private=True,
        field="--output",
    )
    info = {
        "output": str(output),
        "tasks": list(names),
        "n_epochs": len(ep),
        "channels": len(ep.ch_names),
    }
    if as_json:
        emit_json(info)
    else:
        typer.echo(
            f"wrote {len(ep)} epochs ({', '.join(names)}) x {len(ep.ch_names)} channels to {output}"
        )


@app.command("train")
def train_cmd(
    decoder: str = typer.Option("intact", "--decoder", help="phantom, intact or random."),
    n: int = typer.Option(6, "--n", help="Number of virtual patients."),
    days: int = typer.Option(3, "--days", help="Training days."),
    follow_up: int = typer.Option(5, "--follow-up", help="Days after training."),
    hypothesis: str = typer.Option("persistence", "--hypothesis", help="Cortical hypothesis."),
    chronic: int = typer.Option(
        365, "--chronic-days", help="Days since amputation before training."
    ),
    pipeline: str = typer.Option("csp-lda", "--pipeline", help="csp-lda or ts-lr."),
    seed: int = typer.Option(1, "--seed", help="Seed."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Closed-loop BCI training of a virtual cohort: pain and decoding by day (in silico)."""
    from phantomlab.bci import BCICourse, run_course
    from phantomlab.mechanisms import Cohort

    course = BCICourse(
        decoder=decoder, training_days=days, follow_up_days=follow_up, pipeline=pipeline
    )
    course.validate()
    cohort = Cohort(n, hypothesis, rng=seed)
    cohort.run(chronic)
    from rich.progress import Progress

    with Progress(transient=True, disable=as_json) as bar:
        task = bar.add_task(f"{decoder} decoder training", total=days + 1)
        res = run_course(
            cohort, course, rng=seed, progress=lambda k, _t: bar.update(task, completed=k)
        )
    if as_json:
        emit_json(
            {
                "decoder": decoder,
                "n_patients": n,
                "pain_change_by_day": [res.pain_change(d) for d in range(1, res.pain.shape[0] + 1)],
                "phantom_accuracy_by_day": res.phantom_accuracy.mean(axis=1),
                "congruence_by_day": res.congruence.mean(axis=1),
                "training_signal_by_day": res.training_signal.mean(axis=1),
            }
        )
    else:
        typer.echo(res.summary())
