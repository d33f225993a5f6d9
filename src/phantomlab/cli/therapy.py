"""``phantomlab therapy``: dose-response curves, reference courses and parameters of therapies."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from phantomlab.cli._common import (
    FORCE,
    check_outputs,
    emit_json,
    fail,
    write_figure,
)
from phantomlab.exceptions import Problem

if TYPE_CHECKING:
    from phantomlab.protocols import ProtocolBase

app = typer.Typer(
    help="Therapies acting on the virtual patient (in silico): curves, courses, parameters.",
    no_args_is_help=True,
)

_HYP = ("reorganization", "persistence")


def _modality(modality: str) -> str:
    from phantomlab.therapies import THERAPIES

    key = modality.strip().lower()
    if key not in THERAPIES:
        fail(Problem("MODALITY", modality, "one of: " + ", ".join(THERAPIES), "", "unknown"))
    return key


def _hypothesis(h: str) -> str:
    if h not in _HYP:
        fail(Problem("--hypothesis", h, " or ".join(_HYP), "", "unknown hypothesis"))
    return h


def _load(source: str) -> ProtocolBase:
    from phantomlab.protocols import get_reference, load_protocol

    path = Path(source)
    return load_protocol(path) if path.exists() else get_reference(source)


def _protocol(source: str | None) -> ProtocolBase | None:
    return None if source is None else _load(source)


@app.command("list")
def list_therapies(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the therapies: modality, reference protocol, default curve parameter."""
    from phantomlab.therapies import THERAPIES

    rows = []
    for key, cls in THERAPIES.items():
        ref = cls.reference or cls().reference_protocol().name
        rows.append(
            {
                "modality": key,
                "reference": ref,
                "curve_param": cls.curve_param,
                "unit": cls.curve_unit[0],
                "dose_params": list(cls.dose_keys),
                "n_params": len(cls.PARAMS),
            }
        )
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(
            f"{r['modality']:<12} ref={r['reference']!s:<42} curve={r['curve_param']} "
            f"[{r['unit']}]  params={r['n_params']}"
        )


