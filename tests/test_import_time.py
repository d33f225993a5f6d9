"""Import budget of the light commands (issue #19 item 5; docs/architecture.md "Import budget").

``phantomlab --help``, ``protocol check`` and the optimizer's ``suggest``/``record`` must start
at once. Each command runs in a fresh interpreter with ``-X importtime``; the test asserts

1. (deterministic, the real guard) that none of the heavy packages a command does not need is
   imported (:data:`HEAVY` and :data:`FORBIDDEN`, read from ``sys.modules`` at exit), and
2. that the summed ``-X importtime`` self times stay under :data:`BUDGET_S` (1 s, the issue's
   target; override with ``PHANTOMLAB_IMPORT_BUDGET_S``) times the command's factor in
   :data:`FACTOR`: 1 for the help pages; 1.5 for ``protocol check``, which meets the target
   when idle (about 0.7-0.85 s) but has too thin a margin for a busy 2-core runner; the
   optimizer's ``suggest``/``record``, which still need SQLAlchemy and the protocol models
   (``docs/architecture.md``, "Import budget"), are guarded against regression at 3x until
   those costs drop. This sum is a wall-clock measure, so a run over budget is
   retried once and, on an oversubscribed machine (load average above the CPU count), the
   timing is skipped rather than failed: only the module check is deterministic.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BUDGET_S = float(os.environ.get("PHANTOMLAB_IMPORT_BUDGET_S", "1.0"))
#: Budget factor of the commands not yet under the 1 s target (measured in docs/architecture.md).
FACTOR = {"protocol-check": 1.5, "optimize-suggest": 3.0, "optimize-record": 3.0}

#: Packages that no light command may import (each costs 0.3-2.5 s here).
HEAVY = (
    "pandas",
    "matplotlib",
    "sklearn",
    "mne",
    "statsmodels",
    "scipy.stats",
    "scipy.optimize",
    "numba",
    "jinja2",  # the report templates
    "dask",  # pint imports it when installed, unless phantomlab._units hides it (0.5 s)
    "phantomlab.meta",
    "phantomlab.trials",
    "phantomlab.cohorts",
    "phantomlab.therapies",
    "phantomlab.fields",
    "phantomlab.report",
    "phantomlab.web",
)
#: What the help pages and ``--version`` need is typer and rich only.
NO_SCIENCE = (*HEAVY, "numpy", "pint", "phantomlab.protocols", "sqlalchemy", "scipy")

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

#: Runs ``phantomlab ARGS`` as ``python -m phantomlab`` does and writes ``sys.modules`` at exit.
RUNNER = """\
import atexit, json, runpy, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "phantomlab"
runpy.run_module("phantomlab", run_name="__main__", alter_sys=True)
"""

_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|")


def run_timed(args: list[str], tmp: Path) -> tuple[subprocess.CompletedProcess[str], float, set]:
    """Run ``phantomlab ARGS`` with ``-X importtime``: (process, summed self time s, modules).

    Parameters
    ----------
    args : list of str
        The command line after ``phantomlab``.
    tmp : Path
        Folder for the module list.

    Returns
    -------
    tuple
        The finished process, the sum of every module's self import time in seconds and the
        names in ``sys.modules`` at exit.
    """
    import phantomlab

    mods = tmp / "modules.json"
    src = str(Path(phantomlab.__file__).resolve().parents[1])  # the code under test, from any cwd
    path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", RUNNER, str(mods), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
    )
    total_us = sum(int(m[1]) for m in map(_LINE.match, proc.stderr.splitlines()) if m)
    loaded = set(json.loads(mods.read_text())) if mods.exists() else set()
    return proc, total_us / 1e6, loaded


def _imported(loaded: set, names: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if n in loaded)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the docs' tDCS protocol and an optimizer session database (one patient)."""
    from phantomlab.optimize import OptimizationSession

    d = tmp_path_factory.mktemp("light")
    (d / "m1_tdcs.yaml").write_text(PROTOCOL)
    OptimizationSession.new("p1", "tdcs", db=d / "opt.sqlite", baseline_nrs=7.0)
    return d


def _commands(d: Path) -> dict[str, tuple[list[str], tuple[str, ...]]]:
    db = str(d / "opt.sqlite")
    return {
        "help": (["--help"], NO_SCIENCE),
        "version": (["--version"], NO_SCIENCE),
        "protocol-help": (["protocol", "--help"], NO_SCIENCE),
        "serve-help": (["serve", "--help"], NO_SCIENCE),
        "optimize-help": (["optimize", "suggest", "--help"], NO_SCIENCE),
        "protocol-check": (["protocol", "check", "m1_tdcs.yaml"], (*HEAVY, "sqlalchemy")),
        "optimize-suggest": (["optimize", "suggest", "p1", "--db", db, "--json"], HEAVY),
    }


LIGHT = [
    "help",
    "version",
    "protocol-help",
    "serve-help",
    "optimize-help",
    "protocol-check",
    "optimize-suggest",
]


def _oversubscribed() -> float | None:
    """The load average when it exceeds the CPU count (timings then mean little), else None."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return load if load > (os.cpu_count() or 1) else None


def _check(name: str, args: list[str], forbidden: tuple[str, ...], d: Path) -> None:
    budget = BUDGET_S * FACTOR.get(name, 1.0)
    timings = []
    for _ in range(2):
        proc, total, loaded = run_timed(args, d)
        assert proc.returncode == 0, proc.stderr[-2000:]
        bad = _imported(loaded, forbidden)
        assert not bad, f"'phantomlab {' '.join(args)}' imported {bad}"
        timings.append(total)
        if total < budget or _oversubscribed():
            break
    msg = f"{name}: import time {min(timings):.2f} s > {budget} s (runs: {timings})"
    if min(timings) >= budget:
        load = _oversubscribed()
        if load is not None:
            pytest.skip(f"machine oversubscribed (load {load:.1f}); modules checked; {msg}")
        pytest.fail(msg)


@pytest.mark.parametrize("name", LIGHT)
def test_light_command_imports_are_light(name: str, workdir: Path) -> None:
    args, forbidden = _commands(workdir)[name]
    _check(name, args, forbidden, workdir)


def test_optimize_record_imports_are_light(workdir: Path) -> None:
    """``record`` answers the pending suggestion (made here first) without the heavy stack."""
    db = str(workdir / "opt.sqlite")
    proc, _, _ = run_timed(["optimize", "suggest", "p1", "--db", db, "--json"], workdir)
    token = json.loads(proc.stdout)["token"]
    args = ["optimize", "record", "p1", "--suggestion", token, "--nrs", "5", "--db", db]
    _check("optimize-record", [*args, "--side-effect", "1"], HEAVY, workdir)


def test_the_guard_sees_a_heavy_import(tmp_path: Path) -> None:
    """The module check is not vacuous: a command that needs pandas is reported as such."""
    (tmp_path / "t.csv").write_text("yi,vi\n0.1,0.01\n0.3,0.02\n0.2,0.015\n")
    proc, total, loaded = run_timed(["meta", "rma", "t.csv", "--yi", "yi", "--vi", "vi"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _imported(loaded, HEAVY), "meta rma must load pandas and the meta package"
    assert total > 0.0
