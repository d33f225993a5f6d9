"""2x2 crossover with washout, carry-over and period effect: simulation and analysis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from phantomlab.exceptions import InputError
from phantomlab.trials import ParametricTrialModel, analyze, load_design
from phantomlab.trials.analysis_designs import crossover_analysis
from phantomlab.trials.design import example_design
from phantomlab.trials.simulate import model_card


def _design(washout: str = "2 week", **sim) -> object:
    d = example_design("crossover")
    base = {"clip": False, "dropout": 0.0, "center_sd": 0.0}
    return d.model_copy(
        update={
            "crossover": d.crossover.model_copy(update={"washout": washout}),
            "simulation": d.simulation.model_copy(update={**base, **sim}),
            "outcome": d.outcome.model_copy(update={"scale_min": -100, "scale_max": 100}),
        }
    )


def _effects(data: pd.DataFrame, design) -> pd.DataFrame:
    return analyze(data, design, analyses=("crossover",)).effects.set_index("contrast")


def test_hand_computed_2x2():
    """Four patients, numbers worked by hand.

    AB (tdcs first): (3, 6), (5, 6)  -> d = -3, -1; totals 9, 11
    BA (sham first): (6, 5), (8, 4)  -> d = 1, 4;   totals 11, 12
    treatment = (mean d_AB - mean d_BA) / 2 = (-2 - 2.5) / 2 = -2.25
    period 2 - 1 = -(mean d_AB + mean d_BA) / 2 = -(-2 + 2.5) / 2 = -0.25
    carry-over = mean T_AB - mean T_BA = 10 - 11.5 = -1.5
    SE(treatment): d/2 = (-1.5, -0.5), (0.5, 2); pooled var = (0.5 + 1.125) / 2
    = 0.8125; SE = sqrt(0.8125 * (1/2 + 1/2)) = 0.901388...
    SE(carry-over): totals var (2 + 0.5) / 2 = 1.25; SE = sqrt(1.25) = 1.118034...
    """
    d = example_design("crossover")
    rows = [
        (1, "tdcs", 1, 3.0),
        (1, "sham", 2, 6.0),
        (2, "tdcs", 1, 5.0),
        (2, "sham", 2, 6.0),
        (3, "sham", 1, 6.0),
        (3, "tdcs", 2, 5.0),
        (4, "sham", 1, 8.0),
        (4, "tdcs", 2, 4.0),
    ]
    data = pd.DataFrame(rows, columns=["patient", "arm", "period", "pain"])
    e = _effects(data, d)
    assert e.loc["tdcs - sham", "estimate"] == pytest.approx(-2.25, rel=1e-12)
    assert e.loc["tdcs - sham", "se"] == pytest.approx(np.sqrt(0.8125), rel=1e-12)
    assert e.loc["period 2 - period 1", "estimate"] == pytest.approx(-0.25, rel=1e-12)
    assert e.loc["period 2 - period 1", "se"] == pytest.approx(np.sqrt(0.8125), rel=1e-12)
    assert e.loc["carry-over", "estimate"] == pytest.approx(-1.5, rel=1e-12)
    assert e.loc["carry-over", "se"] == pytest.approx(np.sqrt(1.25), rel=1e-12)
    assert (e["df"] == 2).all()


def test_2x2_analysis_equals_statsmodels_ols():
    """Treatment and period rows = OLS with patient and period fixed effects;
    carry-over row = OLS of patient totals on sequence (Grizzle's test)."""
    import statsmodels.formula.api as smf

    d = _design(period_effect=-0.4, carryover=0.5)
    data = ParametricTrialModel(d).simulate(14, 21)
    e = _effects(data, d)
    fit = smf.ols("pain ~ C(patient) + C(arm, Treatment('sham')) + C(period)", data).fit()
    key = "C(arm, Treatment('sham'))[T.tdcs]"
    for row, k in (("tdcs - sham", key), ("period 2 - period 1", "C(period)[T.2]")):
        assert e.loc[row, "estimate"] == pytest.approx(fit.params[k], rel=1e-9)
        assert e.loc[row, "se"] == pytest.approx(fit.bse[k], rel=1e-9)
        assert e.loc[row, "p"] == pytest.approx(fit.pvalues[k], rel=1e-7)
        assert e.loc[row, "df"] == fit.df_resid
    tot = data.groupby("patient").agg(
        total=("pain", "sum"),
        first=("arm", lambda s: s.iloc[0]),
    )
    carry = smf.ols("total ~ C(first, Treatment('sham'))", tot).fit()
    k = "C(first, Treatment('sham'))[T.tdcs]"
    assert e.loc["carry-over", "estimate"] == pytest.approx(carry.params[k], rel=1e-9)
    assert e.loc["carry-over", "se"] == pytest.approx(carry.bse[k], rel=1e-9)
    assert e.loc["carry-over", "p"] == pytest.approx(carry.pvalues[k], rel=1e-7)


@pytest.mark.parametrize("washout", ["0 week", "1 week", "3 week"])
def test_simulated_carryover_and_period_effect_follow_the_model(washout):
    """Near noise-free simulation: the 2x2 estimates equal their expectations
    (Jones & Kenward): treatment tau - lambda/2, period pi + lambda/2 * effect,
    carry-over lambda * effect, with lambda = c * 0.5 ** (washout / half-life)."""
    eff, c, pe = -1.2, 0.8, 0.3
    d = _design(washout, period_effect=pe, carryover=c, carryover_half_life="1 week", sd=1e-6)
    lam = c * 0.5 ** (d.crossover.washout_weeks / 1.0)
    data = ParametricTrialModel(d).simulate(5, 3)
    e = _effects(data, d)
    assert e.loc["carry-over", "estimate"] == pytest.approx(lam * eff, abs=1e-4)
    assert e.loc["tdcs - sham", "estimate"] == pytest.approx(eff - lam * eff / 2, abs=1e-4)
    assert e.loc["period 2 - period 1", "estimate"] == pytest.approx(pe + lam * eff / 2, abs=1e-4)


def test_no_carryover_no_period_effect_by_default():
    d = _design(sd=1e-6)
    e = _effects(ParametricTrialModel(d).simulate(5, 3), d)
    assert e.loc["carry-over", "estimate"] == pytest.approx(0.0, abs=1e-4)
    assert e.loc["period 2 - period 1", "estimate"] == pytest.approx(0.0, abs=1e-4)
    assert e.loc["tdcs - sham", "estimate"] == pytest.approx(-1.2, abs=1e-4)


def test_mixed_model_row_and_incomplete_patients_still_work():
    d = _design(dropout=0.3, carryover=0.3)
    data = ParametricTrialModel(d).simulate(20, 5)
    e = crossover_analysis(data, d)
    assert set(e["analysis"]) == {"crossover", "mixed"}
    assert set(e.loc[e["analysis"] == "crossover", "contrast"]) == {
        "tdcs - sham",
        "carry-over",
        "period 2 - period 1",
    }


def test_validation_of_crossover_fields():
    base = {
        "arms": [{"name": "sham", "sham": True}, {"name": "active"}],
        "design": "crossover",
        "crossover": {"sequences": [["active", "sham"], ["sham", "active"]]},
    }
    load_design(base)
    for bad in (
        {"crossover": {**base["crossover"], "period": "0 week"}},
        {"crossover": {**base["crossover"], "washout": "-1 week"}},
        {"simulation": {"carryover": 1.5}},
        {"simulation": {"carryover_half_life": "0 day"}},
        {"simulation": {"period_effect": 20}},
    ):
        with pytest.raises(InputError):
            load_design({**base, **bad})
    parallel = {"arms": base["arms"]}
    load_design(parallel)
    for bad in ({"carryover": 0.2}, {"period_effect": -0.5}):
        with pytest.raises(InputError) as ei:
            load_design({**parallel, "simulation": bad})
        assert "crossover designs only" in str(ei.value)


def test_model_card_lists_crossover_parameters_as_assumed():
    card = model_card(_design(period_effect=0.2)).set_index("parameter")
    for name in ("carryover", "carryover_half_life", "period_effect"):
        assert card.loc[name, "kind"] == "assumed"
    assert card.loc["period_effect", "value"] == "0.2"
