"""``phantomlab optimize``: persistent per-patient protocol optimization sessions.

Thin wrapper over :class:`phantomlab.optimize.OptimizationSession`. The
database is ``--db`` (SQLAlchemy URL or SQLite path), else the
``PHANTOMLAB_OPTIMIZE_DB`` environment variable, else
``~/.phantomlab/optimize.sqlite``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from phantomlab.cli._common import FORCE, check_outputs, emit_json, fail, write_figure
from phantomlab.exceptions import Problem

app = typer.Typer(
    help="Individualized protocol optimization from pain reports (safe Bayesian optimization).",
    no_args_is_help=True,
)

_DB = typer.Option(
    None,
    "--db",
    help="Database: SQLAlchemy URL or SQLite path "
    "(default: $PHANTOMLAB_OPTIMIZE_DB or ~/.phantomlab/optimize.sqlite).",
)


def _pairs(items: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            fail(Problem(option, item, "NAME=VALUE, e.g. amplitude='1.9 mA'", "", "bad option"))
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _fmt(params: dict[str, Any], space: Any) -> str:
    return ", ".join(f"{k} {v}" for k, v in space.show(params).items())


@app.command("new")
def new(
    patient: str = typer.Argument(..., help="Patient identifier."),
    modality: str = typer.Option(
        ..., "--modality", "-m", help="Protocol modality (scs, drg, tdcs)."
    ),
    baseline_nrs: float | None = typer.Option(
        None, "--baseline-nrs", help="Pain NRS 0-10 without stimulation."
    ),
    side_effect_limit: float = typer.Option(
        3.0, "--side-effect-limit", help="Tolerated side-effect rating 0-10 (safe exploration)."
    ),
    acquisition: str = typer.Option("ucb", help="Acquisition: ucb or ei."),
    kappa: float = typer.Option(3.0, help="UCB exploration weight (3-4 in published work)."),
    objective: str = typer.Option("nrs_change", help="nrs_change or responder."),
    start: list[str] = typer.Option(
        [],
        "--start",
        help="Safe starting protocol, NAME=VALUE (repeatable), e.g. amplitude='1.9 mA'.",
    ),
    old_seed: list[str] = typer.Option([], "--seed", hidden=True),
    bound: list[str] = typer.Option(
        [],
        "--bound",
        help="Narrow a bound, NAME=LOW:HIGH, e.g. amplitude='1 mA:5 mA' (repeatable).",
    ),
    rng: int = typer.Option(0, "--rng", help="Random seed of the optimizer."),
    threshold: list[str] = typer.Option(
        [],
        "--threshold",
        help="Measured perception threshold per bipole, BIPOLE=VALUE (repeatable), e.g. "
        "E3-E4='1.2 mA', or *='1.2 mA' for one value; turns on the discomfort prior.",
    ),
    policy: str = typer.Option(
        "scs", "--policy", help="Registered search policy (scs, safe-gp, or a plug-in's name)."
    ),
    device: str = typer.Option(
        "auto",
        "--device",
        help="Device profile whose programmable grid suggestions are on (scs-generic, "
        "axium-drg, a YAML file, or none); auto: the modality's default.",
    ),
    db: str | None = _DB,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create PATIENT's optimization session for a modality."""
    from phantomlab.optimize import OptimizationSession

    if old_seed:
        fail(
            Problem(
                "--seed",
                old_seed[0],
                "--start NAME=VALUE for the starting protocol; --rng N for the random seed",
                "",
                "'--seed' was renamed: it set the starting protocol here but is a random "
                "seed everywhere else",
            )
        )
    bounds: dict[str, tuple[str, str]] = {}
    for k, v in _pairs(bound, "--bound").items():
        if ":" not in v:
            fail(Problem("--bound", v, "LOW:HIGH", "", "bad bound"))
        lo, hi = v.split(":", 1)
        bounds[k] = (lo.strip(), hi.strip())
    s = OptimizationSession.new(
        patient,
        modality,
        db=db,
        baseline_nrs=baseline_nrs,
        side_effect_limit=side_effect_limit,
        acquisition=acquisition,
        kappa=kappa,
        objective=objective,
        safe_seed=_pairs(start, "--start"),
        bounds=bounds,
        seed=rng,
        perception_threshold=_pairs(threshold, "--threshold"),
        policy=policy,
        device=device,
    )
    if json_out:
        emit_json(
            {
                "patient": s.patient,
                "modality": s.config.modality,
                "db": s.store.url,
                "config": s.config.to_dict(),
                "space": s.space.describe(),
            }
        )
        return
    typer.echo(f"created session for patient {s.patient} ({s.config.modality}) in {s.store.url}")
    typer.echo(f"device grid: {s.config.device_name() or 'none'}")
    typer.echo(f"starting protocol: {_fmt(dict(s.space.safe_seed), s.space)}")


