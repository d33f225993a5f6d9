"""Predictive intervals and calibration error next to every prediction (issue #15, point 5).

The packaged calibration is not used for any number here: small posterior records are built
in the test (a synthetic posterior sample of one parameter, zero or positive spread).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from phantomlab.exceptions import InputError
from phantomlab.therapies import REGISTRY
from phantomlab.trials import load_design
from phantomlab.trials.calibration import BLOCKS
from phantomlab.trials.power import posterior_power
from phantomlab.trials.replicate import resolve_protocol
from phantomlab.trials.simulate import ParametricTrialModel
from phantomlab.trials.uncertainty import (
    NO_POSTERIOR,
    block_calibration_error,
    parameter_draws,
    protocol_blocks,
    wilson_interval,
)

DESIGN: dict[str, Any] = {
    "name": "predictive-power-test",
    "design": "parallel",
    "arms": [
        {"name": "sham", "sham": True, "protocol": "malavera2016_sham"},
        {"name": "rtms", "protocol": "malavera2016_active"},
    ],
    "centers": [{"name": "c1"}],
    "n_per_arm": 4,
    "outcome": {"name": "pain", "visits": [0, 1], "primary_week": 1},
    "analysis": {"primary": "ancova", "control": "sham", "center": "fixed"},
    "simulation": {"effects": {"rtms": -1.5}},
}

#: Synthetic per-arm check rows (values made up for the test, not a calibration).
ARMS = [
    {"block": "placebo", "error": 0.5, "inside": True},
    {"block": "placebo", "error": -1.5, "inside": False},
    {"block": "rtms", "error": 0.25, "inside": True},
]


def make_record(spread: float | None, centre: float = 0.3, n: int = 10) -> dict[str, Any]:
    """A calibration record at registry defaults; ``spread`` None gives a point record."""
    params = {k: float(REGISTRY[k].value) for keys in BLOCKS.values() for k in keys}
    params["rtms.high_effect"] = centre
    rec: dict[str, Any] = {"version": "v2", "seed": 5, "pool": 40, "params": params,
                           "cohort": {"ectopia_gain": 0.9}, "arms": ARMS}  # fmt: skip
    if spread is not None:
        v = centre + spread * np.linspace(-1.0, 1.0, n)
        rec |= {"kind": "posterior", "posterior": {
            "keys": ["rtms.high_effect"], "samples": [[float(x)] for x in v],
            "weights": [1.0 / n] * n}}  # fmt: skip
    return rec


def parametric(_cohort: Any, params: dict[str, float]) -> ParametricTrialModel:
    """A fast stand-in simulator whose effect is read from the drawn parameter."""
    effect = -8.0 * params["rtms.high_effect"]
    return ParametricTrialModel(load_design({**DESIGN, "simulation": {"effects": {
        "rtms": effect}}}))  # fmt: skip


def test_block_calibration_error_and_protocol_blocks() -> None:
    err = block_calibration_error({"arms": ARMS}, ["placebo"])
    assert err["arms"] == 2 and err["mean_abs_error"] == pytest.approx(1.0)
    assert err["fraction_inside"] == pytest.approx(0.5)
    both = block_calibration_error({"arms": ARMS}, ["placebo", "rtms"])
    assert both["mean_abs_error"] == pytest.approx(2.25 / 3)
    none = block_calibration_error({"arms": ARMS}, ["drg"])
    assert none["arms"] == 0 and np.isnan(none["mean_abs_error"]) and "uncalibrated" in none["note"]
    assert "no per-arm check" in block_calibration_error({}, ["rtms"])["note"]
    assert protocol_blocks(resolve_protocol("malavera2016_sham")) == ["placebo"]
    assert protocol_blocks(resolve_protocol("malavera2016_active")) == ["rtms"]
    combo = resolve_protocol("gunduz2021_active_tdcs_active_mt")
    assert protocol_blocks(combo) == ["tdcs", "mirror"]


def test_parameter_draws_of_point_and_posterior_records() -> None:
    point = parameter_draws(make_record(None), 7, seed=1)
    assert len(point) == 1 and point[0][1]["rtms.high_effect"] == 0.3
    post = parameter_draws(make_record(0.2), 7, seed=1)
    assert len(post) == 7 and len({p["rtms.high_effect"] for _, p in post}) > 1
    assert all(cs.ectopia_gain.value == 0.9 for cs, _ in post)


def test_power_interval_contains_point_and_widens_with_posterior_spread() -> None:
    d = load_design(DESIGN)
    kw: dict[str, Any] = {"n_sims": 60, "n_draws": 6, "rng": 3, "model": parametric}
    zero = posterior_power(d, [20], record=make_record(0.0), **kw)
    wide = posterior_power(d, [20], record=make_record(0.3), **kw)
    for res in (zero, wide):
        assert res.low is not None and res.high is not None
        assert res.low[0] <= res.simulated[0] <= res.high[0]
        assert res.n_draws == 6 and res.n_sims == 60
        assert "6 posterior parameter draws" in res.interval
    assert wide.high[0] - wide.low[0] > zero.high[0] - zero.low[0] + 0.2  # type: ignore[index]
    again = posterior_power(d, [20], record=make_record(0.3), **kw)
    assert np.array_equal(again.simulated, wide.simulated)  # same seed, same bits
    out = wide.to_dict()
    json.dumps(out)
    row = out["rows"][0]
    assert {"low", "high", "simulated", "analytic", "mc_se"} <= set(row)
    cal = out["calibration_error"]
    assert cal["sham"]["mean_abs_error"] == pytest.approx(1.0)
    assert cal["rtms"]["fraction_inside"] == 1.0 and out["in_silico"] is True


def test_power_point_record_falls_back_to_trial_resampling() -> None:
    d = load_design(DESIGN)
    res = posterior_power(d, [20], n_sims=40, n_draws=6, record=make_record(None), rng=3,
                          model=parametric)  # fmt: skip
    assert res.n_draws == 1 and res.n_sims == 40
    assert res.interval.startswith(NO_POSTERIOR)
    lo, hi = wilson_interval(res.simulated, 40)
    assert res.low == pytest.approx(lo) and res.high == pytest.approx(hi)
    assert res.low[0] <= res.simulated[0] <= res.high[0]  # type: ignore[index]
    assert NO_POSTERIOR in res.summary() and "placebo: 2 published arms" in res.summary()
    with pytest.raises(InputError, match="n_draws"):
        posterior_power(d, [20], n_draws=0, record=make_record(None), model=parametric)


def test_wilson_interval_matches_statsmodels() -> None:
    """Second method: statsmodels' Wilson interval."""
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = wilson_interval([0.0, 0.3, 1.0], 40)
    for p, a, b in zip([0.0, 0.3, 1.0], lo, hi, strict=True):
        ref = proportion_confint(round(p * 40), 40, alpha=0.05, method="wilson")
        assert (a, b) == pytest.approx(ref, abs=1e-6)


def test_virtual_power_cli_posterior_and_point_records(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    """The real virtual cohort: JSON carries low/high and the calibration error per arm."""
    f = tmp_path / "d.yaml"
    f.write_text(yaml.safe_dump(DESIGN))
    post, point = tmp_path / "post.json", tmp_path / "point.json"
    post.write_text(json.dumps(make_record(0.2)))
    point.write_text(json.dumps(make_record(None)))
    args = ["power", str(f), "--n", "4", "--sims", "2", "--model", "virtual"]
    r = run(*args, "--draws", "2", "--calibration", str(post), "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    row = res["rows"][0]
    assert row["low"] <= row["simulated"] <= row["high"]
    assert res["n_draws"] == 2 and "2 posterior parameter draws" in res["interval"]
    assert res["calibration_error"]["sham"]["arms"] == 2
    r = run(*args, "--calibration", str(point))
    assert r.returncode == 0, r.stderr
    assert NO_POSTERIOR in r.stdout and "rtms: 1 published arms" in r.stdout
    r = run(*args, "--draws", "0", "--calibration", str(point))
    assert r.returncode == 2 and "n_draws" in r.stderr and "Traceback" not in r.stderr
