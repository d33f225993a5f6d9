"""Trial sequential analysis: boundaries checked against independent computations.

* the first look and a single look have closed forms (Phi^-1 of the spending);
* two and three looks: the exact multivariate normal probability (scipy's Genz
  integration, an independent method) that |Z_k| >= c_k at some look equals alpha;
* many looks, unequal spacing: a seeded Monte Carlo of Brownian motion gives the
  crossing probability alpha (and 1.96 at every look does not: the ablation);
* futility: under the alternative the Monte Carlo probability of entering the futility
  region first equals beta;
* the RIS equals statsmodels' power calculation (an independent implementation);
* D^2 >= I^2 (Wetterslev et al. 2009, shown there for every meta-analysis).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from phantomlab.exceptions import InputError
from phantomlab.meta import escalc, ldobf_boundaries, required_information_size, rma, tsa
from phantomlab.meta.tsa import diversity
from phantomlab.meta.tsa_bounds import crossing_probabilities, futility_bounds, obf_spending

REF = Path(__file__).parent / "metafor_reference"


def _brownian_z(t: np.ndarray, n: int, seed: int, drift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = np.diff(np.r_[0.0, t])
    w = np.cumsum(rng.standard_normal((n, t.size)) * np.sqrt(dt) + drift * dt, axis=1)
    return w / np.sqrt(t)


def test_single_look_and_first_look_closed_forms() -> None:
    assert ldobf_boundaries([1.0])[0] == pytest.approx(stats.norm.isf(0.025), abs=1e-12)
    assert ldobf_boundaries([1.0], sides=1)[0] == pytest.approx(stats.norm.isf(0.05), abs=1e-12)
    c = ldobf_boundaries([0.3, 0.7, 1.0], alpha=0.05, spending="total")
    spent = 2 * stats.norm.sf(stats.norm.isf(0.025) / np.sqrt(0.3))
    assert c[0] == pytest.approx(stats.norm.isf(spent / 2), rel=1e-12)
    c = ldobf_boundaries([0.3, 0.7, 1.0], alpha=0.05)
    per_side = 2 * stats.norm.sf(stats.norm.isf(0.0125) / np.sqrt(0.3))
    assert c[0] == pytest.approx(stats.norm.isf(per_side), rel=1e-12)
    # per-side spending: the upper boundary of a one-sided alpha/2 design
    np.testing.assert_allclose(
        ldobf_boundaries([0.3, 0.7, 1.0], spending="per_side"),
        ldobf_boundaries([0.3, 0.7, 1.0], alpha=0.025, sides=1),
    )


def _spent(t: np.ndarray | float, alpha: float, spending: str) -> np.ndarray:
    """Two-sided alpha spent by t under either convention."""
    if spending == "per_side":
        return 2 * obf_spending(t, alpha / 2)
    return obf_spending(t, alpha)


@pytest.mark.parametrize("spending", ["per_side", "total"])
@pytest.mark.parametrize("t", [(0.5, 1.0), (0.25, 0.6, 1.0), (0.4, 0.8, 0.9)])
def test_exact_multivariate_normal(t: tuple[float, ...], spending: str) -> None:
    """P(|Z_k| >= c_k for some k) = alpha*(t_K) by Genz's integration (independent)."""
    tt = np.array(t)
    c = ldobf_boundaries(tt, alpha=0.05, spending=spending)
    cov = np.sqrt(np.minimum.outer(tt, tt) / np.maximum.outer(tt, tt))
    mvn = stats.multivariate_normal(mean=np.zeros(tt.size), cov=cov, abseps=1e-8, releps=1e-8)
    inside = mvn.cdf(c, lower_limit=-c, rng=np.random.default_rng(0))
    assert 1 - inside == pytest.approx(_spent(tt[-1], 0.05, spending), abs=2e-6)


RPACT = json.loads((Path(__file__).parent / "tsa_reference" / "rpact_bounds.json").read_text())
#: rpact cases where its own spending is monotone and every boundary finite
RPACT_CLEAN = [
    "equal5_two_sided",
    "equal2_two_sided",
    "alpha01_two_sided",
    "equal4_one_sided",
    "unequal_one_sided",
]


