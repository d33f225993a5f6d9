"""``phantomlab trial import`` and ``trial report``: trial tables in, the analysis report out.

Their ``app`` is merged into the ``trial`` app of :mod:`phantomlab.cli.trial`. Thin: the
science lives in :mod:`phantomlab.trials.dataio`, :mod:`phantomlab.trials.sar` and
:mod:`phantomlab.report.sar`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from phantomlab.cli._common import FORCE, check_outputs, emit_json, write_csv
from phantomlab.exceptions import InputError, Problem

__all__ = ["MAP", "app", "read_mapped"]

app = typer.Typer()

#: The ``--map`` option: a mapping file (YAML/JSON) and/or ``target=column`` flags.
MAP = typer.Option(
    None,
    "--map",
    help="Column mapping: a YAML/JSON file, or target=column (repeatable; e.g. "
    "patient=record_id, arm=rand_group, format=wide, pattern=pain_w{week}).",
)


def _read_text_table(path: Path) -> Any:
    import pandas as pd

    if not path.exists():
        raise InputError(Problem("file", str(path), "an existing file", "", "file not found"))
    sep = "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","
    try:  # as text: codes and identifiers keep their leading zeros
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises many parser error types
        raise InputError(
            Problem("file", str(path), "a readable CSV table", "", f"cannot read: {exc}")
        ) from None


def read_mapped(data: Path, design: Any, mapping: list[str] | None) -> Any:
    """Read a trial table through ``--map`` into :class:`~phantomlab.trials.dataio.TrialData`.

    Parameters
    ----------
    data : Path
        CSV/TSV file (long, wide or REDCap export).
    design : TrialDesign
        The loaded design.
    mapping : list of str or None
        The ``--map`` values.

    Returns
    -------
    TrialData
        The long data, allocation list and flagged visits.
    """
    from phantomlab.trials.dataio import parse_map_flags, read_trial_data

    m = parse_map_flags(mapping or [])
    return read_trial_data(_read_text_table(data), design, m)


@app.command("import")
def import_cmd(
    data: Path = typer.Argument(..., help="Trial table: long, wide or a REDCap export (CSV/TSV)."),
    design: Path = typer.Option(..., "--design", help="Trial design (YAML or JSON)."),
    mapping: list[str] = MAP,
    output: Path = typer.Option(..., "--output", "-o", help="Long-format CSV to write."),
    allocated_out: Path = typer.Option(
        None, "--allocated-out", help="Also write the allocation list (patient, allocation)."
    ),
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Convert a trial table into the long format of `trial analyze`, checking every row."""
    from phantomlab.trials import load_design

    check_outputs(force, output=output, allocated_out=allocated_out)
    td = read_mapped(data, load_design(design), mapping)
    write_csv(output, td.data, force=force, field="--output", private=False)
    if allocated_out is not None:
        write_csv(allocated_out, td.allocated, force=force, field="--allocated-out", private=False)
    if as_json:
        emit_json(
            {
                "format": td.source_format,
                "patients": len(td.allocated),
                "rows": len(td.data),
                "out_of_window": td.out_of_window.to_dict("records"),
                "notes": list(td.notes),
            }
        )
    else:
        typer.echo(td.summary())
        typer.echo(f"Wrote {output}")


@app.command("report")
def report_cmd(
    data: Path = typer.Argument(..., help="Trial table: long, wide or a REDCap export (CSV/TSV)."),
    design: Path = typer.Option(..., "--design", help="Trial design (YAML or JSON), parallel."),
    mapping: list[str] = MAP,
    out: Path = typer.Option(..., "--out", "-o", help="HTML file to write."),
    allocated: Path = typer.Option(
        None, "--allocated", help="CSV of every randomized patient (patient, allocation)."
    ),
    consort: Path = typer.Option(
        None, "--consort", help="Disposition table (CSV) or CONSORT counts (YAML) for the flow."
    ),
    synthetic: bool = typer.Option(
        False, "--synthetic", help="The data are simulated: say so in a banner."
    ),
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Print the estimates as JSON."),
) -> None:
    """Statistical analysis report (HTML): design, populations, CONSORT, baseline, analyses."""
    from phantomlab.cli._common import read_table
    from phantomlab.report.sar import sar_report
    from phantomlab.trials import load_design
    from phantomlab.trials.consort import load_consort
    from phantomlab.trials.sar import statistical_analysis

    if out.suffix.lower() not in {".html", ".htm"}:
        raise InputError(Problem("--out", str(out), "a file ending in .html", "", "not HTML"))
    check_outputs(force, out=out)
    d = load_design(design)
    td = read_mapped(data, d, mapping)
    alloc = read_table(allocated) if allocated is not None else None
    flow = load_consort(consort) if consort is not None else None
    analysis = statistical_analysis(td, d, allocated=alloc, flow=flow)
    banner = (
        "Synthetic data: these estimates are simulated, not a clinical result." if synthetic else ""
    )
    sar_report(analysis, banner=banner).save(out, overwrite=force)
    if as_json:
        emit_json(
            {
                "populations": analysis.populations.reset_index(names="arm").to_dict("records"),
                "estimates": analysis.sensitivity.to_dict("records"),
                "out": str(out),
            }
        )
    else:
        typer.echo(analysis.summary())
        typer.echo(f"Wrote {out}")
