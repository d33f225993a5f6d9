"""``phantomlab field evaluate`` on the sphere head (coarse mesh): files, stats, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("skfem")
pytest.importorskip("gmsh")

from phantomlab.cli.fields import app as field_app
from phantomlab.exceptions import InputError


def test_evaluate_ti_on_sphere_writes_mesh_nifti_figure(tmp_path: Path) -> None:
    pytest.importorskip("meshio")
    out = tmp_path / "ev"
    args = ["evaluate", "--head", "sphere", "--pair", "C3,C4", "--pair", "F3,P3"]
    args += ["--target", "C3", "--size-mm", "12", "-o", str(out), "--json"]
    res = CliRunner().invoke(field_app, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["kind"] == "ti"
    assert 0 < doc["stats"]["brain_median"] < doc["stats"]["brain_p99"]
    assert (out / "field.vtu").stat().st_size > 0
    assert (out / "field.png").stat().st_size > 0


@pytest.mark.parametrize(
    "extra",
    [
        ["--pad", "triangle", "--currents", "C3=1mA,C4=-1mA"],
        ["--currents", "C3=1mA,C4=-2mA"],
        ["--pair", "C3,C4"],
        ["--head", "cube", "--currents", "C3=1mA,C4=-1mA"],
    ],
)
def test_evaluate_bad_input_exit_2(tmp_path: Path, extra: list[str]) -> None:
    args = ["evaluate", "--head", "sphere", "--size-mm", "12", "-o", str(tmp_path / "x"), *extra]
    res = CliRunner().invoke(field_app, args)
    # the domain app raises InputError; the `phantomlab` entry point turns it into exit 2
    assert isinstance(res.exception, InputError) or res.exit_code == 2, res.output


def test_evaluate_bad_pad_exits_2_without_traceback(tmp_path: Path) -> None:
    code = "import sys; from phantomlab.cli.main import main; sys.argv[0]='phantomlab'; main()"
    args = ["field", "evaluate", "--pad", "triangle", "--currents", "C3=1mA,C4=-1mA"]
    args += ["-o", str(tmp_path / "x")]
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "pad.shape" in r.stderr
