"""PLP synthesis: arm selection rules and pooled numbers recomputed by hand.

Every number is checked against formulas written out here (Hedges' g with the
exact correction, log RR with the 1/2 zero-cell correction, logit proportion,
inverse-variance EE and DerSimonian-Laird pooling, REML by direct maximization
of the restricted likelihood with scipy), not against the engine's own code.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import gammaln
from scipy.stats import norm

from phantomlab.cli._common import jsonable
from phantomlab.evidence.records import COLUMNS, default_path, load_studies
from phantomlab.evidence.synthesis import OUTCOMES, combine_arms, select, synthesize
from phantomlab.exceptions import InputError

Z = norm.ppf(0.975)


# ----------------------------------------------------------- hand formulas
def hedges_g(
    m1: float, s1: float, n1: float, m2: float, s2: float, n2: float
) -> tuple[float, float]:
    """Hedges' g (exact small-sample correction) and its large-sample variance."""
    df = n1 + n2 - 2
    j = math.exp(gammaln(df / 2) - math.log(math.sqrt(df / 2)) - gammaln((df - 1) / 2))
    sp = math.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / df)
    g = j * (m1 - m2) / sp
    return g, 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))


def log_rr(a: float, n1: float, c: float, n2: float) -> tuple[float, float]:
    """log risk ratio, adding 1/2 to every cell of a table with a zero cell."""
    b, d = n1 - a, n2 - c
    if 0 in (a, b, c, d):
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    n1, n2 = a + b, c + d
    return math.log((a / n1) / (c / n2)), 1 / a - 1 / n1 + 1 / c - 1 / n2


def ee(y: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    w = 1 / v
    return float(np.sum(w * y) / np.sum(w)), float(1 / math.sqrt(np.sum(w)))


def dl(y: np.ndarray, v: np.ndarray) -> tuple[float, float, float]:
    w = 1 / v
    mu0 = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - mu0) ** 2)
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    tau2 = max(0.0, (q - (len(y) - 1)) / c)
    est, se = ee(y, v + tau2)
    return est, se, float(tau2)


def reml(y: np.ndarray, v: np.ndarray) -> tuple[float, float, float]:
    def nll(t2: float) -> float:
        w = 1 / (v + t2)
        mu = np.sum(w * y) / np.sum(w)
        return 0.5 * (np.sum(np.log(v + t2)) + math.log(np.sum(w)) + np.sum(w * (y - mu) ** 2))

    opt = minimize_scalar(nll, bounds=(0.0, 100.0), method="bounded", options={"xatol": 1e-12})
    t2 = float(opt.x) if nll(opt.x) < nll(0.0) else 0.0
    est, se = ee(y, v + t2)
    return est, se, t2


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    return synthesize()


# ---------------------------------------------------------------- combine
def test_combine_arms_matches_published_worked_example() -> None:
    # StatsToDo "Combine means and SDs" example (Cochrane formula): 45, 12.2222, 4.5028
    n, m, s = combine_arms([10, 20, 15], [11.8, 15.3, 8.4], [2.4, 3.2, 4.1])
    assert n == 45
    assert m == pytest.approx(12.2222, abs=5e-5)
    assert s == pytest.approx(4.5028, abs=5e-5)


def test_combine_arms_equals_statistics_of_the_pooled_sample() -> None:
    rng = np.random.default_rng(3)
    parts = [rng.normal(loc, sc, size) for loc, sc, size in ((3, 1, 7), (5.5, 2, 11), (-1, 0.5, 4))]
    n, m, s = combine_arms(
        [len(p) for p in parts], [p.mean() for p in parts], [p.std(ddof=1) for p in parts]
    )
    allx = np.concatenate(parts)
    assert n == len(allx)
    assert m == pytest.approx(allx.mean(), rel=1e-12)
    assert s == pytest.approx(allx.std(ddof=1), rel=1e-12)


def test_combine_arms_rejects_bad_input() -> None:
    with pytest.raises(InputError):
        combine_arms([10, 0], [1, 2], [1, 1])
    with pytest.raises(InputError):
        combine_arms([10], [1, 2], [1])