@pytest.mark.parametrize("name", RPACT_CLEAN)
def test_matches_rpact(name: str) -> None:
    """rpact 3.3.4 (asOF, an independent implementation): boundaries to 1e-6."""
    case = RPACT[name]
    got = ldobf_boundaries(case["t"], alpha=case["alpha"], sides=case["sided"])
    np.testing.assert_allclose(got, case["critical"], rtol=0, atol=1e-6)


def test_where_rpact_is_off_the_exact_probability_decides() -> None:
    """Very close looks (t = 0.30, 0.31, 0.32): rpact's third boundary is 0.01 lower than
    ours; the exact (Genz) probability of first crossing there shows that ours spends
    alpha*(t) and rpact's overspends (a 2e8-path Monte Carlo agreed: 3.44e-5 vs 3.77e-5 for
    a target of 3.49e-5, SE 4e-7)."""
    case = RPACT["close_looks_two_sided"]
    t = np.array(case["t"][:3])
    ours = ldobf_boundaries(case["t"])[:3]
    theirs = np.array(case["critical"][:3])
    assert abs(ours[2] - theirs[2]) > 0.005
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    mvn = stats.multivariate_normal(mean=np.zeros(3), cov=cov, abseps=1e-10, releps=1e-10)
    target = 2 * obf_spending(t[-1], 0.025)

    def crossed(b: np.ndarray) -> float:
        return float(1 - mvn.cdf(b, lower_limit=-b, rng=np.random.default_rng(0)))

    assert abs(crossed(ours) - target) < 5e-7
    assert abs(crossed(theirs) - target) > 2e-6


