"""Paired effect sizes, the ri sweep and percent change against metafor 3.8-1 (paired/paired.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phantomlab.exceptions import InputError
from phantomlab.meta import rma_subgroups
from phantomlab.meta.escalc import escalc
from phantomlab.meta.escalc_paired import (
    implied_ri,
    paired_escalc,
    percent_change,
    rescale_linear,
    responder_threshold,
    ri_sweep,
    sd_diff_from_t,
    vas100_to_nrs10,
)

REF = json.loads(
    (Path(__file__).parent / "metafor_reference" / "paired" / "paired.json").read_text()
)
D = {k: np.asarray(v) for k, v in REF["data"].items() if k != "study"}
ARGS = {"m1i": D["m_a"], "sd1i": D["sd_a"], "m2i": D["m_b"], "sd2i": D["sd_b"], "ni": D["ni"]}
TOL = {"rtol": 1e-10, "atol": 1e-12}


@pytest.mark.parametrize("measure", ["MC", "SMCC", "SMCRH", "ROMC"])
def test_paired_measures_match_metafor(measure: str) -> None:
    out = paired_escalc(measure, **ARGS, ri=0.5)
    ref = REF[f"{measure}_r05"]
    np.testing.assert_allclose(out["yi"], ref["yi"], **TOL)
    np.testing.assert_allclose(out["vi"], ref["vi"], **TOL)
    assert set(out["ri_source"]) == {"assumed"}


def test_ri_from_reported_sd_diff_and_from_t_match_metafor() -> None:
    imp = REF["implied"]
    np.testing.assert_allclose(implied_ri(D["sd_a"], D["sd_b"], D["sd_diff"]), imp["ri"], **TOL)
    out = paired_escalc("MC", **ARGS, sd_diff=D["sd_diff"])
    np.testing.assert_allclose(out["yi"], imp["MC_yi"], **TOL)
    np.testing.assert_allclose(out["vi"], imp["MC_vi"], **TOL)
    # second route: metafor's MN on the differences gives the same variance sd_diff^2 / n
    np.testing.assert_allclose(out["vi"], imp["MN_vi"], **TOL)
    assert set(out["ri_source"]) == {"sd_diff"}
    smcc = paired_escalc("SMCC", **ARGS, sd_diff=D["sd_diff"])
    np.testing.assert_allclose(smcc["yi"], imp["SMCC_yi"], **TOL)
    np.testing.assert_allclose(smcc["vi"], imp["SMCC_vi"], **TOL)
    # a paired t statistic reconstructs the same SD, hence the same effect sizes
    np.testing.assert_allclose(
        sd_diff_from_t(D["m_a"] - D["m_b"], D["t"], D["ni"]), D["sd_diff"], rtol=1e-12
    )
    via_t = paired_escalc("MC", **ARGS, t=D["t"])
    np.testing.assert_allclose(via_t["vi"], imp["MC_vi"], **TOL)
    assert set(via_t["ri_source"]) == {"t"}


def test_reported_sd_diff_wins_over_assumed_ri_per_study() -> None:
    sdd = D["sd_diff"].copy()
    sdd[:3] = np.nan
    out = paired_escalc("MC", **ARGS, ri=0.5, sd_diff=sdd)
    assert list(out["ri_source"]) == ["assumed"] * 3 + ["sd_diff"] * 5
    np.testing.assert_allclose(out["vi"][:3], REF["MC_r05"]["vi"][:3], **TOL)
    np.testing.assert_allclose(out["vi"][3:], REF["implied"]["MC_vi"][3:], **TOL)


def test_bad_paired_input_is_one_input_error() -> None:
    with pytest.raises(InputError, match="ri"):
        paired_escalc("MC", **ARGS)  # no ri, no sd_diff, no t
    with pytest.raises(InputError, match="outside"):
        implied_ri([1.0], [1.0], [2.5])  # sd_diff > sd1 + sd2
    with pytest.raises(InputError, match="measure"):
        paired_escalc("SMD", **ARGS, ri=0.5)


@pytest.mark.parametrize("measure", ["MC", "SMCRH"])
def test_ri_sweep_matches_metafor_refits(measure: str) -> None:
    ref = REF[f"sweep_{measure}"]
    res = ri_sweep(measure, **ARGS, ri=ref["ri"])
    fr = res.to_frame()
    for col in ("estimate", "ci_lb", "ci_ub", "tau2"):
        np.testing.assert_allclose(fr[col], ref[col], rtol=1e-6, atol=1e-9)
    assert res.n_assumed == 8
    # the mechanism: a higher correlation narrows the CI of the paired mean difference
    width = (fr["ci_ub"] - fr["ci_lb"]).to_numpy()
    if measure == "MC":
        assert np.all(np.diff(width) < 0)
    assert "assumed ri" in res.summary()
    fig = res.plot()
    assert fig.axes[0].get_xlabel().startswith("assumed within-patient correlation")


def test_ri_sweep_leaves_reported_correlations_alone() -> None:
    # ablation: with every sd_diff reported, sweeping ri changes nothing
    res = ri_sweep("MC", **ARGS, sd_diff=D["sd_diff"])
    fr = res.to_frame()
    assert res.n_assumed == 0
    assert np.ptp(fr["estimate"].to_numpy()) < 1e-12
    assert np.ptp(fr["ci_lb"].to_numpy()) < 1e-12


def test_percent_change_on_log_scale_matches_metafor_and_stays_above_minus_100() -> None:
    pc = percent_change(**ARGS, ri=0.5)
    ref = REF["ROMC_pct"]
    pooled = pc.loc["pooled"]
    assert pooled["pct"] == pytest.approx(ref["pred"][0], rel=1e-6)
    assert pooled["pct_lb"] == pytest.approx(ref["ci_lb"][0], rel=1e-6)
    assert pooled["pct_ub"] == pytest.approx(ref["ci_ub"][0], rel=1e-6)
    # a small, noisy study with a large reduction: the naive interval on the percent
    # scale (delta method around the ratio) runs below -100 %, the log-scale one cannot
    m1, m2, s1, s2, n = 1.5, 6.0, 3.0, 2.0, 5
    pc = percent_change(m1i=[m1], sd1i=[s1], m2i=[m2], sd2i=[s2], ni=[n], ri=0.3)
    v_log = escalc("ROMC", m1i=[m1], m2i=[m2], sd1i=[s1], sd2i=[s2], ni=[n], ri=[0.3])["vi"][0]
    naive_lb = 100 * (m1 / m2 - 1) - 1.96 * 100 * (m1 / m2) * np.sqrt(v_log)
    assert naive_lb < -100
    assert pc["pct_lb"].iloc[0] > -100
    assert pc["pct"].iloc[0] == pytest.approx(100 * (m1 / m2 - 1))


def test_vas_to_nrs_is_linear_and_checked() -> None:
    m, s = vas100_to_nrs10([0.0, 62.0, 100.0], [10.0, 18.0, 5.0])
    np.testing.assert_allclose(m, [0.0, 6.2, 10.0])
    assert s is not None
    np.testing.assert_allclose(s, [1.0, 1.8, 0.5])
    # a standardized mean difference does not change under the rescaling
    d_before = (62.0 - 48.0) / 18.0
    m2, s2 = vas100_to_nrs10([62.0, 48.0], [18.0, 18.0])
    assert s2 is not None
    assert (m2[0] - m2[1]) / s2[0] == pytest.approx(d_before)
    m3, _ = rescale_linear([3.0], from_range=(1, 5), to_range=(0, 10))
    assert m3[0] == pytest.approx(5.0)
    with pytest.raises(InputError, match="outside scale"):
        vas100_to_nrs10([120.0])


def test_responder_thresholds_are_separate_outcomes() -> None:
    labels = [
        "responders >30% VAS reduction",
        "responders >=50% reduction average pain (BPI-SF)",
        ">=50% relief of post-amputation pain",
        "VAS 0-100 mm",
    ]
    assert [responder_threshold(x) for x in labels] == [30.0, 50.0, 50.0, None]


def test_subgroups_common_tau2_matches_metafor_mixed_model() -> None:
    ref = REF["bcg_common"]
    bcg = json.loads((Path(__file__).parent / "metafor_reference" / "bcg.json").read_text())
    import pandas as pd

    d = pd.read_csv(Path(__file__).parent / "metafor_reference" / "bcg.csv")
    assert bcg["dataset"]
    res = rma_subgroups(d["yi"], d["vi"], list(d["alloc"]), tau2="common")
    g = res.to_frame()
    assert list(g.index) == ref["group"]
    for col in ("estimate", "se", "ci_lb", "ci_ub"):
        np.testing.assert_allclose(g[col], ref[col], rtol=1e-6)
    np.testing.assert_allclose(g["tau2"], ref["tau2"][0], rtol=1e-6)
    assert res.Qb == pytest.approx(ref["QM"][0], rel=1e-6)
    sep = rma_subgroups(d["yi"], d["vi"], list(d["alloc"]), tau2="separate").to_frame()
    # ablation: the separate-tau^2 table differs (that was the bug: it was printed for both)
    assert not np.allclose(sep["tau2"], g["tau2"])
    assert "common tau^2" in res.summary()


def test_cli_transf_exp_paired_sweep_and_common_subgroups(tmp_path: Path) -> None:
    import pandas as pd
    from typer.testing import CliRunner

    from phantomlab.cli.meta import app
    from phantomlab.meta import rma

    runner = CliRunner()
    bcg = Path(__file__).parent / "metafor_reference" / "bcg.csv"
    out = runner.invoke(app, ["rma", str(bcg), "--transf", "exp", "--json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.stdout)["predict_transf"]
    d = pd.read_csv(bcg)
    fit = rma(d["yi"], d["vi"])
    assert got["pred"][0] == pytest.approx(np.exp(fit.estimate), rel=1e-12)
    assert got["ci_lb"][0] == pytest.approx(np.exp(fit.ci_lb), rel=1e-12)
    bad = runner.invoke(app, ["rma", str(bcg), "--transf", "log"])
    assert bad.exit_code != 0
    # subgroups --tau2 common prints the common-tau^2 model's rows
    out = runner.invoke(app, ["subgroups", str(bcg), "--by", "alloc", "--tau2", "common", "--json"])
    assert out.exit_code == 0, out.output
    groups = json.loads(out.stdout)["groups"]
    ref = REF["bcg_common"]
    for g, est, t2 in zip(ref["group"], ref["estimate"], ref["tau2"] * 3, strict=True):
        assert groups[g]["estimate"] == pytest.approx(est, rel=1e-6)
        assert groups[g]["tau2"] == pytest.approx(t2, rel=1e-6)
    # meta paired --ri-sweep on the crossover table
    co = pd.DataFrame({k: REF["data"][k] for k in ("ni", "m_a", "sd_a", "m_b", "sd_b")})
    p = tmp_path / "co.csv"
    co.to_csv(p, index=False)
    cols = ["--m1i", "m_a", "--sd1i", "sd_a", "--m2i", "m_b", "--sd2i", "sd_b"]
    png = tmp_path / "sweep.svg"
    out = runner.invoke(
        app,
        ["paired", str(p), *cols, "--ri-sweep", "0.2,0.5,0.8", "--plot", str(png), "--json"],
    )
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)["rows"]
    sw = REF["sweep_MC"]
    assert [r["estimate"] for r in rows] == pytest.approx(
        [sw["estimate"][0], sw["estimate"][3], sw["estimate"][6]], rel=1e-6
    )
    assert png.read_text().lstrip().startswith("<?xml")


def test_docs_paired_example_prints_what_the_page_shows(  # type: ignore[no-untyped-def]
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import re

    import matplotlib

    matplotlib.use("Agg")
    doc = Path(__file__).resolve().parents[2] / "docs" / "meta_analysis.md"
    text = doc.read_text()
    code = "\n".join(re.findall(r"```python paired\n(.*?)```", text, re.S))
    assert "ri_sweep" in code
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(doc), "exec"), {})
    printed = capsys.readouterr().out
    (shown,) = re.findall(r"```text paired\n(.*?)```", text, re.S)
    for line in shown.strip().splitlines():
        assert line.rstrip() in printed, line
    assert (tmp_path / "ri_sweep.png").exists()
    assert (Path(doc).parent / "img" / "plp_forest_pain.png").exists()


def test_docstring_examples_paired() -> None:
    import doctest

    import phantomlab.meta.escalc_paired as mod

    result = doctest.testmod(mod)
    assert result.failed == 0 and result.attempted > 0
