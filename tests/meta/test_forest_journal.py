"""Journal-style forest plot: its elements (texts, diamonds, columns, weights), not pixels."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from phantomlab.evidence.exchange import analysis_table, journal_forest
from phantomlab.evidence.rob import load_rob
from phantomlab.evidence.synthesis import synthesize
from phantomlab.exceptions import InputError
from phantomlab.meta import escalc, rma
from phantomlab.meta.forest import forest_table


def _texts(fig: plt.Figure) -> list[str]:
    return [t.get_text() for a in fig.axes for t in a.texts]


def _diamonds(fig: plt.Figure) -> list[object]:
    return [p for a in fig.axes for p in a.patches if p.get_gid() == "diamond"]


ARMS = pd.DataFrame(
    {
        "events1": [4, 6, 12, 9, 20],
        "n1": [20, 25, 40, 30, 60],
        "events2": [1, 3, 5, 6, 11],
        "n2": [21, 24, 38, 31, 59],
    }
)
LABELS = ["A 2001", "B 2004", "C 2010", "D 2015", "E 2020"]
GROUPS = ["x", "x", "y", "y", "y"]


def _rr() -> pd.DataFrame:
    return escalc("RR", ai=ARMS.events1, n1i=ARMS.n1, ci=ARMS.events2, n2i=ARMS.n2)


def test_elements_of_a_grouped_ratio_plot(tmp_path: Path) -> None:
    es = _rr()
    rob = {"D1": ["low", "some_concerns", "high", "low", None], "All": ["low"] * 5}
    fig = forest_table(
        es.yi,
        es.vi,
        LABELS,
        groups=GROUPS,
        arms=ARMS,
        arm_names=("Active", "Sham"),
        transf="exp",
        favours=("favours sham", "favours active"),
        rob=rob,
    )
    texts = _texts(fig)
    # per-arm columns: events/n of each arm
    assert "4/20" in texts and "1/21" in texts and "20/60" in texts and "11/59" in texts
    assert any(t.startswith("Active") for t in texts) and any(t.startswith("Sham") for t in texts)
    # weights: five study weights summing to 100, subgroup weights summing to 100, total 100%
    pct = [float(t[:-1]) for t in texts if re.fullmatch(r"\d+\.\d%", t)]
    study_w, sub_w, total_w = pct[0:2] + pct[3:6], [pct[2], pct[6]], pct[7]
    assert len(pct) == 8
    assert sum(study_w) == pytest.approx(100.0, abs=0.3)
    assert sum(sub_w) == pytest.approx(100.0, abs=0.15) and total_w == 100.0
    overall = rma(es.yi, es.vi)
    np.testing.assert_allclose(study_w, np.round(overall.weights, 1))
    # estimate [CI] back-transformed; the total row is exp(pooled) of an independent fit
    total = f"{np.exp(overall.estimate):.2f} [{np.exp(overall.ci_lb):.2f}, "
    assert any(t.startswith(total) for t in texts)
    sub_y = rma(es.yi[2:], es.vi[2:])
    assert any(t.startswith(f"{np.exp(sub_y.estimate):.2f} [") for t in texts)
    # three diamonds: two subgroups + total; favours labels; log axis with the journal ticks
    assert len(_diamonds(fig)) == 3
    plot_ax = fig.axes[3]
    assert plot_ax.get_xscale() == "log"
    np.testing.assert_allclose(plot_ax.get_xticks(), [0.25, 0.5, 1, 2, 4])
    ann = [c.get_text() for c in plot_ax.texts]
    assert "← favours sham" in ann and "favours active →" in ann
    # RoB traffic lights: one dot per judged study and column (None = no dot)
    dots = [c for a in fig.axes for c in a.collections if c.get_gid() == "rob"]
    assert len(dots) == 4 + 5
    # headers
    for h in ("Study", "Weight", "Estimate [95% CI]", "D1", "All", "x", "y"):
        assert h in texts
    # every requested format by suffix
    for suf in (".png", ".pdf", ".svg"):
        forest_table(es.yi, es.vi, LABELS, transf="exp", path=tmp_path / f"f{suf}")
    assert (tmp_path / "f.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "f.pdf").read_bytes()[:4] == b"%PDF"
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    plt.close("all")


def test_ungrouped_continuous_plot_and_ablation() -> None:
    es = _rr()
    fig = forest_table(es.yi, es.vi, LABELS)
    # ablation: without groups only the total diamond, without arms no arm columns
    assert len(_diamonds(fig)) == 1
    texts = _texts(fig)
    assert "4/20" not in texts
    assert fig.axes[1].get_xscale() == "linear"
    arms = pd.DataFrame(
        {"mean1": [3.1, 4.0], "sd1": [1.2, 2.0], "n1": [20, 15]}
        | {"mean2": [4.6, 4.4], "sd2": [1.5, 1.9], "n2": [19, 16]}
    )
    md = escalc(
        "MD",
        m1i=arms.mean1,
        sd1i=arms.sd1,
        n1i=arms.n1,
        m2i=arms.mean2,
        sd2i=arms.sd2,
        n2i=arms.n2,
    )
    fig = forest_table(md.yi, md.vi, ["P", "Q"], arms=arms)
    texts = _texts(fig)
    assert "3.10 (1.20) 20" in texts and "4.40 (1.90) 16" in texts
    assert "-1.50 [" in " ".join(texts)
    plt.close("all")


def test_subgroups_without_overall_have_their_own_weights() -> None:
    es = _rr()
    fig = forest_table(es.yi, es.vi, LABELS, groups=GROUPS, overall=False)
    texts = _texts(fig)
    assert len(_diamonds(fig)) == 2 and not any(t.startswith("Total") for t in texts)
    pct = [float(t[:-1]) for t in texts if re.fullmatch(r"\d+\.\d%", t)]
    sub_x, sub_y = rma(es.yi[:2], es.vi[:2]), rma(es.yi[2:], es.vi[2:])
    np.testing.assert_allclose(pct[:2], np.round(sub_x.weights, 1))
    np.testing.assert_allclose(pct[3:6], np.round(sub_y.weights, 1))
    assert pct[2] == pct[6] == 100.0
    plt.close("all")


def test_bad_input_is_one_input_error() -> None:
    es = _rr()
    with pytest.raises(InputError) as exc:
        forest_table(
            es.yi,
            es.vi,
            LABELS[:3],
            transf="log",
            rob={"D1": ["good"] * 5},
            path="x.jpg",
        )
    fields = {p.field for p in exc.value.problems}
    assert {"yi/vi/labels/groups", "transf", "rob[D1]", "path"} <= fields


def test_plp_pain_and_responder_forests_from_the_evidence_base(tmp_path: Path) -> None:
    res = synthesize()
    rob = load_rob()
    for outcome in ("pain", "responders"):
        tab = analysis_table(res, outcome)
        fig = journal_forest(res, outcome, rob=rob, path=tmp_path / f"{outcome}.svg")
        texts = _texts(fig)
        groups = list(dict.fromkeys(tab["group"]))
        # no overall diamond: one per subgroup, weights summing to 100 within each
        assert len(_diamonds(fig)) == len(groups)
        for lab in tab["label"]:
            assert lab in texts
        pct = [float(t[:-1]) for t in texts if re.fullmatch(r"\d+\.\d%", t)]
        sizes = [int((tab["group"] == g).sum()) for g in groups]
        i = 0
        for n in sizes:
            assert sum(pct[i : i + n]) == pytest.approx(100.0, abs=0.2)
            assert pct[i + n] == 100.0  # the subgroup row
            i += n + 1
        assert i == len(pct)
        assert "All" in texts  # overall RoB column
        if outcome == "responders":
            # 30 % and 50 % responders are separate subgroups, never one diamond
            assert "rTMS, responders >= 30 %" in texts
            assert "PNS, responders >= 50 %" in texts
        plt.close("all")
    with pytest.raises(InputError, match="outcome"):
        analysis_table(res, "single-arm")
