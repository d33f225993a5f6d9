"""The CLI contract of issue 4 (column names, units, errors)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from phantomlab.cli.fields import app as field_app
from phantomlab.fields import SphereModel, monopole_fields, tms_efield


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real entry point in a subprocess (exit codes and error lines)."""
    code = "import sys; from phantomlab.cli.main import main; sys.argv[0]='phantomlab'; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _invoke(*args: str) -> _Result:
    """Invoke ``phantomlab field ...`` in-process (fast) through the domain's Typer app."""
    assert args[0] == "field"
    res = CliRunner().invoke(field_app, list(args[1:]))
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return _Result(res.exit_code, res.stdout, "")


def test_sphere_contract(tmp_path: Path) -> None:
    pts = pd.DataFrame({"x_mm": [0.0, 10, -30], "y_mm": [0.0, 20, 5], "z_mm": [0.0, 30, 60]})
    pts.to_csv(tmp_path / "P.csv", index=False)
    r = _invoke(
        "field",
        "sphere",
        "--radii-mm",
        "80,86,92",
        "--sigma",
        "0.275,0.01,0.465",
        "--anode-mm",
        "0,0,92",
        "--cathode-mm",
        "0,92,0",
        "--current",
        "1mA",
        "--points",
        str(tmp_path / "P.csv"),
        "-o",
        str(tmp_path / "O.csv"),
    )
    assert r.returncode == 0, r.stderr
    out = pd.read_csv(tmp_path / "O.csv")
    assert list(out.columns) == ["x_mm", "y_mm", "z_mm", "phi_V", "Ex", "Ey", "Ez"]
    m = SphereModel((0.080, 0.086, 0.092), (0.275, 0.01, 0.465))
    ph, e = monopole_fields(m, pts.to_numpy() * 1e-3, [[0, 0, 0.092], [0, 0.092, 0]])
    np.testing.assert_allclose(out[["Ex", "Ey", "Ez"]].to_numpy(), 1e-3 * (e[0] - e[1]), rtol=1e-10)
    # anode = source: potential is higher near the anode than near the cathode
    near = pd.DataFrame({"x_mm": [0.0, 0.0], "y_mm": [0.0, 70.0], "z_mm": [70.0, 0.0]})
    near.to_csv(tmp_path / "N.csv", index=False)
    r = _invoke(
        "field",
        "sphere",
        "--anode",
        "Cz",
        "--cathode",
        "Fpz",
        "--current",
        "1 mA",
        "--points",
        str(tmp_path / "N.csv"),
        "-o",
        str(tmp_path / "O2.csv"),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    o2 = pd.read_csv(tmp_path / "O2.csv")
    assert o2.phi_V[0] > o2.phi_V[1]
    assert json.loads(r.stdout)["current_A"] == 0.001


def test_tms_and_ti_contract(tmp_path: Path) -> None:
    pd.DataFrame(
        {
            "x_mm": [0.0, 300],
            "y_mm": [0.0, 0],
            "z_mm": [300.0, 0],
            "mx": [1.0, 0],
            "my": [0.0, 1],
            "mz": [0.0, 0],
        }
    ).to_csv(tmp_path / "D.csv", index=False)
    pts = pd.DataFrame({"x_mm": [0.0, 10], "y_mm": [0.0, 20], "z_mm": [50.0, 30]})
    pts.to_csv(tmp_path / "P.csv", index=False)
    r = _invoke(
        "field",
        "tms",
        "--dipoles",
        str(tmp_path / "D.csv"),
        "--didt",
        "1e6",
        "--points",
        str(tmp_path / "P.csv"),
        "-o",
        str(tmp_path / "T.csv"),
    )
    assert r.returncode == 0, r.stderr
    out = pd.read_csv(tmp_path / "T.csv")
    assert "phi_V" not in out.columns
    ref = tms_efield([[0, 0, 0.3], [0.3, 0, 0]], [[1, 0, 0], [0, 1, 0]], 1e6, pts.to_numpy() * 1e-3)
    np.testing.assert_allclose(out[["Ex", "Ey", "Ez"]].to_numpy(), ref, rtol=1e-10)
    e1 = pd.DataFrame({"Ex": [1.0, 1, 1, 1], "Ey": [0.0] * 4, "Ez": [0.0] * 4})
    e2 = pd.DataFrame({"Ex": [1.0, -2, 0, 0], "Ey": [0.0, 0, -1000, 0], "Ez": [0.0, 0, 0, 3000]})
    e1.to_csv(tmp_path / "E1.csv", index=False)
    e2.to_csv(tmp_path / "E2.csv", index=False)
    r = _invoke(
        "field",
        "ti-envelope",
        "--e1",
        str(tmp_path / "E1.csv"),
        "--e2",
        str(tmp_path / "E2.csv"),
        "-o",
        str(tmp_path / "TI.csv"),
    )
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(pd.read_csv(tmp_path / "TI.csv").envelope, 2.0, rtol=1e-5)
    pd.DataFrame({"nx": [1.0], "ny": [0.0], "nz": [0.0]}).to_csv(tmp_path / "N.csv", index=False)
    r = _invoke(
        "field",
        "ti-envelope",
        "--e1",
        str(tmp_path / "E1.csv"),
        "--e2",
        str(tmp_path / "E2.csv"),
        "--direction",
        str(tmp_path / "N.csv"),
        "-o",
        str(tmp_path / "TD.csv"),
    )
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(pd.read_csv(tmp_path / "TD.csv").envelope, [2, 2, 0, 0], atol=1e-12)


def test_bad_input_exit_2(tmp_path: Path) -> None:
    pd.DataFrame({"x_mm": [0.0], "y_mm": [0.0], "z_mm": [200.0]}).to_csv(
        tmp_path / "P.csv", index=False
    )
    r = _run(
        "field",
        "sphere",
        "--anode",
        "C3",
        "--cathode",
        "Fp2",
        "--current",
        "1mA",
        "--points",
        str(tmp_path / "P.csv"),
        "-o",
        str(tmp_path / "O.csv"),
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr and "points" in r.stderr
    r = _run(
        "field",
        "sphere",
        "--anode",
        "C3",
        "--cathode",
        "Fp2",
        "--current",
        "2",
        "--points",
        str(tmp_path / "P.csv"),
        "-o",
        str(tmp_path / "O.csv"),
    )
    assert r.returncode == 2 and "current" in r.stderr


def test_optimize_commands_json() -> None:
    r = _invoke("field", "optimize-tdcs", "--target", "m1_hand_left", "--cap", "10-20", "--json")
    assert r.returncode == 0, r.stderr
    assert "currents_A" in json.loads(r.stdout)
    r = _invoke(
        "field",
        "optimize-ti",
        "--cap",
        "10-20",
        "--target",
        "0,0,20",
        "--total-current",
        "4mA",
        "--spacing-mm",
        "10",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert abs(d["currents_A"][0] + d["currents_A"][1] - 0.004) < 1e-12
    assert d["envelope_at_target_V_per_m"] > 0
