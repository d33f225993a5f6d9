"""The ``phantomlab meta`` CLI contract: JSON keys, metafor numbers, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REF = Path(__file__).with_name("metafor_reference")
KEYS = "estimate se zval pval ci_lb ci_ub pi_lb pi_ub tau2 I2 H2 QE QEp k".split()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-c", "from phantomlab.cli import main; main()", "meta", *args],
        capture_output=True,
        text=True,
        env=env,
    )


def _json(*args: str) -> dict:
    """Run a command in-process (fast) and parse its JSON output."""
    from typer.testing import CliRunner

    from phantomlab.cli.meta import app

    out = CliRunner().invoke(app, [*args, "--json"])
    assert out.exit_code == 0, (out.output, out.exception)
    return json.loads(out.stdout)


def test_escalc_rr_writes_yi_vi(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from phantomlab.cli.meta import app

    ref = json.loads((REF / "bcg.json").read_text())
    dest = tmp_path / "out.csv"
    out = CliRunner().invoke(
        app,
        [
            "escalc",
            str(REF / "bcg.csv"),
            "--measure",
            "RR",
            "--ai",
            "tpos",
            "--bi",
            "tneg",
            "--ci",
            "cpos",
            "--di",
            "cneg",
            "-o",
            str(dest),
        ],
    )
    assert out.exit_code == 0, out.output
    assert "wrote" in out.stdout
    df = pd.read_csv(dest)
    np.testing.assert_allclose(df["yi"], ref["yi"], rtol=1e-12)
    np.testing.assert_allclose(df["vi"], ref["vi"], rtol=1e-12)


def test_escalc_smd_json() -> None:
    ref = json.loads((REF / "normand1999_smd.json").read_text())
    args = [f"--{a}={c}" for a, c in ref["escalc_args"].items()]
    got = _json("escalc", str(REF / "normand1999_smd.csv"), "--measure", "SMD", *args)
    np.testing.assert_allclose(got["yi"], ref["yi"], rtol=1e-12)


@pytest.mark.parametrize("fit", ["REML", "DL_knha", "PM", "EE"])
def test_rma_json_contract(fit: str) -> None:
    ref = json.loads((REF / "dorn2007_rr.json").read_text())
    method, _, test = fit.partition("_")
    got = _json(
        "rma",
        str(REF / "dorn2007_rr.csv"),
        "--yi",
        "yi",
        "--vi",
        "vi",
        "--method",
        method,
        "--test",
        test or "z",
    )
    assert set(KEYS) <= set(got)
    for key in KEYS:
        want = ref["fits"][fit][key]
        if want == []:
            assert got[key] is None
        else:
            assert got[key] == pytest.approx(want, rel=1e-6, abs=1e-12), key


def test_rma_mods_json() -> None:
    ref = json.loads((REF / "bcg.json").read_text())["metareg_REML"]
    got = _json("rma", str(REF / "bcg.csv"), "--mods", "ablat,year")
    np.testing.assert_allclose(got["coef"], ref["coef"], rtol=1e-6)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-6)
    assert got["QM"] == pytest.approx(ref["QM"], rel=1e-6)
    assert got["R2"] == pytest.approx(ref["R2"], rel=1e-5)


def test_confint_regtest_trimfill_leave1out_json() -> None:
    ref = json.loads((REF / "hackshaw1998.json").read_text())
    data = str(REF / "hackshaw1998.csv")
    ci = _json("confint", data, "--yi", "yi", "--vi", "vi")
    np.testing.assert_allclose(ci["tau2"], ref["confint_REML"]["tau2"], rtol=1e-6)
    rg = _json("regtest", data)
    assert rg["zval"] == pytest.approx(ref["regtest_REML_sei"]["zval"], rel=1e-6)
    assert rg["limit"] == pytest.approx(ref["regtest_REML_sei"]["limit"], rel=1e-6)
    tf = _json("trimfill", data, "--method", "EE")
    assert tf["k0"] == ref["trimfill_EE"]["k0"] and tf["side"] == ref["trimfill_EE"]["side"]
    assert tf["estimate"] == pytest.approx(ref["trimfill_EE"]["estimate"], rel=1e-6)
    l1 = _json("leave1out", data)
    np.testing.assert_allclose(l1["estimate"], ref["leave1out_REML"]["estimate"], rtol=1e-6)
    np.testing.assert_allclose(l1["tau2"], ref["leave1out_REML"]["tau2"], rtol=1e-5)


def test_text_output_is_metafor_style(tmp_path: Path) -> None:
    import matplotlib
    from typer.testing import CliRunner

    from phantomlab.cli.meta import app

    matplotlib.use("Agg")
    runner = CliRunner()
    out = runner.invoke(app, ["rma", str(REF / "bcg.csv"), "--forest", str(tmp_path / "f.png")])
    assert out.exit_code == 0, out.output
    assert "Random-Effects Model (k = 13; tau^2 estimator: REML)" in out.stdout
    assert "Q(df = 12) = 152.2330, p-val < .0001" in out.stdout
    assert (tmp_path / "f.png").exists()
    sub = runner.invoke(app, ["subgroups", str(REF / "bcg.csv"), "--by", "alloc"])
    assert sub.exit_code == 0 and "Test for Subgroup Differences" in sub.stdout
    rk = runner.invoke(app, ["ranktest", str(REF / "bcg.csv")])
    assert "Kendall's tau = 0.0256, p = 0.9524" in rk.stdout


def _bad(tmp_path: Path, rows: dict) -> str:
    p = tmp_path / "bad.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    return str(p)


@pytest.mark.parametrize(
    ("rows", "extra", "needle"),
    [
        ({"yi": [0.1], "vi": [0.1]}, [], "k = 1"),
        ({"yi": [0.1, 0.2, 0.4], "vi": [0.1, 0.0, 0.2]}, [], "vi = 0"),
        ({"yi": [0.1, 0.2, 0.4], "vi": [0.1, 0.1, 0.2]}, ["--yi", "nope"], "--yi = nope"),
        ({"yi": [0.1, 0.2, 0.4], "vi": [0.1, 0.1, 0.2]}, ["--method", "XX"], "method = XX"),
    ],
)
def test_bad_input_is_one_clear_problem(
    tmp_path: Path, rows: dict, extra: list, needle: str
) -> None:
    from typer.testing import CliRunner

    from phantomlab.cli.meta import app
    from phantomlab.exceptions import InputError

    out = CliRunner().invoke(app, ["rma", _bad(tmp_path, rows), *extra, "--json"])
    assert isinstance(out.exception, InputError)  # main() prints it and exits with 2
    assert needle in out.exception.problems[0].line()


def test_bad_input_exit_2_no_traceback(tmp_path: Path) -> None:
    """The real entry point: one ``error:`` line per problem, exit code 2."""
    out = _run("rma", _bad(tmp_path, {"yi": [0.1, 0.2], "vi": [0.1, -0.2]}), "--json")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("error: vi = -0.2")
    miss = _run("escalc", str(REF / "bcg.csv"), "--measure", "RR", "--ai", "tpos")
    assert miss.returncode == 2 and "missing" in miss.stderr and "Traceback" not in miss.stderr


def test_nan_rows_warned_on_stderr(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from phantomlab.cli.meta import app

    data = _bad(tmp_path, {"yi": [0.1, None, 0.4, 0.3], "vi": [0.1, 0.1, 0.2, 0.1]})
    out = CliRunner().invoke(app, ["rma", data, "--json"])
    assert out.exit_code == 0
    assert "warning: 1 studies with missing values dropped" in out.stderr
    assert json.loads(out.stdout)["k"] == 3


def test_influence_and_ranktest_json() -> None:
    inf = _json("influence", str(REF / "bcg.csv"), "--mods", "ablat,year")
    assert round(inf["cook_d"][3], 4) == 7.3179 and inf["influential"][3] is True
    rk = _json("ranktest", str(REF / "bcg.csv"))
    assert round(rk["tau"], 4) == 0.0256 and round(rk["pval"], 4) == 0.9524
