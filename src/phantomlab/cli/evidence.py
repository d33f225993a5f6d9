"""``phantomlab evidence``: the living evidence base of PLP studies and its synthesis.

Thin layer over :mod:`phantomlab.evidence.records` and
:mod:`phantomlab.evidence.synthesis`; the only thing done here is resolving each
arm's protocol link against the reference protocol library, when it exists.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

import typer

from phantomlab.cli._common import FORCE, check_outputs, emit_json

app = typer.Typer(
    help="Living evidence base of PLP studies (list, show) and the PLP synthesis (pool).",
    no_args_is_help=True,
)

_MARKS = {
    "secondary_source": "S",
    "no_sd": "N",
    "crossover": "X",
    "post_amputation_pain": "P",
    "timepoint_not_shown": "T",
    "conflicting": "C",
    "unconfirmed": "U",
}


#: Where the reference protocol library may live, first match wins.
_LIBRARY_MODULES = (
    "phantomlab.protocols.reference",
    "phantomlab.protocols.library",
    "phantomlab.protocols",
)


def _protocol_library() -> tuple[set[str] | None, str]:
    """Return the names in the reference protocol library, or None and why not."""
    fn = None
    for modname in _LIBRARY_MODULES:
        try:
            fn = getattr(import_module(modname), "list_reference", None)
        except ImportError:
            continue
        if fn is not None:
            break
    if fn is None:
        return None, "reference protocol library not available"
    try:
        items = fn()
    except Exception as exc:  # a broken library must not break the evidence commands
        return None, f"reference protocol library failed: {type(exc).__name__}: {exc}"
    names: set[str] = set()
    for it in items.keys() if isinstance(items, dict) else items:
        names.add(it if isinstance(it, str) else str(getattr(it, "name", it)))
    return names, ""


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")


def _in_library(name: str, library: set[str]) -> bool:
    """Whether the library holds ``name`` (exactly, or in its lower-case slug spelling)."""
    return name in library or _slug(name) in {_slug(n) for n in library}


def _link(name: str | None, library: set[str] | None) -> dict[str, Any]:
    """Describe one protocol link: its name and whether the library holds it."""
    if name is None:
        return {"protocol": None, "in_library": None}
    return {
        "protocol": name,
        "in_library": None if library is None else _in_library(name, library),
    }


def _record_json(rec: Any, library: set[str] | None) -> dict[str, Any]:
    d = rec.model_dump(mode="json")
    d["line"] = rec.line
    d["arm_role"] = rec.arm_role
    d["caveats"] = [{"code": c.code, "text": c.text} for c in rec.caveats()]
    d.update(_link(rec.protocol_name, library))
    return d


@app.command("list")
def list_cmd(
    modality: str = typer.Option(None, "--modality", "-m", help="Only this modality (e.g. rTMS)."),
    stat: str = typer.Option(None, "--stat", help="Only rows of this statistic (e.g. responders)."),
    source: str = typer.Option(None, "--source", help="Only primary or secondary sources."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the rows of the evidence base (one per arm, outcome and time point)."""
    from phantomlab.evidence.records import load_studies

    table = load_studies().filter(modality=modality, stat=stat, source_level=source)
    if as_json:
        library, _ = _protocol_library()
        emit_json([_record_json(r, library) for r in table])
        return
    typer.echo(f"PLP evidence base: {len(table)} rows, {len(table.study_ids())} studies")
    typer.echo(
        f"{'line':>4}  {'study':<19} {'modality':<12} {'arm':<14} {'n':>4}  "
        f"{'outcome @ time':<44} {'value':<22} src cav"
    )
    for r in table:
        marks = "".join(dict.fromkeys(_MARKS[c.code] for c in r.caveats() if c.code in _MARKS))
        what = f"{r.outcome} @ {r.timepoint}"
        what = what if len(what) <= 44 else what[:43] + "~"
        typer.echo(
            f"{r.line!s:>4}  {r.study_id:<19} {r.modality[:12]:<12} {r.arm[:14]:<14} "
            f"{'' if r.n is None else r.n:>4}  {what:<44} {r.describe_value()[:22]:<22} "
            f"{'sec' if r.source_level == 'secondary' else 'pri'} {marks}"
        )
    typer.echo(
        "cav: S secondary source, N no SD, X crossover, P post-amputation (residual + phantom) "
        "pain, T time point not shown, C conflicting report, U detail not confirmed.\n"
        "Details of a study: phantomlab evidence show STUDY_ID"
    )