# -------------------------------------------------------------- selection
def test_pain_rtms_uses_the_sham_controlled_post_scores(result) -> None:  # type: ignore[no-untyped-def]
    g = result.group("pain", "rTMS")
    assert [c.study_id for c in g.comparisons] == ["malavera2016", "ahmed2011", "irlbacher2006"]
    assert [c.lines for c in g.comparisons] == [(6, 7), (8, 9), (10, 11, 12)]
    assert g.measure == "SMD" and g.pooled


def test_single_study_groups_are_not_pooled(result) -> None:  # type: ignore[no-untyped-def]
    g = result.group("pain", "tDCS")
    assert g.k == 1 and g.fit is None
    assert g.comparisons[0].study_id == "kikkert2019"
    y, v = hedges_g(1.73, 3.05, 8, 2.50, 2.56, 8)
    est, lb, ub = g.estimate()
    assert est == pytest.approx(y, rel=1e-10)
    assert (lb, ub) == pytest.approx((y - Z * math.sqrt(v), y + Z * math.sqrt(v)), rel=1e-10)


def test_rows_without_sd_are_listed_never_imputed(result) -> None:  # type: ignore[no-untyped-def]
    reasons = {(e.study_id, e.outcome): e.reason for e in result.excluded}
    for sid in ("bolognini2013", "bolognini2015"):
        assert "no SD" in reasons[(sid, "pain")]
    assert "no SD" in reasons[("bittar2005", "pct-change")]
    assert "SE" in reasons[("gunduz2021", "pain")]
    assert "no comparator" in reasons[("finn2017", "pain")]
    assert "different time points" in reasons[("gilmore2020", "responders")]
    used = {c.study_id for g in result.groups for c in g.comparisons}
    assert not used & {"bolognini2013", "bolognini2015", "bittar2005", "gunduz2021"}


def test_removing_an_sd_removes_the_study_instead_of_imputing(tmp_path: Path) -> None:
    with default_path().open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows[4]["sd"] = ""  # line 6: malavera2016 active post-treatment VAS
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path = tmp_path / "plp.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    res = synthesize(load_studies(path), outcomes=["pain"])
    g = res.group("pain", "rTMS")
    assert [c.study_id for c in g.comparisons] == ["ahmed2011", "irlbacher2006"]
    mal = [e for e in res.excluded if e.study_id == "malavera2016"]
    assert any("no SD" in e.reason and e.lines == (6, 7) for e in mal)


def test_every_row_is_used_excluded_or_a_published_pool(result) -> None:  # type: ignore[no-untyped-def]
    lines: list[int] = []
    for o in OUTCOMES:
        used = [
            ln for g in result.groups if g.outcome == o for c in g.comparisons for ln in c.lines
        ]
        assert len(used) == len(set(used)), o  # no row twice in one analysis
        lines += used
        lines += [ln for e in result.excluded if e.outcome == o for ln in e.lines]
    lines += [p.line for p in result.published]
    assert sorted(set(lines)) == list(range(2, 55))


def test_multi_arm_crossover_combined_without_double_counting(result) -> None:  # type: ignore[no-untyped-def]
    c = next(c for c in result.group("pain", "rTMS").comparisons if c.study_id == "irlbacher2006")
    var = (13 * 2.79**2 + 13 * 2.33**2 + 14 * 14 / 28 * (4.22 - 4.99) ** 2) / 27
    assert c.inputs["m1i"] == pytest.approx((4.22 + 4.99) / 2, rel=1e-12)
    assert c.inputs["sd1i"] == pytest.approx(math.sqrt(var), rel=1e-12)
    assert c.inputs["n1i"] == 14  # same 14 patients in both active arms
    assert any("crossover" in n for n in c.notes)


