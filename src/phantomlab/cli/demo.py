"""``phantomlab demo``: run every domain's demonstration on embedded defaults.

Each domain contributes one step: a function ``run(out: Path) -> None`` named in
:data:`STEPS` as ``"module:function"``. Steps write into the output folder and
print what they show.
"""

from __future__ import annotations

import time
from importlib import import_module
from pathlib import Path

import typer

#: (title, "module:function") of each demo step, in order.
STEPS: list[tuple[str, str]] = [
    ("trial statistics", "phantomlab.report.demo_trials:run"),
    ("field physics", "phantomlab.report.demo_fields:run"),
    ("evidence", "phantomlab.report.demo_evidence:run"),
    ("protocols", "phantomlab.report.demo_protocols:run"),
    ("virtual patient", "phantomlab.report.demo_patient:run"),
    ("therapies", "phantomlab.report.demo_therapies:run"),
    ("optimization", "phantomlab.report.demo_optimize:run"),
    ("bci", "phantomlab.report.demo_bci:run"),
    ("in-silico trial", "phantomlab.report.demo_insilico:run"),
]


def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", "-o", help="Output folder."),
    only: str = typer.Option("", help="Comma-separated step titles to run (default: all)."),
) -> None:
    """Run the demonstration of every capability and write results to OUT."""
    out.mkdir(parents=True, exist_ok=True)
    wanted = {s.strip() for s in only.split(",") if s.strip()}
    for title, target in STEPS:
        if wanted and title not in wanted:
            continue
        module, func = target.split(":")
        t0 = time.perf_counter()
        typer.secho(f"\n== {title} ==", bold=True)
        getattr(import_module(module), func)(out)
        typer.echo(f"({title}: {time.perf_counter() - t0:.1f} s)")
    typer.echo(f"\nDemo outputs written to {out.resolve()}")
