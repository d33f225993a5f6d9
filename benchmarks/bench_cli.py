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
import resource
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
FIT = "suggest, 1 report"
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(argv: list[str], src: Path, cwd: Path) -> tuple[float, float, float, str]:
    """Wall time, summed import self time, CPU time (s) and stdout of one fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    c0, t0 = _cpu(), time.perf_counter()
    cmd = [sys.executable, "-X", "importtime", *argv]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    if p.returncode != 0:
        raise RuntimeError(f"{argv} failed ({p.returncode}): {p.stderr[-800:]}")
    imports = sum(int(m[1]) for m in map(_LINE.match, p.stderr.splitlines()) if m) / 1e6
    return wall, imports, cpu, p.stdout


def _new(src: Path, cwd: Path, db: Path, patient: str) -> None:
    """Open a tDCS session for ``patient`` in ``db`` (not timed)."""
    _run(["-m", "phantomlab", "optimize", "new", patient, "-m", "tdcs", "--db", str(db)], src, cwd)


def measure(src: Path, cwd: Path, repeats: int) -> dict[str, tuple[float, ...]]:
    """Median (wall, import, CPU s) of each command, run ``repeats`` times against ``src``.

    Each repeat opens a new patient: ``optimize suggest`` is its first suggestion (the safe
    seed), ``optimize record`` answers it, and ``suggest after a report`` is the next one, which
    fits the Gaussian processes (scikit-learn; reported apart, not a light command).
    """
    db = cwd / f"opt-{abs(hash(str(src)))}.sqlite"
    db.unlink(missing_ok=True)
    light = {
        "--help": ["--help"],
        "serve --help": ["serve", "--help"],
        "protocol check": ["protocol", "check", "m1_tdcs.yaml"],
    }
    out: dict[str, list[tuple[float, ...]]] = {
        k: [] for k in [*light, "optimize suggest", "optimize record", FIT]
    }
    for i in range(repeats):
        for name, args in light.items():
            out[name].append(_run(["-m", "phantomlab", *args], src, cwd)[:3])
        patient = f"p{i}"
        _new(src, cwd, db, patient)
        suggest = ["-m", "phantomlab", "optimize", "suggest", patient, "--db", str(db)]
        *times, text = _run(suggest, src, cwd)
        out["optimize suggest"].append(tuple(times))
        token = re.search(r"token (\S+)", text)
        assert token is not None, text
        rec = ["optimize", "record", patient, "--suggestion", token[1], "--nrs", "5"]
        record = ["-m", "phantomlab", *rec, "--side-effect", "1", "--db", str(db)]
        out["optimize record"].append(_run(record, src, cwd)[:3])
        out[FIT].append(_run(suggest, src, cwd)[:3])
    return {
        k: tuple(statistics.median(col) for col in zip(*v, strict=True)) for k, v in out.items()
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
        base = [_run(["-c", EAGER], SRC, cwd)[:3] for _ in range(a.repeats)]
        after = measure(SRC, cwd, a.repeats)
        before = measure(a.before, cwd, a.repeats) if a.before else None
    b = tuple(statistics.median(col) for col in zip(*base, strict=True))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; median of {a.repeats}")
    cols = ("wall s", "import s", "CPU s")
    head = f"{'command':<18}" + "".join(f" {c:>9}" for c in cols)
    print(head + ("".join(f" {'before ' + c:>15}" for c in cols) if before else ""))
    for k, v in after.items():
        extra = "".join(f" {x:>15.2f}" for x in before[k]) if before else ""
        print(f"{k:<18}" + "".join(f" {x:>9.2f}" for x in v) + extra)
    print(f"{'eager stack':<18}" + "".join(f" {x:>9.2f}" for x in b))
    b_wall = b[0]
    light = statistics.median(v[0] for k, v in after.items() if k != FIT)
    cpu = statistics.median(v[2] for k, v in after.items() if k != FIT)
    print(f"light commands: median CPU {cpu:.3f} s (eager stack {b[2]:.3f} s)")
    print(
        f"RESULT light_cli_median_s={light:.3f} ratio={b_wall / light:.1f}x baseline=eager_imports"
    )


if __name__ == "__main__":
    main()