# ------------------------------------------------------- numbers by hand
def test_smd_pooling_rtms_matches_hand_reml_and_dl() -> None:
    irl_sd = math.sqrt((13 * 2.79**2 + 13 * 2.33**2 + 7 * (4.22 - 4.99) ** 2) / 27)
    data = [
        (2.28, 2.51, 27, 3.71, 2.97, 27),
        (3.4, 1.2, 17, 7.4, 0.84, 10),
        ((4.22 + 4.99) / 2, irl_sd, 14, 4.37, 2.97, 14),
    ]
    y, v = map(np.array, zip(*[hedges_g(*d) for d in data], strict=True))
    for method, ref in (("REML", reml(y, v)), ("DL", dl(y, v))):
        g = synthesize(outcomes=["pain"], method=method).group("pain", "rTMS")
        np.testing.assert_allclose(g.yi, y, rtol=1e-10)
        np.testing.assert_allclose(g.vi, v, rtol=1e-10)
        assert g.fit is not None
        assert g.fit.estimate == pytest.approx(ref[0], rel=1e-6)
        assert g.fit.se == pytest.approx(ref[1], rel=1e-6)
        assert g.fit.tau2 == pytest.approx(ref[2], rel=1e-5)
        assert g.fit.ci_lb == pytest.approx(ref[0] - Z * ref[1], rel=1e-6)


def test_three_study_rr_pooling_by_hand() -> None:
    """PNS: Gilmore 2019 (7/12 vs 2/14), Albright-Trainer 2022 (5/5 vs 4/8, zero cell) and
    Kapural 2024 (21/85 vs 6/85, high-frequency nerve block)."""
    y1, v1 = log_rr(7, 12, 2, 14)
    y2, v2 = log_rr(5, 5, 4, 8)  # non-responders 0 in the PNS arm -> +1/2 to all cells
    y3, v3 = log_rr(21, 85, 6, 85)
    assert y2 == pytest.approx(math.log((5.5 / 6) / (4.5 / 9)))
    assert y3 == pytest.approx(math.log(21 / 6))
    y, v = np.array([y1, y2, y3]), np.array([v1, v2, v3])
    w = 1 / v
    est_ee = float(np.sum(w * y) / np.sum(w))
    se_ee = 1 / math.sqrt(float(np.sum(w)))
    q = np.sum(w * (y - est_ee) ** 2)
    tau2 = max(0.0, (q - 2) / (np.sum(w) - np.sum(w**2) / np.sum(w)))
    ws = 1 / (v + tau2)
    est_dl = float(np.sum(ws * y) / np.sum(ws))
    se_dl = 1 / math.sqrt(float(np.sum(ws)))

    g = synthesize(outcomes=["responders"], method="EE").group("responders", "PNS")
    np.testing.assert_allclose(g.yi, y, rtol=1e-12)
    np.testing.assert_allclose(g.vi, v, rtol=1e-12)
    assert g.fit is not None
    assert g.fit.estimate == pytest.approx(est_ee, rel=1e-10)
    assert g.fit.se == pytest.approx(se_ee, rel=1e-10)
    assert g.fit.QE == pytest.approx(q, rel=1e-10)

    g = synthesize(outcomes=["responders"], method="DL").group("responders", "PNS")
    assert g.fit is not None
    assert g.fit.tau2 == pytest.approx(tau2, rel=1e-10, abs=1e-14)
    assert g.fit.estimate == pytest.approx(est_dl, rel=1e-10)
    assert g.fit.se == pytest.approx(se_dl, rel=1e-10)
    shown = synthesize(outcomes=["responders"], method="DL").to_frame().set_index("group")
    assert shown.loc["PNS", "shown"] == pytest.approx(math.exp(est_dl), rel=1e-10)

    g = synthesize(outcomes=["responders"]).group("responders", "PNS")
    est, se, t2 = reml(y, v)
    assert g.fit is not None
    # Fisher scoring stops once tau2 moves by <= 1e-5 (metafor's threshold, meta._kernels)
    assert g.fit.tau2 == pytest.approx(t2, rel=1e-5, abs=1e-5)
    assert g.fit.estimate == pytest.approx(est, rel=1e-5)


def test_single_arm_proportion_by_logit_by_hand(result) -> None:  # type: ignore[no-untyped-def]
    g = result.group("single-arm", "DBS")  # Nihon series: 6/10 SCS failures controlled by DBS
    y = math.log(6 / 4)
    v = 1 / 6 + 1 / 4
    assert g.measure == "PLO" and g.fit is None
    assert float(g.yi[0]) == pytest.approx(y, rel=1e-12)
    assert float(g.vi[0]) == pytest.approx(v, rel=1e-12)
    row = result.to_frame().set_index(["outcome", "group"]).loc[("single-arm", "DBS")]
    ilogit = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert row["shown"] == pytest.approx(6 / 10, rel=1e-12)
    assert row["shown_ci_lb"] == pytest.approx(ilogit(y - Z * math.sqrt(v)), rel=1e-10)
    assert row["shown_ci_ub"] == pytest.approx(ilogit(y + Z * math.sqrt(v)), rel=1e-10)


