"""Crossover trials of the synthesis re-analysed as paired over assumed correlations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from phantomlab.cli.evidence import app
from phantomlab.evidence.crossover import crossover_ri_sweep
from phantomlab.evidence.synthesis import synthesize
from phantomlab.exceptions import InputError
from phantomlab.meta import rma


def test_sweep_starts_at_the_parallel_analysis_and_uses_the_mc_variance() -> None:
    res = synthesize(outcomes=["pain"], measures={"pain": "MD"})
    sw = crossover_ri_sweep(res, [0.0, 0.5, 0.8])
    assert list(sw) == ["rTMS"]  # the only pooled MD group with a crossover trial
    g = res.group("pain", "rTMS")
    fr = sw["rTMS"].to_frame()
    assert sw["rTMS"].n_assumed == 1
    # ri = 0: paired variance = parallel variance (equal n), so the synthesis' own fit
    assert g.fit is not None
    assert fr.loc[0.0, "estimate"] == pytest.approx(g.fit.estimate, rel=1e-10)
    assert fr.loc[0.0, "ci_lb"] == pytest.approx(g.fit.ci_lb, rel=1e-10)
    # ri = 0.8: Irlbacher's variance by hand, (sd1^2 + sd2^2 - 2 r sd1 sd2) / n
    c = next(c for c in g.comparisons if c.study_id == "irlbacher2006")
    a = c.inputs
    v = (a["sd1i"] ** 2 + a["sd2i"] ** 2 - 2 * 0.8 * a["sd1i"] * a["sd2i"]) / a["n1i"]
    vi = g.vi.copy()
    vi[[x.study_id for x in g.comparisons].index("irlbacher2006")] = v
    assert fr.loc[0.8, "estimate"] == pytest.approx(rma(g.yi, vi).estimate, rel=1e-10)
    assert fr.loc[0.8, "estimate"] != pytest.approx(fr.loc[0.0, "estimate"], rel=1e-6)


def test_sweep_needs_md_and_a_valid_grid() -> None:
    with pytest.raises(InputError, match="MD"):
        crossover_ri_sweep(synthesize(outcomes=["pain"]), [0.5])
    res = synthesize(outcomes=["pain"], measures={"pain": "MD"})
    with pytest.raises(InputError, match="grid"):
        crossover_ri_sweep(res, [1.5])


def test_pool_ri_sweep_cli() -> None:
    out = CliRunner().invoke(
        app,
        ["pool", "--outcome", "pain", "--pain-measure", "MD", "--no-plot", "--json"]
        + ["--ri-sweep", "0,0.5"],
    )
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)["ri_sweep"]["rTMS"]["rows"]
    assert [r["ri"] for r in rows] == [0.0, 0.5]
    assert np.isfinite(rows[1]["estimate"])
    bad = CliRunner().invoke(app, ["pool", "--outcome", "pain", "--no-plot", "--ri-sweep", "x"])
    assert bad.exit_code != 0