@pytest.mark.parametrize("spending", ["per_side", "total"])
def test_monte_carlo_type_one_error_and_ablation(spending: str) -> None:
    """Unequal looks (small and large increments): crossing probability is alpha; with the
    naive 1.96 at every look (no spending: the mechanism switched off) it is not."""
    t = np.array([0.02, 0.05, 0.06, 0.15, 0.4, 0.41, 0.7, 1.0])
    c = ldobf_boundaries(t, spending=spending)
    n = 200_000
    z = _brownian_z(t, n, seed=7)
    rate = float((np.abs(z) >= c).any(axis=1).mean())
    se = np.sqrt(0.05 * 0.95 / n)
    assert abs(rate - 0.05) < 4 * se
    naive = float((np.abs(z) >= stats.norm.isf(0.025)).any(axis=1).mean())
    assert naive > 0.09
    # the recursive integration agrees with itself: exit probabilities sum to the spending
    up, lo = crossing_probabilities(t, c, -c)
    if spending == "total":
        np.testing.assert_allclose(np.cumsum(up + lo), obf_spending(t, 0.05), atol=1e-9)
    else:
        # per side: each side is a one-sided level-alpha/2 design; the two-sided total is
        # alpha less the (tiny) probability of paths that would cross both sides (as rpact)
        up1, _ = crossing_probabilities(t, c, np.full(t.size, -np.inf))
        np.testing.assert_allclose(np.cumsum(up1), obf_spending(t, 0.025), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(np.cumsum(up + lo), _spent(t, 0.05, spending), atol=2e-8)


def test_grid_accuracy() -> None:
    """The extrapolated boundaries agree with a 4x finer grid to 1e-6."""
    import phantomlab.meta.tsa_bounds as tb

    t = np.array([0.05, 0.1, 0.2, 0.35, 0.4, 0.6, 0.8, 1.0])
    coarse = ldobf_boundaries(t)
    old = tb.GRID
    try:
        tb.GRID = 1201
        fine = ldobf_boundaries(t)
    finally:
        tb.GRID = old
    np.testing.assert_allclose(coarse, fine, atol=1e-6)


def test_futility_monte_carlo() -> None:
    t = np.array([0.2, 0.4, 0.6, 0.8, 1.0])
    c = ldobf_boundaries(t, alpha=0.05)
    theta = stats.norm.isf(0.025) + stats.norm.isf(0.2)
    a = futility_bounds(t, c, 0.2, theta)
    assert np.all(np.diff(a) > 0) and a[-1] < c[-1]
    n = 200_000
    z = _brownian_z(t, n, seed=11, drift=theta)
    lower = np.where(np.isfinite(a), a, -np.inf)
    up, below = z >= c, z < lower
    first = np.argmax(up | below, axis=1)
    stopped = (up | below).any(axis=1)
    fut = float((stopped & below[np.arange(n), first]).mean())
    assert abs(fut - 0.2) < 4 * np.sqrt(0.2 * 0.8 / n)


def test_required_information_size_vs_statsmodels() -> None:
    from statsmodels.stats.power import NormalIndPower

    pc, rrr = 0.3, 0.25
    pe = pc * (1 - rrr)
    pbar = (pc + pe) / 2
    es = (pc - pe) / np.sqrt(pbar * (1 - pbar))
    n1 = NormalIndPower().solve_power(effect_size=es, alpha=0.05, power=0.9, ratio=1.0)
    ris = required_information_size(control_rate=pc, rrr=rrr, beta=0.1)
    assert ris == pytest.approx(2 * n1, rel=1e-6)
    n1 = NormalIndPower().solve_power(effect_size=5 / 20, alpha=0.01, power=0.8, ratio=1.0)
    ris = required_information_size(mean_difference=5, sd=20, alpha=0.01)
    assert ris == pytest.approx(2 * n1, rel=1e-6)
    assert required_information_size(mean_difference=5, sd=20, heterogeneity=0.5) == (
        pytest.approx(2 * required_information_size(mean_difference=5, sd=20))
    )


@pytest.mark.parametrize("name", ["bcg", "hackshaw1998", "raudenbush1985"])
def test_diversity_at_least_inconsistency(name: str) -> None:
    """Wetterslev et al. 2009: D^2 >= I^2 for every meta-analysis (DL)."""
    import pandas as pd

    dat = pd.read_csv(REF / f"{name}.csv")
    d2 = diversity(dat["yi"], dat["vi"], method="DL")
    i2 = rma(dat["yi"], dat["vi"], method="DL").I2 / 100
    assert 0 < i2 <= d2 + 1e-12 < 1


def _magnesium() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    case = json.loads((REF / "mh" / "mh.json").read_text())["egger2001_noisis4_mh_OR"]
    ai, bi, ci, di = (np.array(case[k], dtype=float) for k in ("ai", "bi", "ci", "di"))
    es = escalc("RR", ai=ai, bi=bi, ci=ci, di=di)
    return es["yi"].to_numpy(), es["vi"].to_numpy(), ai + bi + ci + di


def test_tsa_magnesium() -> None:
    """dat.egger2001 without ISIS-4 (15 trials, chronological)."""
    yi, vi, ni = _magnesium()
    res = tsa(yi, vi, ni, control_rate=0.1, rrr=0.25)
    # the last cumulative z is the DL model of all trials; the first is trial 1 alone
    assert res.zval[-1] == pytest.approx(rma(yi, vi, method="DL").zval, rel=1e-12)
    assert res.zval[0] == pytest.approx(yi[0] / np.sqrt(vi[0]), rel=1e-12)
    d2 = diversity(yi, vi)
    assert res.heterogeneity == pytest.approx(d2)
    assert res.ris == pytest.approx(res.ris_unadjusted / (1 - d2))
    np.testing.assert_allclose(res.info_frac, np.cumsum(ni) / res.ris)
    np.testing.assert_allclose(res.upper, ldobf_boundaries(res.info_frac))
    cross = np.abs(res.zval) >= res.upper
    assert res.crossed == "benefit/harm" and res.crossed_at == int(np.argmax(cross))
    # ablation: with the conventional 1.96 the z-curve "crosses" already at trial 2
    assert np.argmax(np.abs(res.zval) >= 1.96) < res.crossed_at
    frame = res.to_frame()
    assert list(frame.columns)[:4] == ["n", "cum_n", "info_frac", "estimate"]
    json.dumps(res.to_dict(), allow_nan=False)
    assert "firm evidence" in res.summary()


def test_tsa_ris_reached_and_futility() -> None:
    rng = np.random.default_rng(3)
    k = 12
    ni = np.full(k, 400.0)
    vi = np.full(k, 4 / 400 * 4)
    yi = rng.normal(0.0, np.sqrt(vi))
    res = tsa(yi, vi, ni, ris=3000, method="EE")
    assert res.info_frac[-1] > 1 and res.ris == 3000 and res.heterogeneity_kind == "none"
    full = int(np.argmax(res.info_frac >= 1))
    assert np.all(res.upper[full:] == res.upper[full])
    assert res.upper[full] == pytest.approx(
        ldobf_boundaries(res.info_frac[:full].tolist() + [1])[-1]
    )
    fut = tsa(yi * 0, vi, ni, ris=3000, method="EE", futility=True)
    assert fut.crossed == "futility"
    assert np.isfinite(fut.futility).any()


def test_tsa_bad_input() -> None:
    yi, vi, ni = _magnesium()
    with pytest.raises(InputError, match="alpha"):
        tsa(yi, vi, ni, control_rate=0.1, rrr=0.25, alpha=1.5)
    with pytest.raises(InputError, match="ni"):
        tsa(yi, vi, -ni, control_rate=0.1, rrr=0.25)
    with pytest.raises(InputError, match="equal lengths"):
        tsa(yi, vi[:-1], ni, control_rate=0.1, rrr=0.25)
    with pytest.raises(InputError, match="one pair"):
        tsa(yi, vi, ni)
    with pytest.raises(InputError, match="heterogeneity"):
        tsa(yi, vi, ni, control_rate=0.1, rrr=0.25, heterogeneity="tau")
    with pytest.raises(InputError, match="info_frac"):
        ldobf_boundaries([0.5, 0.4])
    with pytest.raises(InputError, match="rrr"):
        required_information_size(control_rate=0.5, rrr=-1.5)


def test_cli_tsa(tmp_path: Path) -> None:
    import pandas as pd
    from typer.testing import CliRunner

    from phantomlab.cli.meta import app

    yi, vi, ni = _magnesium()
    path = tmp_path / "mg.csv"
    pd.DataFrame({"yi": yi, "vi": vi, "ni": ni}).to_csv(path, index=False)
    out = CliRunner().invoke(
        app, ["tsa", str(path), "--control-rate", "0.1", "--rrr", "0.25", "--json"]
    )
    assert out.exit_code == 0, out.output
    got = json.loads(out.stdout)
    ref = tsa(yi, vi, ni, control_rate=0.1, rrr=0.25)
    assert got["ris"] == pytest.approx(ref.ris) and got["crossed"] == "benefit/harm"
    assert got["boundary"] == pytest.approx(ref.upper.tolist())
    out = CliRunner().invoke(
        app,
        ["tsa", str(path), "--control-rate", "0.1", "--rrr", "0.25", "--spending", "total"],
    )
    assert out.exit_code == 0 and "spending, total" in out.stdout


def test_docstring_examples() -> None:
    import doctest
    import importlib

    for name in ("phantomlab.meta.mh", "phantomlab.meta.tsa"):
        result = doctest.testmod(importlib.import_module(name))
        assert result.failed == 0 and result.attempted > 0, name


def test_docs_section_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """The MH/Peto and TSA examples of docs/meta_analysis.md run and print what is shown."""
    import re

    import matplotlib

    matplotlib.use("Agg")
    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "meta_analysis.md").read_text()
    part = text[text.index("## Binary outcomes") : text.index("## Not (yet) covered")]
    blocks = re.findall(r"^```(\w*)\n(.*?)^```$", part, re.S | re.M)
    code = "\n".join(body for lang, body in blocks if lang == "python")
    code = code.replace('"tests/meta', f'"{root}/tests/meta')
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/meta_analysis.md", "exec"), {})
    printed = capsys.readouterr().out
    shown = [body for lang, body in blocks if lang == ""]
    assert len(shown) == 2
    for block in shown:
        for line in block.strip().splitlines():
            assert line.rstrip() in printed, line
    assert (tmp_path / "mh_forest.png").exists() and (tmp_path / "tsa.png").exists()
