"""``optimize rank``: predicted relief with its interval over posterior draws (issue #15, point 5).

Posterior records are synthetic (one parameter, zero or positive spread), built here: no
number depends on the packaged calibration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from phantomlab.optimize.select import rank_modalities
from phantomlab.therapies import REGISTRY
from phantomlab.trials.calibration import BLOCKS
from phantomlab.trials.uncertainty import NO_POSTERIOR

from .test_opt_cli import cli

FEATS = {"age": 55, "baseline_nrs": 7, "level": "lower"}
SMALL: dict[str, Any] = {"n_pool": 100, "n_similar": 20, "n_boot": 400, "rng": 2}
ARMS = [{"block": "rtms", "error": 0.5, "inside": True},
        {"block": "rtms", "error": -1.0, "inside": False}]  # fmt: skip


def make_record(spread: float | None, n: int = 6, key: str = "rtms.high_effect") -> dict[str, Any]:
    """Registry defaults; ``key`` drawn around 0.3 (``spread`` None: a point record)."""
    params = {k: float(REGISTRY[k].value) for keys in BLOCKS.values() for k in keys}
    params[key] = 0.3
    rec: dict[str, Any] = {"version": "v2", "seed": 1, "pool": 40, "params": params,
                           "cohort": {"ectopia_gain": 0.9}, "arms": ARMS}  # fmt: skip
    if spread is not None:
        v = 0.3 + spread * np.linspace(-1.0, 1.0, n)
        rec["posterior"] = {"keys": [key], "samples": [[float(x)] for x in v],
                            "weights": [1.0 / n] * n}  # fmt: skip
    return rec


def test_rank_interval_widens_with_posterior_spread() -> None:
    point = rank_modalities(FEATS, ["rtms"], record=make_record(None), n_draws=3, **SMALL)
    zero = rank_modalities(FEATS, ["rtms"], record=make_record(0.0), n_draws=3, **SMALL)
    wide = rank_modalities(FEATS, ["rtms"], record=make_record(0.25), n_draws=3, **SMALL)
    assert point.n_draws == 1 and point.interval.startswith(NO_POSTERIOR)
    assert zero.n_draws == 3 and "3 posterior parameter draws" in wide.interval
    cols = ["nrs_change", "ci_low", "ci_high"]
    # zero spread: every draw is the point, and so is the interval (to rounding of the mean)
    assert np.allclose(zero.table[cols], point.table[cols], rtol=1e-12, atol=0)
    for res in (point, zero, wide):
        r = res.table.iloc[0]
        assert r["ci_low"] <= r["nrs_change"] <= r["ci_high"]
        assert r["calib_arms"] == 2 and r["calib_mean_abs_error"] == pytest.approx(0.75)
        assert r["calib_fraction_inside"] == 0.5 and r["calib_blocks"] == "rtms"
    width = [res.table.iloc[0]["ci_high"] - res.table.iloc[0]["ci_low"] for res in (zero, wide)]
    assert width[1] > width[0]
    # ablation: the same spread on a parameter rTMS does not read leaves the interval alone
    other = rank_modalities(FEATS, ["rtms"], record=make_record(0.25, key="tdcs.effect_ref"),
                            n_draws=3, **SMALL)  # fmt: skip
    base = rank_modalities(FEATS, ["rtms"], record=make_record(None, key="tdcs.effect_ref"),
                           **SMALL)  # fmt: skip
    assert np.allclose(other.table[cols], base.table[cols], rtol=1e-12, atol=0)


def test_rank_with_fixed_parameters_says_so() -> None:
    rec = make_record(0.25)
    res = rank_modalities(FEATS, ["rtms"], params=rec["params"], **SMALL)
    assert res.n_draws == 1 and "parameters given" in res.interval


def test_cli_rank_json_carries_interval_and_calibration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    post, point = tmp_path / "post.json", tmp_path / "point.json"
    post.write_text(json.dumps(make_record(0.25)))
    point.write_text(json.dumps(make_record(None)))
    args = ["optimize", "rank", "--set", "age=55", "--modalities", "rtms", "--pool", "100",
            "--similar", "20", "--boot", "400"]  # fmt: skip
    code, out, err = cli([*args, "--draws", "2", "--calibration", str(post), "--json"],
                         monkeypatch, capsys)  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    row = res["ranking"][0]
    assert row["ci_low"] <= row["nrs_change"] <= row["ci_high"]
    assert row["calib_mean_abs_error"] == pytest.approx(0.75) and res["n_draws"] == 2
    code, out, err = cli([*args, "--calibration", str(point)], monkeypatch, capsys)
    assert code == 0, err
    assert NO_POSTERIOR in out and "0.75, 50% of 2 arms" in out
    code, _, err = cli([*args, "--draws", "0"], monkeypatch, capsys)
    assert code == 2 and "n_draws" in err and "Traceback" not in err


def test_rank_draws_on_processes_give_the_same_bits() -> None:
    rec = make_record(0.25)
    seen: list[tuple[int, int]] = []
    one = rank_modalities(FEATS, ["rtms"], record=rec, n_draws=3, **SMALL)
    two = rank_modalities(FEATS, ["rtms"], record=rec, n_draws=3, workers=2,
                          progress=lambda d, n: seen.append((d, n)), **SMALL)  # fmt: skip
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert one.table.equals(two.table) and one.interval == two.interval
    # ablation: another seed changes the table (the check can fail)
    other = rank_modalities(FEATS, ["rtms"], record=rec, n_draws=3, **{**SMALL, "rng": 3})
    assert not one.table.equals(other.table)
