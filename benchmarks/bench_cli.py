"""Benchmark: start-up time of the light CLI commands against importing the whole stack.

Each light command (``--help``, ``protocol check``, ``optimize suggest``, ``optimize
record``, ``serve --help``) runs ``REPEATS`` times in a fresh interpreter; the wall time of
each run and its summed ``-X importtime`` self times are recorded and the median reported.
The baseline, measured in the same run, is the eager import every command paid before the
import budget: ``python -c "import phantomlab.protocols, phantomlab.optimize, ..."`` (every
subpackage, with the optimizer's full public API). With ``--before SRC`` the same commands
also run against another checkout's ``src`` folder (e.g. ``/work/main/src`` before the
change), for a before/after table.

Run: ``python benchmarks/bench_cli.py [--repeats 5] [--before /path/to/old/src]``. The last
line is ``RESULT light_cli_median_s=<v> ratio=<R>x baseline=eager_imports``, where ``v`` is
the median over the light commands of their median wall time and ``R`` the baseline's median
wall time over ``v``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PROTOCOL = """\
modality: tdcs
target: M1 hand area contralateral
anode: C3
cathode: Fp2
current: 2 mA
electrode_area: 35 cm^2
duration: 20 min
schedule: {sessions: 10, per_week: 5}
montage_side: right
"""
#: The eager stack: what one command imported before the import budget (every subpackage).
EAGER = (
    "import phantomlab.protocols, phantomlab.fields, phantomlab.mechanisms, phantomlab.meta, "
    "phantomlab.evidence, phantomlab.therapies, phantomlab.cohorts, phantomlab.trials, "
    "phantomlab.optimize, phantomlab.bci, phantomlab.report, phantomlab.cli; "
    "from phantomlab.optimize import *"
)
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|")


def _run(argv: list[str], src: Path, cwd: Path) -> tuple[float, float, str]:
    """Wall time (s), summed import self time (s) and stdout of one fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    )
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{argv} failed ({p.returncode}): {p.stderr[-800:]}")
    imports = sum(int(m[1]) for m in map(_LINE.match, p.stderr.splitlines()) if m) / 1e6
    return wall, imports, p.stdout


def _session(src: Path, cwd: Path) -> str:
    """Make a fresh optimizer database with one tDCS patient; return its path."""
    db = cwd / f"opt-{abs(hash(str(src)))}.sqlite"
    db.unlink(missing_ok=True)
    _run(["-m", "phantomlab", "optimize", "new", "p1", "-m", "tdcs", "--db", str(db)], src, cwd)
    return str(db)


def measure(src: Path, cwd: Path, repeats: int) -> dict[str, tuple[float, float]]:
    """Median (wall s, import s) of each light command, run ``repeats`` times against ``src``."""
    db = _session(src, cwd)
    cmds = {
        "--help": ["--help"],
        "serve --help": ["serve", "--help"],
        "protocol check": ["protocol", "check", "m1_tdcs.yaml"],
        "optimize suggest": ["optimize", "suggest", "p1", "--db", db],
    }
    out: dict[str, list[tuple[float, float]]] = {k: [] for k in [*cmds, "optimize record"]}
    for _ in range(repeats):
        for name, args in cmds.items():
            wall, imp, _ = _run(["-m", "phantomlab", *args], src, cwd)
            out[name].append((wall, imp))
        # record answers the suggestion just made (then the next suggest makes a new one)
        _, _, text = _run(["-m", "phantomlab", "optimize", "suggest", "p1", "--db", db], src, cwd)
        token = re.search(r"token (\S+)", text)
        assert token is not None, text
        rec = ["optimize", "record", "p1", "--suggestion", token[1], "--nrs", "5", "--db", db]
        wall, imp, _ = _run(["-m", "phantomlab", *rec, "--side-effect", "1"], src, cwd)
        out["optimize record"].append((wall, imp))
    return {
        k: (statistics.median(w for w, _ in v), statistics.median(i for _, i in v))
        for k, v in out.items()
    }


def main() -> None:
    """Time the light commands and the eager baseline; print a table and the RESULT line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--before", type=Path, default=None, help="src folder of the old code")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        (cwd / "m1_tdcs.yaml").write_text(PROTOCOL)
        base = [_run(["-c", EAGER], SRC, cwd)[:2] for _ in range(a.repeats)]
        after = measure(SRC, cwd, a.repeats)
        before = measure(a.before, cwd, a.repeats) if a.before else None
    b_wall = statistics.median(w for w, _ in base)
    b_imp = statistics.median(i for _, i in base)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; median of {a.repeats}")
    head = f"{'command':<18} {'wall s':>7} {'import s':>8}"
    print(head + (f" {'before wall s':>13} {'before import s':>15}" if before else ""))
    for k, (w, i) in after.items():
        extra = f" {before[k][0]:>13.2f} {before[k][1]:>15.2f}" if before else ""
        print(f"{k:<18} {w:>7.2f} {i:>8.2f}{extra}")
    print(f"{'eager stack':<18} {b_wall:>7.2f} {b_imp:>8.2f}")
    light = statistics.median(w for w, _ in after.values())
    print(
        f"RESULT light_cli_median_s={light:.3f} ratio={b_wall / light:.1f}x baseline=eager_imports"
    )


if __name__ == "__main__":
    main()