@app.command("suggest")
def suggest(
    patient: str = typer.Argument(..., help="Patient identifier."),
    db: str | None = _DB,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Propose the protocol for PATIENT's next session (repeats a pending one)."""
    from phantomlab.optimize import OptimizationSession

    s = OptimizationSession.open(patient, db)
    rec, created = s.suggest()
    if json_out:
        emit_json(
            {
                "patient": s.patient,
                "seq": rec.seq,
                "token": rec.token,
                "new": created,
                "created_at": rec.created_at,
                "params": rec.params,
                "settings": s.space.clinical(rec.params),
                "info": rec.info,
            }
        )
        return
    state = "new" if created else "still pending (not yet recorded)"
    typer.echo(f"suggestion #{rec.seq} for patient {s.patient} [{state}], token {rec.token}")
    for k, v in s.space.show(rec.params).items():
        typer.echo(f"  {k}: {v}")
    fixed = {k: v for k, v in rec.info.get("protocol", {}).items() if k not in rec.params}
    typer.echo("  fixed: " + ", ".join(f"{k} {v}" for k, v in fixed.items()))
    typer.echo(f"  reason: {rec.info.get('reason', '')}")
    typer.echo(
        f"then: phantomlab optimize record {s.patient} --suggestion {rec.token} "
        "--nrs N --side-effect S [--delivered NAME=VALUE if settings differed]"
    )


@app.command("record")
def record(
    patient: str = typer.Argument(..., help="Patient identifier."),
    suggestion: str = typer.Option(
        ...,
        "--suggestion",
        "-s",
        help="Token of the suggestion answered, printed by 'optimize suggest' (e.g. 3-1a2b3c4d).",
    ),
    nrs: float = typer.Option(..., "--nrs", help="Pain NRS 0-10 with the suggested protocol."),
    side_effect: float | None = typer.Option(
        None, "--side-effect", help="Side-effect rating 0-10."
    ),
    note: str = typer.Option("", "--note", help="Free text kept with the report."),
    delivered: list[str] = typer.Option(
        [],
        "--delivered",
        help="A setting actually delivered where it differed from the suggestion, "
        "NAME=VALUE (repeatable), e.g. amplitude='1.5 mA'; checked against the device grid "
        "and the safety rules.",
    ),
    db: str | None = _DB,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Record PATIENT's report for the suggestion named by --suggestion (once).

    Running the same command again (a retry after a crash or a lost reply) is
    recognised and not applied twice; a different report for a suggestion that is
    already recorded (a stale terminal) is refused with exit code 2.
    """
    from phantomlab.optimize import OptimizationSession

    s = OptimizationSession.open(patient, db)
    rec, applied = s.record(
        nrs, side_effect, note, suggestion=suggestion, delivered=_pairs(delivered, "--delivered")
    )
    obs = rec.observation
    if json_out:
        emit_json(
            {
                "patient": s.patient,
                "seq": rec.seq,
                "token": rec.token,
                "applied": applied,
                "params": rec.params,
                "delivered": rec.tested,
                "settings": s.space.clinical(rec.tested),
                "nrs": obs.nrs if obs else None,
                "side_effect": obs.side_effect if obs else None,
                "recorded_at": obs.created_at if obs else None,
            }
        )
        return
    if not applied:
        typer.echo(
            f"suggestion #{rec.seq} for patient {s.patient} already holds this report "
            f"(recorded at {obs.created_at if obs else '?'}): retry recognised, not applied again"
        )
        return
    typer.echo(
        f"recorded suggestion #{rec.seq} for patient {s.patient}: NRS {nrs:g}"
        + ("" if side_effect is None else f", side effect {side_effect:g}")
        + f"; delivered {_fmt(rec.tested, s.space)}"
    )


@app.command("correct")
def correct(
    patient: str = typer.Argument(..., help="Patient identifier."),
    suggestion: str = typer.Option(
        ..., "--suggestion", "-s", help="Token of the reported suggestion (e.g. 3-1a2b3c4d)."
    ),
    reason: str = typer.Option(..., "--reason", help="Why the report is corrected."),
    nrs: float | None = typer.Option(None, "--nrs", help="Corrected pain NRS 0-10."),
    side_effect: float | None = typer.Option(
        None, "--side-effect", help="Corrected side-effect rating 0-10."
    ),
    note: str | None = typer.Option(None, "--note", help="Corrected note."),
    delivered: list[str] = typer.Option(
        [], "--delivered", help="Corrected delivered setting, NAME=VALUE (repeatable)."
    ),
    db: str | None = _DB,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Correct PATIENT's report of a suggestion: a new record, the earlier one is kept.

    Fields not given keep their value; the model uses the latest correction. Running
    the same correction again is recognised and not stored twice.
    """
    from phantomlab.optimize import OptimizationSession

    s = OptimizationSession.open(patient, db)
    rec, applied = s.correct(
        suggestion,
        reason=reason,
        nrs=nrs,
        side_effect=side_effect,
        note=note,
        delivered=_pairs(delivered, "--delivered") or None,
    )
    obs = rec.observation
    cur = obs.current if obs is not None else None
    if json_out:
        emit_json(
            {
                "patient": s.patient,
                "seq": rec.seq,
                "token": rec.token,
                "applied": applied,
                "corrections": len(obs.corrections) if obs else 0,
                "nrs": cur.nrs if cur else None,
                "side_effect": cur.side_effect if cur else None,
                "delivered": rec.tested,
                "settings": s.space.clinical(rec.tested),
            }
        )
        return
    what = "corrected" if applied else "already holds this correction (retry not applied again):"
    typer.echo(
        f"suggestion #{rec.seq} for patient {s.patient} {what} NRS {cur.nrs if cur else '?'}"
        + ("" if cur is None or cur.side_effect is None else f", side effect {cur.side_effect:g}")
        + f"; delivered {_fmt(rec.tested, s.space)}"
    )


@app.command("status")
def status(
    patient: str = typer.Argument(..., help="Patient identifier."),
    db: str | None = _DB,
    png: Path | None = typer.Option(
        None, "--plot", "--png", help="Write the history plot here (PNG or SVG by suffix)."
    ),
    force: bool = FORCE,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show PATIENT's history, pending suggestion and current recommendation."""
    from phantomlab.optimize import OptimizationSession

    check_outputs(force, png=png)
    st = OptimizationSession.open(patient, db).status()
    s_space = st.space if st.space is not None else OptimizationSession.open(patient, db).space
    if png is not None:
        write_figure(png, st.plot(), force=force, field="--png", dpi=120)
    if json_out:
        emit_json(
            {
                "patient": st.patient,
                "modality": st.modality,
                "config": st.config.to_dict(),
                "history": st.to_frame().to_dict(orient="records"),
                "pending": None if st.pending is None else st.pending.params,
                "pending_settings": None
                if st.pending is None
                else s_space.clinical(st.pending.params),
                "recommendation": None
                if st.recommendation is None
                else st.recommendation.to_dict(),
                "recommendation_settings": None
                if st.recommendation is None
                else s_space.clinical(st.recommendation.params),
                "plot": None if png is None else str(png),
            }
        )
        return
    typer.echo(st.summary())
    if png is not None:
        typer.echo(f"history plot written to {png}")


@app.command("rank")
def rank(
    features: Path | None = typer.Option(
        None,
        "--features",
        help="YAML/JSON file of patient features: age, level (upper/lower), "
        "years_since_amputation, baseline_nrs, catastrophizing, anxiety, depression (z).",
    ),
    feature: list[str] = typer.Option(
        [], "--set", help="Feature NAME=VALUE (repeatable; overrides the file), e.g. age=52."
    ),
    modalities: str | None = typer.Option(
        None, "--modalities", help="Comma-separated modality keys (default: all with a reference)."
    ),
    n_pool: int = typer.Option(1000, "--pool", help="Virtual cohort size."),
    n_similar: int = typer.Option(100, "--similar", help="Most similar virtual patients kept."),
    n_boot: int = typer.Option(2000, "--boot", help="Bootstrap resamples."),
    rng: int = typer.Option(0, "--rng", help="Random seed."),
    draws: int = typer.Option(10, "--draws", help="Posterior parameter draws (~20 s CPU each)."),
    calibration: Path | None = typer.Option(
        None, "--calibration", help="Calibration JSON (default: the packaged one)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Rank modalities for a new patient on similar calibrated virtual patients (in silico).

    Each predicted relief has its interval over posterior parameter draws x a bootstrap of
    the similar patients, and the calibration error of the modality's parameter blocks.
    """
    from rich.progress import Progress

    from phantomlab.cli._common import err_console
    from phantomlab.cohorts import load_calibration
    from phantomlab.optimize.select import rank_modalities

    feats: dict[str, Any] = {}
    if features is not None:
        from phantomlab._yaml import load_file

        data: Any = load_file(features, field="--features")
        if not isinstance(data, dict):
            fail(Problem("--features", str(features), "a mapping of features", "", "not a mapping"))
        feats.update(data)
    feats.update(_pairs(feature, "--set"))
    if not feats:
        fail(Problem("features", "", "--features FILE or --set NAME=VALUE", "", "none given"))
    mods = None if modalities is None else [m for m in modalities.split(",") if m.strip()]
    record = load_calibration(calibration) if calibration is not None else None
    with Progress(console=err_console, transient=True) as bar:
        job = bar.add_task("ranking (posterior parameter draws)", total=None)

        def _tick(done: int, total: int) -> None:
            bar.update(job, completed=done, total=total)

        res = rank_modalities(feats, mods, n_pool=n_pool, n_similar=n_similar, n_boot=n_boot,
                              rng=rng, record=record, n_draws=draws, progress=_tick)  # fmt: skip
    if json_out:
        emit_json(res.to_dict())
        return
    typer.echo(res.summary())
