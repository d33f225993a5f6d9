"""``phantomlab protocol``: check, list, show, describe and report stimulation protocols."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand

from phantomlab.cli._common import FORCE, check_outputs, emit_json, fail
from phantomlab.exceptions import Problem, ProtocolError

app = typer.Typer(
    help="Stimulation protocols: validate, dose, safety, reference library, reporting.",
    no_args_is_help=True,
)


def _overrides(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    bad = []
    for item in items:
        rule, sep, reason = item.partition("=")
        if not sep or not rule.strip() or not reason.strip():
            bad.append(Problem("--override", item, "RULE_ID=REASON", "", "malformed override"))
        else:
            out[rule.strip()] = reason.strip()
    if bad:
        raise ProtocolError(bad)
    return out


@app.command("check")
def check(
    file: Path = typer.Argument(..., help="Protocol file (YAML or JSON)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON report."),
    override: list[str] = typer.Option(
        [], "--override", help="Accept an unsafe value: RULE_ID=REASON (logged). Repeatable."
    ),
    partial: bool = typer.Option(
        False, "--partial", help="Missing parameters are warnings, not errors."
    ),
    motor_threshold: str | None = typer.Option(
        None,
        "--motor-threshold",
        help="rTMS: the patient's resting motor threshold, e.g. '45 %MSO', to convert "
        "intensities between %MSO and %MT.",
    ),
) -> None:
    """Validate FILE, compute its dose and check every safety rule.

    Every rule is listed as passed, violated, not assessable or not applicable.
    Exit 0 only if the verdict is valid; 2 if it is invalid or not assessable.
    """
    from phantomlab.protocols import check_protocol, load_protocol

    try:
        protocol = load_protocol(file)
        if motor_threshold is not None:
            if "motor_threshold" not in type(protocol).model_fields:
                raise ProtocolError(
                    Problem(
                        "--motor-threshold",
                        motor_threshold,
                        "an rTMS protocol",
                        "",
                        f"not used by modality {protocol.modality_key()}",
                    )
                )
            protocol = protocol.replace(motor_threshold=motor_threshold)
        report = check_protocol(
            protocol, overrides=_overrides(override), require_complete=not partial
        )
    except ProtocolError as exc:
        if not as_json:
            raise
        emit_json(
            {
                "valid": False,
                "verdict": "invalid",
                "errors": [p.to_dict() for p in exc.problems],
                "warnings": [],
                "not_assessable": [],
                "rules": [],
                "dose": {},
            }
        )
        raise typer.Exit(code=2) from None
    if as_json:
        emit_json(report.to_dict())
        if not report.valid:
            raise typer.Exit(code=2)
        return
    for w in report.warnings:
        typer.echo(f"warning: {w.line()}")
    for line in report.rules_text():
        typer.echo(line)
    typer.echo("dose:")
    for line in report.dose.summary().splitlines():
        typer.echo(f"  {line}")
    if not report.valid:
        typer.echo(f"verdict: {report.verdict}")
        raise ProtocolError(report.blocking_problems())
    typer.echo("valid")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the reference protocols of published PLP studies."""
    from phantomlab.protocols import get_reference, list_reference, reference_entry

    rows = []
    for name in list_reference():
        p = get_reference(name)
        e = reference_entry(name)
        rows.append(
            {
                "name": name,
                "modality": p.modality_key(),
                "study_id": e.study_id,
                "arm": e.arm,
                "citation": p.citation or "",
            }
        )
    if as_json:
        emit_json(rows)
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        typer.echo(f"{r['name']:<{width}}  {r['modality']:<11}  {r['citation'][:70]}")


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Reference protocol name (see `protocol list`)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a reference protocol, its dose and its safety check."""
    from phantomlab.protocols import check_protocol, dump_protocol, get_reference, reference_entry

    p = get_reference(name)
    report = check_protocol(p, require_complete=False)
    e = reference_entry(name)
    if as_json:
        emit_json(
            {
                "name": e.name,
                "study_id": e.study_id,
                "arm": e.arm,
                "read": e.read,
                "protocol": json.loads(dump_protocol(p, "json")),
                "check": report.to_dict(),
            }
        )
        return
    typer.echo(f"# {e.name} (study {e.study_id}, arm {e.arm}; read: {e.read})")
    typer.echo(dump_protocol(p).rstrip())
    typer.echo("---")
    typer.echo(report.summary())


class _ModalityKeysHelp(TyperCommand):
    """A command whose MODALITY help lists the modality keys, read when the help is shown.

    The keys come from the protocol registry; reading it when ``--help`` is asked keeps the
    protocol models out of the import of every other command.
    """

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from phantomlab.protocols import MODALITIES

        for param in self.params:
            if param.name == "modality":
                param.help = "Modality key: " + ", ".join(MODALITIES)  # type: ignore[attr-defined]
        super().format_help(ctx, formatter)


@app.command("schema", cls=_ModalityKeysHelp)
def schema(
    modality: str = typer.Argument(..., help="Modality key (see `protocol schema --help`)."),
) -> None:
    """Print the JSON Schema of a modality (every field, documented)."""
    from phantomlab.protocols import protocol_schema

    emit_json(protocol_schema(modality))


@app.command("report")
def report(
    file: Path = typer.Argument(..., help="Protocol file (YAML or JSON)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    html: bool = typer.Option(
        False,
        "--html",
        help="Write the printable HTML report instead: parameters, dose card, every "
        "safety rule with its status and source, reporting checklist.",
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="With --html: the HTML file to write (default: stdout)."
    ),
    force: bool = FORCE,
    partial: bool = typer.Option(
        False, "--partial", help="With --html: missing parameters are warnings, not errors."
    ),
) -> None:
    """List the parameters a publication must report, flagging those missing from FILE.

    With ``--html``: the printable protocol report (written atomically to ``-o``).
    """
    from phantomlab.protocols import load_protocol, reporting_checklist

    if out is not None and not html:
        raise ProtocolError(Problem("--out", str(out), "only with --html", "", "no HTML asked"))
    if partial and not html:
        raise ProtocolError(Problem("--partial", True, "only with --html", "", "no HTML asked"))
    if html:
        if as_json:
            raise ProtocolError(
                Problem("--json", True, "either --json or --html", "", "choose one output")
            )
        if out is not None:
            if out.suffix.lower() not in {".html", ".htm"}:
                fail(Problem("--out", str(out), "a file name ending in .html", "", "not HTML"))
            check_outputs(force, out=out)
        from phantomlab.report import dose_card

        page = dose_card(load_protocol(file), require_complete=not partial)
        if out is None:
            typer.echo(page.html, nl=False)
        else:
            page.save(out, overwrite=force)
            typer.echo(f"wrote {out} ({page.title})", err=True)
        return
    protocol = load_protocol(file)
    items = reporting_checklist(protocol)
    if as_json:
        emit_json(
            [
                {"field": i.field, "value": i.value, "required": i.required, "missing": i.missing}
                for i in items
            ]
        )
        return
    width = max(len(i.field) for i in items)
    for i in items:
        kind = "required" if i.required else "report"
        shown = "MISSING" if i.missing else str(i.value)
        typer.echo(f"{i.field:<{width}}  {kind:<8}  {shown}")
    n_missing = sum(i.missing for i in items)
    typer.echo(f"{n_missing} of {len(items)} parameters missing")