def test_pooled_single_arm_proportions_by_hand() -> None:
    """With by='none' the uncontrolled series pool (one per study): logit, DL by hand."""
    res = synthesize(outcomes=["single-arm"], by="none", method="DL")
    g = res.group("single-arm", "all")
    ev = {c.study_id: (c.inputs["xi"], c.inputs["ni"]) for c in g.comparisons}
    assert ev == {
        "cohen2019": (18, 24),
        "nihon2001": (6, 19),
        "srinivasan2022": (15, 25),
        "viswanathan2010": (4, 4),
        "cmcsfmri2001": (3, 3),
    }
    # the DBS and MCS arms of the Nihon series are SCS failures: same patients, not pooled again
    nihon = [e for e in res.excluded if e.study_id == "nihon2001"]
    assert [e.lines for e in nihon] == [(35,), (36,)]
    assert all("patients may overlap" in e.reason for e in nihon)
    x = np.array([18.0, 6.0, 15.0, 4.0, 3.0])
    n = np.array([24.0, 19.0, 25.0, 4.0, 3.0])
    # all responders (4/4, 3/3): a zero cell, 1/2 added to both cells as metafor's escalc
    zero = (x == 0) | (x == n)
    x, n = x + 0.5 * zero, n + 1.0 * zero
    y, v = np.log(x / (n - x)), 1 / x + 1 / (n - x)
    est, se, tau2 = dl(y, v)
    assert g.fit is not None
    assert g.fit.estimate == pytest.approx(est, rel=1e-10)
    assert g.fit.se == pytest.approx(se, rel=1e-10)
    assert g.fit.tau2 == pytest.approx(tau2, rel=1e-10)


def test_pct_change_single_arm_mean(result) -> None:  # type: ignore[no-untyped-def]
    g = result.group("pct-change", "PNS")
    assert [c.lines for c in g.comparisons] == [(28,)]  # Rauck: 2nd week, not 4 weeks after
    # default MNLN: log of the post/baseline ratio 1 - 0.81, back-transformed CI above -100 %
    assert float(g.yi[0]) == pytest.approx(np.log(0.19), rel=1e-12)
    assert float(g.vi[0]) == pytest.approx(0.28**2 / (7 * 0.19**2), rel=1e-12)
    assert 100 * np.expm1(g.study_ci()[0][0]) == pytest.approx(-93.62, abs=0.01)
    mn = synthesize(outcomes=["pct-change"], measures={"pct-change": "MN"})
    g = mn.group("pct-change", "PNS")
    assert float(g.yi[0]) == -81 and float(g.vi[0]) == pytest.approx(28**2 / 7)
    assert float(g.yi[0]) - 1.96 * float(np.sqrt(g.vi[0])) < -100  # the scale MNLN fixes


def test_md_uses_one_common_scale_and_shows_published_mds() -> None:
    res = synthesize(outcomes=["pain"], measures={"pain": "MD"})
    g = res.group("pain", "rTMS")
    assert [c.study_id for c in g.comparisons] == ["malavera2016", "ahmed2011", "irlbacher2006"]
    np.testing.assert_allclose(g.yi[:2], [2.28 - 3.71, 3.4 - 7.4], rtol=1e-12)
    np.testing.assert_allclose(g.vi[:2], [2.51**2 / 27 + 2.97**2 / 27, 1.2**2 / 17 + 0.84**2 / 10])
    assert {p.study_id for p in g.published} == {"chung2024", "tao2025"}
    assert any(e.study_id == "kikkert2019" and "scale" in e.reason for e in res.excluded)


def test_published_pools_are_attached_not_pooled(result) -> None:  # type: ignore[no-untyped-def]
    g = result.group("pain", "rTMS")
    assert [p.study_id for p in g.published] == ["pachecobarrios2020"]
    assert all(c.study_id != "pachecobarrios2020" for g in result.groups for c in g.comparisons)


