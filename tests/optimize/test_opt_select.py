"""Modality ranking for a new patient on similar calibrated virtual patients."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phantomlab._rng import child_seeds
from phantomlab.cohorts import VirtualCohort, calibrated_cohort_spec, calibrated_params
from phantomlab.exceptions import InputError
from phantomlab.optimize.select import rank_modalities, readout_day, validate_features
from phantomlab.therapies import get_therapy

from .test_opt_cli import cli

FEATS = {"age": 55, "baseline_nrs": 7, "level": "lower"}
SMALL = {"n_pool": 120, "n_similar": 40, "n_boot": 400}


def test_ranking_is_stable_for_a_seed_and_zero_effect_ranks_last() -> None:
    a = rank_modalities(FEATS, ["scs", "rtms", "tdcs"], rng=4, **SMALL)  # type: ignore[arg-type]
    b = rank_modalities(FEATS, ["scs", "rtms", "tdcs"], rng=4, **SMALL)  # type: ignore[arg-type]
    assert a.table.equals(b.table)
    assert list(a.table["rank"]) == [1, 2, 3]
    assert np.all(np.diff(a.table["nrs_change"]) <= 0)
    assert np.all(a.table["ci_low"] <= a.table["nrs_change"])
    assert np.all(a.table["nrs_change"] <= a.table["ci_high"])
    assert a.table["p_best"].sum() == pytest.approx(1.0)
    params = {**calibrated_params(), "tdcs.effect_ref": 0.0}
    z = rank_modalities(FEATS, ["scs", "rtms", "tdcs"], rng=4, params=params, **SMALL)  # type: ignore[arg-type]
    assert z.table["modality"].iloc[-1] == "tdcs"
    assert z.table.loc[z.table["modality"] == "tdcs", "p_best"].item() == 0.0


def test_means_match_a_direct_course_and_the_interval_a_normal_one() -> None:
    """Second method: the same course run directly on the same virtual cohort."""
    n = 80
    spec, params = calibrated_cohort_spec(), calibrated_params()  # fixed: no posterior draws
    r = rank_modalities(
        FEATS, ["scs"], rng=9, n_pool=n, n_similar=n, n_boot=4000, spec=spec, params=params
    )
    s_cohort, s_course, _ = child_seeds(9, 3)
    vc = VirtualCohort(spec, n, s_cohort)
    th = get_therapy("scs")
    proto = th.reference_protocol()
    day = readout_day(th, proto)
    assert day == 28  # continuous device: day 28, as `therapy curve`
    c = vc.run_course(proto, day + 1, params=params, seed=s_course)
    ch = c.baseline - c.post(day)
    row = r.table.iloc[0]
    assert row["nrs_change"] == pytest.approx(ch.mean(), abs=1e-9)
    half = 1.96 * ch.std(ddof=1) / np.sqrt(n)
    assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * half, rel=0.2)


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"age": 150}, "features.age"),
        ({"baseline_nrs": -1}, "features.baseline_nrs"),
        ({"level": "middle"}, "features.level"),
        ({"height": 180}, "features"),
        ({"age": "old"}, "features.age"),
        ({}, "features"),
    ],
)
def test_bad_features_are_rejected(bad: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as exc:
        validate_features(bad)
    assert any(p.field == field for p in exc.value.problems)


def test_bad_options_are_rejected() -> None:
    with pytest.raises(InputError, match="modalities"):
        rank_modalities(FEATS, ["laser"], **SMALL)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="n_similar"):
        rank_modalities(FEATS, ["scs"], n_pool=100, n_similar=500)


def test_cli_rank(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "patient.yaml"
    f.write_text("age: 55\nlevel: lower\nbaseline_nrs: 7\n")
    args = ["optimize", "rank", "--features", str(f), "--modalities", "scs,rtms"]
    small = ["--pool", "120", "--similar", "40", "--boot", "400"]
    code, out, _ = cli([*args, *small, "--json"], monkeypatch, capsys)
    assert code == 0
    res = json.loads(out)
    assert res["in_silico"] is True and len(res["ranking"]) == 2
    assert {r["modality"] for r in res["ranking"]} == {"scs", "rtms"}
    code, out, _ = cli([*args, *small, "--set", "age=60"], monkeypatch, capsys)
    assert code == 0 and "rank" in out and "'age': 60.0" in out
    bad = [
        (["optimize", "rank", "--set", "age=150"], "features.age"),
        (["optimize", "rank", "--set", "level=middle"], "features.level"),
        (["optimize", "rank", "--features", str(tmp_path / "none.yaml")], "not found"),
        (["optimize", "rank"], "none given"),
        (["optimize", "rank", "--set", "age"], "NAME=VALUE"),
    ]
    for a, msg in bad:
        code, _, err = cli(a, monkeypatch, capsys)
        assert code == 2, a
        assert msg in err and "Traceback" not in err
