"""``phantomlab report``: write an HTML report (dose card, meta-analysis, trial, calibration)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from phantomlab.cli._common import FORCE, check_outputs, fail, read_table
from phantomlab.exceptions import InputError, Problem

app = typer.Typer(
    help="Self-contained HTML reports built from PhantomLab results.",
    no_args_is_help=True,
)

_OUT = typer.Option(..., "--out", "-o", help="HTML file to write (its folder must exist).")


def _check_out(out: Path, force: bool) -> None:
    if out.suffix.lower() not in {".html", ".htm"}:
        fail(Problem("--out", str(out), "a file name ending in .html", "", "not an HTML file"))
    if not out.resolve().parent.is_dir():
        fail(Problem("--out", str(out), "a file in an existing folder", "", "folder not found"))
    check_outputs(force, out=out)


def _write(report: Any, out: Path, force: bool) -> None:
    report.save(out, overwrite=force)
    typer.echo(f"wrote {out} ({report.title})")


@app.command("dose")
def dose_cmd(
    protocol: str = typer.Argument(..., help="Protocol file (YAML/JSON) or reference name."),
    out: Path = _OUT,
    force: bool = FORCE,
) -> None:
    """Dose card of PROTOCOL: dose metrics, safety check, reporting checklist."""
    from phantomlab.protocols import get_reference, load_protocol
    from phantomlab.report import dose_card

    _check_out(out, force)
    path = Path(protocol)
    p = load_protocol(path) if path.exists() else get_reference(protocol)
    _write(dose_card(p), out, force)


@app.command("meta")
def meta_cmd(
    data: Path = typer.Argument(
        None, help="CSV/TSV, one row per study (omit: the PLP evidence synthesis)."
    ),
    out: Path = _OUT,
    force: bool = FORCE,
    yi: str = typer.Option("yi", "--yi", help="Column of effect sizes (with DATA)."),
    vi: str = typer.Option("vi", "--vi", help="Column of sampling variances (with DATA)."),
    sei: str | None = typer.Option(None, "--sei", help="Column of standard errors (with DATA)."),
    slab: str | None = typer.Option(None, "--slab", help="Column of study labels (with DATA)."),
    method: str = typer.Option("REML", "--method", help="tau^2 estimator (REML, DL, PM, ...)."),
    test: str = typer.Option("z", "--test", help="z or knha."),
    level: float = typer.Option(95.0, "--level", help="Confidence level in percent."),
    by: str = typer.Option(
        "modality", "--by", help="Without DATA: group by modality, source_level or none."
    ),
) -> None:
    """Meta-analysis report: rma on DATA, or the synthesis of the shipped evidence base."""
    from phantomlab.report import meta_report

    _check_out(out, force)
    if data is None:
        from phantomlab.evidence.synthesis import synthesize

        res: Any = synthesize(by=by, method=method, test=test, level=level)
    else:
        from phantomlab.cli.meta import _fit

        res = _fit(data, yi, vi, sei, method, test, level, slab)
    _write(meta_report(res), out, force)


@app.command("trial")
def trial_cmd(
    data: Path = typer.Argument(..., help="Long-format trial data (CSV)."),
    design: Path = typer.Option(..., "--design", help="Trial design (YAML or JSON)."),
    out: Path = _OUT,
    force: bool = FORCE,
    allocated: Path = typer.Option(
        None, "--allocated", help="CSV of every randomized patient (patient, allocation)."
    ),
    in_silico: bool = typer.Option(
        True, "--in-silico/--real-data", help="Simulated data (default) or data of patients."
    ),
    calibration: bool = typer.Option(
        False, "--calibration", help="Show the stored calibration error of the virtual cohort."
    ),
) -> None:
    """Trial report: analyse DATA with DESIGN (change, ANCOVA, mixed, responders, CONSORT)."""
    from phantomlab.report import trial_report
    from phantomlab.trials import analyze, load_design

    _check_out(out, force)
    d = load_design(design)
    alloc = read_table(allocated) if allocated is not None else None
    res = analyze(read_table(data), d, allocated=alloc)
    rec = None
    if calibration:
        from phantomlab.trials.calibration import calibration_report

        rec = calibration_report()
    _write(trial_report(res, in_silico=in_silico, calibration=rec), out, force)


@app.command("calibration")
def calibration_cmd(
    out: Path = _OUT,
    force: bool = FORCE,
    file: Path = typer.Option(
        None, "--file", help="Calibration JSON (default: the packaged calibration)."
    ),
) -> None:
    """Calibration and validation report of the virtual cohort (in silico)."""
    from phantomlab.cli._common import err_console
    from phantomlab.report import calibration_report as report
    from phantomlab.trials.calibration import calibration_report

    _check_out(out, force)
    try:
        with err_console.status("checking the calibration against the current model ..."):
            rec = calibration_report(file)
    except json.JSONDecodeError as exc:
        raise InputError(
            Problem("--file", str(file), "a calibration JSON", "", f"not JSON: {exc.msg}")
        ) from None
    _write(report(rec), out, force)