@app.command("show")
def show_cmd(
    study_id: str = typer.Argument(..., help="Study identifier, e.g. malavera2016."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show one study: citation, every row, caveats and the protocols its arms link to."""
    from phantomlab.evidence.records import load_studies

    study = load_studies().study(study_id)
    library, why = _protocol_library()
    if as_json:
        emit_json(
            {
                "study_id": study.study_id,
                "citation": study.citation(),
                "modalities": study.modalities,
                "rows": [_record_json(r, library) for r in study.records],
                "caveats": [{"code": c.code, "text": c.text} for c in study.caveats()],
                "protocols": [_link(n, library) for n in study.protocol_names],
                "protocol_library": why or "available",
            }
        )
        return
    typer.echo(study.summary())
    if study.protocol_names:
        typer.echo("  protocol links:")
        for name in study.protocol_names:
            if library is None:
                state = f"not checked ({why})"
            else:
                state = (
                    "in the reference library"
                    if _in_library(name, library)
                    else "not in the library"
                )
            typer.echo(f"    {name}: {state}")


def _ri_sweeps(res: Any, text: str) -> dict[str, Any]:
    from phantomlab.evidence.crossover import crossover_ri_sweep
    from phantomlab.exceptions import InputError, Problem

    try:
        grid = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(
            Problem("--ri-sweep", text, "numbers in [-1, 1], comma-separated", "", "not numbers")
        ) from None
    return crossover_ri_sweep(res, grid, outcome="pain")


@app.command("pool")
def pool_cmd(
    by: str = typer.Option("modality", "--by", help="Group by: modality, source_level or none."),
    outcome: str = typer.Option(
        "all",
        "--outcome",
        help="Analyses, comma-separated: pain, responders, single-arm, pct-change, or all.",
    ),
    pain_measure: str = typer.Option("SMD", "--pain-measure", help="SMD or MD for 'pain'."),
    responder_measure: str = typer.Option(
        "RR", "--responder-measure", help="RR, OR or RD for 'responders'."
    ),
    method: str = typer.Option("REML", "--method", help="tau^2 estimator (REML, DL, PM, ...)."),
    test: str = typer.Option("z", "--test", help="z or knha."),
    level: float = typer.Option(95.0, "--level", help="Confidence level in percent."),
    exclude: str = typer.Option("", "--exclude", help="Study ids to leave out, comma-separated."),
    plot: Path = typer.Option(
        Path("evidence_forest.png"), "--plot", help="Forest plot file (PNG, PDF, SVG)."
    ),
    no_plot: bool = typer.Option(False, "--no-plot", help="Do not write the forest plot."),
    data: Path = typer.Option(
        None, "--data", help="Your own long-format extraction sheet (CSV) instead of the base."
    ),
    revman: Path = typer.Option(None, "--revman", help="Also write RevMan 5 analysis CSV."),
    ri_sweep: str = typer.Option(
        None,
        "--ri-sweep",
        help="With --pain-measure MD: refit with crossover trials analysed as paired, for "
        "each assumed within-patient correlation, e.g. 0,0.2,0.5,0.8.",
    ),
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Pool comparable arms by modality, write a forest plot, print every caveat."""
    from phantomlab.evidence.exchange import read_extraction, write_revman
    from phantomlab.evidence.synthesis import OUTCOMES, synthesize

    check_outputs(force, plot=None if no_plot else plot, revman=revman)
    table = read_extraction(data) if data is not None else None

    names = [s.strip() for s in outcome.split(",") if s.strip()]
    if names == ["all"]:
        names = list(OUTCOMES)
    res = synthesize(
        table,
        by=by,
        outcomes=names,
        measures={"pain": pain_measure, "responders": responder_measure},
        method=method,
        test=test,
        level=level,
        exclude=[s for s in exclude.split(",") if s.strip()],
    )
    if revman is not None:
        write_revman(res, revman)
    sweeps = _ri_sweeps(res, ri_sweep) if ri_sweep is not None else {}
    written = None
    if not no_plot:
        res.forest(path=plot)
        written = str(plot)
    if as_json:
        extra = {"ri_sweep": {g: s.to_dict() for g, s in sweeps.items()}} if sweeps else {}
        emit_json({**res.to_dict(), "plot": written, **extra})
        return
    typer.echo(res.summary())
    for g, s in sweeps.items():
        typer.echo(f"\n{g}: crossover trials analysed as paired" + s.summary())
    if written:
        typer.echo(f"\nForest plot written to {written}")


@app.command("export")
def export_cmd(
    out: Path = typer.Argument(..., help="CSV to write: the long-format extraction sheet."),
    data: Path = typer.Option(None, "--data", help="Sheet to re-export (default: the base)."),
    force: bool = FORCE,
) -> None:
    """Write the evidence base (or a sheet) as a long-format extraction sheet."""
    from phantomlab.evidence.exchange import read_extraction, write_extraction
    from phantomlab.evidence.records import load_studies

    check_outputs(force, out=out)
    table = read_extraction(data) if data is not None else load_studies()
    write_extraction(table, out)
    typer.echo(f"wrote {out} ({len(table)} rows, {len(table.study_ids())} studies)")


@app.command("forest")
def forest_cmd(
    outcome: str = typer.Argument("pain", help="Two-arm analysis: pain or responders."),
    plot: Path = typer.Option(
        Path("evidence_forest_journal.png"), "--plot", help="Output file (PNG, PDF or SVG)."
    ),
    pain_measure: str = typer.Option("SMD", "--pain-measure", help="SMD or MD for 'pain'."),
    responder_measure: str = typer.Option("RR", "--responder-measure", help="RR, OR or RD."),
    no_rob: bool = typer.Option(False, "--no-rob", help="Leave out the risk-of-bias columns."),
    data: Path = typer.Option(None, "--data", help="Your own long-format sheet (CSV)."),
    force: bool = FORCE,
) -> None:
    """Journal-style forest plot of one analysis (arm data, weights, favours labels, RoB)."""
    from phantomlab.evidence.exchange import journal_forest, read_extraction
    from phantomlab.evidence.rob import load_rob
    from phantomlab.evidence.synthesis import synthesize

    check_outputs(force, plot=plot)
    table = read_extraction(data) if data is not None else None
    res = synthesize(
        table,
        outcomes=[outcome],
        measures={"pain": pain_measure, "responders": responder_measure},
    )
    journal_forest(res, outcome, rob=None if no_rob else load_rob(), path=plot)
    typer.echo(f"Forest plot written to {plot}")


@app.command("rob")
def rob_cmd(
    study: str = typer.Option("", "--study", help="One study id (default: all)."),
    csv_out: Path = typer.Option(None, "--csv", help="Write every domain judgement as CSV."),
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Risk of bias (RoB 2, ROBINS-I): answers, suggested and final judgements, sources."""
    from phantomlab.cli._common import fail, write_csv
    from phantomlab.evidence.rob import load_rob
    from phantomlab.exceptions import Problem

    check_outputs(force, csv=csv_out)
    rob = load_rob()
    if study and study not in rob.study_ids:
        fail(Problem("--study", study, ", ".join(rob.study_ids), "", "no risk-of-bias record"))
    if csv_out is not None:
        frame = rob.to_frame()
        write_csv(
            csv_out,
            frame[frame.study_id == study] if study else frame,
            force=force,
            field="--csv",
            private=False,
        )
    if as_json:
        data = rob.to_dict()
        if study:
            data = {k: [r for r in v if r["study_id"] == study] for k, v in data.items()}
        emit_json(data)
        return
    if study:
        for d in rob.domains(study):
            typer.echo(
                f"D{d.domain} {d.judgement} (suggested {d.suggested}; rules {' '.join(d.rules)})"
                f"\n   answers: {d.answers}\n   {d.justification}\n   read in: {d.source_where}"
            )
        typer.echo(f"overall: {rob.overall(study)}")
        return
    typer.echo(rob.summary())


def _ratings(threshold: float | None) -> list[Any]:
    from phantomlab.evidence.grade import OutcomeEvidence, grade
    from phantomlab.evidence.rob import load_rob
    from phantomlab.evidence.synthesis import synthesize

    rob = load_rob()
    return [
        grade(OutcomeEvidence.from_group(g), rob, threshold=threshold) for g in synthesize().groups
    ]


@app.command("grade")
def grade_cmd(
    outcome: str = typer.Option("", "--outcome", help="Only this analysis (pain, responders...)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """GRADE certainty of every pooled outcome, with the reason for every downgrade."""
    ratings = [g for g in _ratings(None) if not outcome or g.evidence.outcome == outcome]
    if as_json:
        emit_json([g.to_dict() for g in ratings])
        return
    typer.echo("\n\n".join(g.summary() for g in ratings) or "no outcome matched")


@app.command("sof")
def sof_cmd(
    csv_out: Path = typer.Option(None, "--csv", help="Write the table as CSV."),
    html_out: Path = typer.Option(None, "--html", help="Write the HTML report."),
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Summary-of-findings table (Cochrane style): text, CSV and HTML."""
    from phantomlab.evidence.rob import load_rob
    from phantomlab.evidence.sof import summary_of_findings
    from phantomlab.report.sof import sof_report

    check_outputs(force, csv=csv_out, html=html_out)
    rob = load_rob()
    sof = summary_of_findings(rob=rob)
    if csv_out is not None:
        sof.to_csv(csv_out, overwrite=force)
    if html_out is not None:
        sof_report(sof, rob).save(html_out, overwrite=force)
    if as_json:
        emit_json(sof.to_dict())
        return
    typer.echo(sof.summary())


@app.command("review")
def review_cmd(
    out: Path = typer.Option(None, "-o", "--out", help="Write the HTML report here."),
    force: bool = FORCE,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Rebuild the review's claims from the evidence base: verdict, numbers, studies, reasons."""
    from phantomlab.evidence.review import review
    from phantomlab.report.review import review_report

    check_outputs(force, out=out)
    res = review()
    if out is not None:
        review_report(res).save(out, overwrite=force)
    if as_json:
        emit_json(res.to_dict())
        return
    typer.echo(res.summary())