@app.command("params")
def params(
    modality: str = typer.Argument(..., help="Modality key, e.g. scs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the free parameters of a therapy: value, prior range, provenance."""
    from phantomlab.therapies import THERAPIES, model_card

    key = _modality(modality)
    recs = THERAPIES[key].PARAMS
    if as_json:
        emit_json(
            [
                {
                    "name": k,
                    "value": r.value,
                    "unit": r.unit,
                    "prior": list(r.prior or ()),
                    "kind": r.kind,
                    "source": r.source,
                    "note": r.note,
                }  # fmt: skip
                for k, r in recs.items()
            ]
        )
        return
    typer.echo(model_card(key) if recs else f"{key}: no free parameters of its own")


@app.command("curve")
def curve(
    modality: str = typer.Argument(..., help="Protocol modality key (scs, drg, rtms, tdcs ...)."),
    param: str | None = typer.Option(
        None, "--param", help="Dose parameter (default per modality)."
    ),
    values: str | None = typer.Option(
        None, "--values", help="Comma-separated values in the parameter's display unit."
    ),
    protocol: str | None = typer.Option(
        None, "--protocol", help="Protocol file or reference name (default: the reference)."
    ),
    patients: int = typer.Option(100, "--patients", help="Virtual patients (1-5000)."),
    hypothesis: str = typer.Option("reorganization", "--hypothesis", help="Cortical hypothesis."),
    seed: int = typer.Option(0, "--seed", help="Seed of the therapy draws."),
    as_json: bool = typer.Option(False, "--json", help="Print the curve as JSON."),
    png: Path | None = typer.Option(None, "--png", help="Write a PNG figure to this path."),
    force: bool = FORCE,
    allow_unsafe: str | None = typer.Option(
        None,
        "--allow-unsafe",
        help="Simulate dose points that fail the safety check; REASON is logged and recorded.",
    ),
) -> None:
    """Dose-response curve of MODALITY over amplitude / frequency / sessions (in silico).

    Every dose point is checked as a protocol; a point that fails the safety check is
    refused (exit 2) unless --allow-unsafe gives a reason.
    """
    from phantomlab.therapies import dose_response, get_therapy
    from phantomlab.therapies.curves import display_unit

    key = _modality(modality)
    _hypothesis(hypothesis)
    if not 1 <= patients <= 5000:
        fail(Problem("--patients", patients, "1 to 5000", "", "out of range"))
    if png is not None and not png.parent.exists():
        fail(Problem("--png", str(png), "a path in an existing folder", "", "folder not found"))
    check_outputs(force, png=png)
    th = get_therapy(key)
    name = param or th.curve_param
    if name not in th.dose_keys:
        fail(
            Problem(
                "--param",
                name,
                "one of: " + ", ".join(th.dose_keys),
                "",
                f"not a dose parameter of {key}",
            )
        )
    grid = None
    if values is not None:
        unit, factor = th.curve_unit if name == th.curve_param else display_unit(name)
        try:
            grid = [float(v) / factor for v in values.split(",") if v.strip()]
            if not all(math.isfinite(v) for v in grid):
                raise ValueError("not finite")
        except ValueError:
            fail(
                Problem(
                    "--values", values, f"numbers in {unit}, comma-separated", "", "not numbers"
                )
            )
    from phantomlab.cli._common import err_console

    with err_console.status(f"simulating {key} dose-response ..."):
        res = dose_response(
            key, name, grid, protocol=_protocol(protocol), n_patients=patients,
            hypothesis=hypothesis, rng=seed, allow_unsafe=allow_unsafe,
        )  # fmt: skip
    if png is not None:
        fig = res.plot()  # a Figure outside pyplot: no backend, nothing to close
        fig.tight_layout()
        write_figure(png, fig, force=force, field="--png", dpi=110)
    if as_json:
        emit_json(res.to_dict() | ({"png": str(png)} if png else {}))
    else:
        typer.echo(res.summary())
        if png is not None:
            typer.echo(f"figure: {png}")


@app.command("course")
def course(
    protocol: str = typer.Argument(..., help="Protocol file or reference name."),
    days: int = typer.Option(60, "--days", help="Days simulated from the first day (1-3650)."),
    patients: int = typer.Option(200, "--patients", help="Virtual patients (1-5000)."),
    hypothesis: str = typer.Option("reorganization", "--hypothesis", help="Cortical hypothesis."),
    seed: int = typer.Option(0, "--seed", help="Seed of the therapy draws."),
    as_json: bool = typer.Option(False, "--json", help="Print the daily table as JSON."),
    allow_unsafe: str | None = typer.Option(
        None,
        "--allow-unsafe",
        help="Simulate a protocol that fails the safety check; REASON is logged and recorded.",
    ),
) -> None:
    """Simulate one course of PROTOCOL on a virtual cohort and summarise it (in silico).

    A protocol that violates a safety limit, or whose safety cannot be assessed, is
    refused (exit 2) unless --allow-unsafe gives a reason.
    """
    from phantomlab.therapies import simulate_course

    _hypothesis(hypothesis)
    if not 1 <= patients <= 5000:
        fail(Problem("--patients", patients, "1 to 5000", "", "out of range"))
    if not 1 <= days <= 3650:
        fail(Problem("--days", days, "1 to 3650", "", "out of range"))
    p = _load(protocol)
    from phantomlab.cli._common import err_console

    with err_console.status("simulating course ..."):
        res = simulate_course(
            p, n_patients=patients, days=days, hypothesis=hypothesis, rng=seed,
            allow_unsafe=allow_unsafe,
        )  # fmt: skip
    if as_json:
        emit_json(
            {
                "summary": res.summary(),
                "safety_note": res.safety_note,
                "daily": res.to_frame().to_dict(orient="records"),
            }
        )
    else:
        typer.echo(res.summary())
