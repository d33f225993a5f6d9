"""Design strategies, loud failures of the analyses, and the result contract of trials."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from phantomlab._result import REPR_MAX, Result
from phantomlab.exceptions import InputError, ModelFitWarning
from phantomlab.trials import (
    CrossoverDesign,
    FactorialDesign,
    ParallelDesign,
    ParametricTrialModel,
    TrialSimulationTask,
    analyze,
    design_names,
    example_design,
    get_design,
    load_design,
    mixed_model,
    nnt,
    power_curve,
    prepare,
    randomize,
    run_replicates,
)
from phantomlab.trials.replicate import ReplicationResult, summarize
from phantomlab.trials.specs import load_trial_spec

EXAMPLES = {"multicenter_sham": ParallelDesign, "crossover": CrossoverDesign,
            "factorial": FactorialDesign}  # fmt: skip


@pytest.mark.parametrize(("example", "cls"), EXAMPLES.items())
def test_design_name_resolves_to_its_strategy(example, cls):
    d = example_design(example)
    assert type(d.strategy) is cls and get_design(d.design) is d.strategy
    assert {"parallel", "crossover", "factorial"} <= set(design_names(trial_designs_only=True))


def test_single_arm_is_for_trial_specs_only():
    assert "single_arm" in design_names() and "single_arm" not in design_names(
        trial_designs_only=True
    )
    base = example_design("multicenter_sham").model_dump()
    with pytest.raises(InputError) as ei:
        load_design({**base, "design": "single_arm"})
    assert ei.value.problems[0].field == "design.design"
    with pytest.raises(InputError):
        load_trial_spec({"study_id": "x", "design": "stepped", "arms": [
            {"name": "a", "protocol": "p", "n": 3}]})  # fmt: skip


def test_unknown_design_name_is_refused():
    with pytest.raises(InputError) as ei:
        get_design("stepped")
    assert "unknown design" in str(ei.value)


# ---------------------------------------------------------------- failures are loud
def test_failed_mixed_fit_warns_with_its_message():
    d = example_design("multicenter_sham")
    df = prepare(ParametricTrialModel(d).simulate(10, 1), d)
    two = df[df["patient"].isin(df["patient"].unique()[:2])]
    with pytest.warns(ModelFitWarning, match="mixed model could not be fitted: Singular"):
        out = mixed_model(two, d, fast=False)
    assert out.empty and "Singular" in out.attrs["error"]


def test_missing_primary_effect_is_warned_and_marked():
    spec = example_design("crossover").model_dump()
    arms = [a["name"] for a in spec["arms"]]
    ctrl, act = arms[0], arms[1]
    spec["crossover"]["sequences"] = [[ctrl, act, ctrl], [act, ctrl, act]]
    d = load_design(spec)
    data = ParametricTrialModel(d).simulate(5, 1)
    one = data[data["patient"] == data["patient"].iloc[0]]
    with pytest.warns(ModelFitWarning) as rec:
        res = analyze(one, d)
    texts = [str(w.message) for w in rec]
    assert any("crossover mixed model could not be fitted" in t for t in texts)
    assert any("primary analysis 'mixed' gave no estimate" in t for t in texts)
    (row,) = res.primary_effects.itertuples()
    assert row.contrast == "not estimable" and np.isnan(row.estimate) and np.isnan(row.p)
    assert "Note: primary analysis 'mixed'" in res.summary()
    assert res.to_dict()["notes"] == list(res.notes)
    # with two patients the same model fits: no warning, a real estimate
    two = data[data["patient"].isin(data["patient"].unique()[:2])]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelFitWarning)
        ok = analyze(two, d)
    assert np.isfinite(ok.primary_effects["estimate"]).all() and not ok.notes


def test_a_primary_analysis_not_asked_for_is_not_marked():
    d = example_design("multicenter_sham")
    data = ParametricTrialModel(d).simulate(10, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelFitWarning)
        res = analyze(data, d, analyses=("mixed",))
    assert res.primary == "ancova" and res.primary_effects.empty


# ---------------------------------------------------------------- result contract
def _results() -> list[Result]:
    d = example_design("multicenter_sham")
    data = ParametricTrialModel(d).simulate(10, 4)
    outcome = {"id": "m", "outcome": "pain", "stat": "mean", "value": 5.0, "sd": 1.0}
    arm = {"name": "a", "protocol": "p", "n": 5, "outcomes": [outcome]}
    spec = load_trial_spec({"study_id": "toy", "arms": [arm]})
    reps = pd.DataFrame({"replicate": [0, 1, 2], "arm": "a", "outcome": "m", "stat": "mean",
                         "value": [4.5, 5.2, 5.1], "resampled": False})  # fmt: skip
    rep = ReplicationResult(spec, summarize(spec, reps), reps, {"replicates": 3, "seed": 0})
    run = run_replicates(TrialSimulationTask(d, 8, ("ancova",)), 2, seed=1)
    return [
        analyze(data, d),
        analyze(ParametricTrialModel(example_design("crossover")).simulate(6, 1),
                example_design("crossover")),
        power_curve(d, [10, 20], n_sims=20, rng=1),
        run,
        rep,
        randomize(d, 3),
        nnt(12, 30, 5, 30),
    ]  # fmt: skip


def test_trial_results_follow_the_result_contract():
    for res in _results():
        name = type(res).__name__
        assert isinstance(res, Result), name
        assert isinstance(res.summary(), str) and res.summary(), name
        assert isinstance(res.to_frame(), pd.DataFrame), name
        assert isinstance(res.plot(), Figure), name
        r = repr(res)
        assert r.startswith(f"<{name}: ") and len(r) <= REPR_MAX and "\n" not in r, r
        assert name in res._repr_html_()