def test_exclude_and_grouping_options() -> None:
    res = synthesize(outcomes=["pain"], exclude=["ahmed2011"])
    assert [c.study_id for c in res.group("pain", "rTMS").comparisons] == [
        "malavera2016",
        "irlbacher2006",
    ]
    assert any(
        e.study_id == "ahmed2011" and e.reason == "excluded by the user" for e in res.excluded
    )
    res = synthesize(outcomes=["pain"], by="none")
    assert [g.group for g in res.groups] == ["all"] and res.groups[0].k == 5
    res = synthesize(outcomes=["pain"], by="source_level")
    assert [g.group for g in res.groups] == ["primary", "secondary"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"outcomes": ["qol"]}, "outcome"),
        ({"by": "country"}, "by"),
        ({"measures": {"pain": "RR"}}, "measure (pain)"),
        ({"exclude": ["nobody2020"]}, "exclude"),
        ({"level": 100.0}, "level"),
        ({"method": "XYZ", "outcomes": ["single-arm"]}, "method"),
        ({"test": "f", "outcomes": ["single-arm"]}, "test"),
        ({"measures": {"pain": "RR"}, "outcomes": ["responders"]}, "measure (pain)"),
    ],
)
def test_bad_options_give_clear_errors(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as ei:
        synthesize(**kwargs)  # type: ignore[arg-type]
    assert ei.value.problems[0].field == field


def test_select_alone() -> None:
    comps, excl = select(load_studies(), "responders")
    assert [c.study_id for c in comps] == [
        "malavera2016",
        "gilmore2019",
        "albrighttrainer2022",
        "kapural2024",
    ]
    assert comps[0].inputs == {"ai": 19.0, "n1i": 27.0, "ci": 11.0, "n2i": 27.0}
    assert [e.study_id for e in excl] == ["gilmore2020"]


# ---------------------------------------------------------- presentation
def test_summary_prints_every_caveat_kind(result) -> None:  # type: ignore[no-untyped-def]
    text = result.summary()
    for words in (
        "secondary source",
        "no SD reported",
        "crossover",
        "post-amputation pain (residual + phantom)",
        "not a sham or placebo",
        "time point not shown",
        "published pooled estimates",
        "k=1: not pooled",
    ):
        assert words in text, words
    for g in result.groups:
        for label, cav in g.caveats():
            assert f"{label}: {cav.text}" in text


def test_frames_and_json(result) -> None:  # type: ignore[no-untyped-def]
    f = result.to_frame()
    assert list(f["outcome"].unique()) == list(OUTCOMES)
    assert len(result.comparisons_frame()) == sum(g.k for g in result.groups)
    assert len(result.excluded_frame()) == len(result.excluded)
    d = json.loads(json.dumps(jsonable(result.to_dict()), allow_nan=False))
    assert {g["group"] for g in d["groups"] if g["outcome"] == "pain"} == {
        "rTMS",
        "tDCS",
        "mirror therapy",
    }
    assert any(e["study_id"] == "bolognini2013" for e in d["not_poolable"])


def test_forest_plot_written(tmp_path: Path, result) -> None:  # type: ignore[no-untyped-def]
    fig = result.forest(path=tmp_path / "forest.png")
    assert (tmp_path / "forest.png").stat().st_size > 20_000
    assert len(fig.axes) == 4
    assert fig.axes[1].get_xscale() == "log"  # risk ratios
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "  Malavera 2016" in labels and "rTMS (k=3)" in labels


def test_leave_one_out_equals_refit_without_the_study(result) -> None:  # type: ignore[no-untyped-def]
    l1o = result.group("pain", "rTMS").leave1out()
    assert list(l1o.index) == ["Malavera 2016", "Ahmed 2011", "Irlbacher 2006"]
    refit = synthesize(outcomes=["pain"], exclude=["ahmed2011"]).group("pain", "rTMS").fit
    assert l1o.loc["Ahmed 2011", "estimate"] == pytest.approx(refit.estimate, rel=1e-8)
    assert l1o.loc["Ahmed 2011", "ci_ub"] == pytest.approx(refit.ci_ub, rel=1e-8)
    assert result.group("single-arm", "SCS").leave1out() is None  # k = 2
    assert "without Ahmed 2011" in result.summary()
