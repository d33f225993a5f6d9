"""Run every example into one folder (``make demo``), with progress lines.

Each example ``NN_name.py`` in this folder has ``main(out) -> dict`` (its key
numbers); this script runs them in order on embedded defaults, writes their
tables, figures and HTML reports into OUT (default ``demo-output``) and lists the
reports at the end. Everything a model computes is in silico.

Run: ``python examples/run_demo.py [--out DIR] [--only NAME[,NAME...]]`` where NAME
is part of an example's file name (``--only bci,evidence``).
"""

from __future__ import annotations

import argparse
import runpy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def examples() -> list[Path]:
    """Return the example scripts of this folder, in order."""
    return sorted(p for p in HERE.glob("[0-9][0-9]_*.py"))


def load(path: Path) -> Callable[[Path], dict[str, Any]]:
    """Return the ``main`` function of an example script (its ``__main__`` block not run)."""
    main: Callable[[Path], dict[str, Any]] = runpy.run_path(str(path), run_name=path.stem)["main"]
    return main


def run(out: Path, only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Run the examples (those whose name contains one of ``only``) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    todo = [p for p in examples() if not only or any(o in p.stem for o in only)]
    if not todo:
        names = ", ".join(p.stem for p in examples())
        raise SystemExit(f"error: --only {','.join(only or [])}: no example matches ({names})")
    results: dict[str, dict[str, Any]] = {}
    t_all = time.perf_counter()
    for i, path in enumerate(todo, 1):
        print(f"\n== [{i}/{len(todo)}] {path.stem} ==", flush=True)
        t0 = time.perf_counter()
        results[path.stem] = load(path)(out)
        print(f"({path.stem}: {time.perf_counter() - t0:.1f} s)", flush=True)
    reports = sorted(p.name for p in out.glob("report_*.html"))
    print(f"\nDemo outputs written to {out.resolve()} in {time.perf_counter() - t_all:.0f} s")
    if reports:
        print("HTML reports (open in a browser; self-contained): " + ", ".join(reports))
    return results


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder")
    parser.add_argument("--only", default="", help="comma-separated parts of example names")
    args = parser.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    run(args.out, only or None)


if __name__ == "__main__":
    _cli()
