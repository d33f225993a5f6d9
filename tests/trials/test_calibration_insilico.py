"""The stored calibration: provenance, reproduction of its reported numbers, acceptance."""

from __future__ import annotations

import numpy as np
import pytest

from phantomlab.cohorts import calibrated_cohort_spec, calibrated_params, load_calibration
from phantomlab.therapies import REGISTRY
from phantomlab.trials.calibration import (
    BLOCKS,
    _loss,
    calibration_report,
    collect_targets,
    data_hash,
    evaluate,
    format_report,
)


@pytest.fixture(scope="module")
def record() -> dict:
    return load_calibration()


def test_record_is_versioned_with_provenance(record: dict) -> None:
    for k in ("version", "date", "method", "seed", "pool", "data_sha256", "params", "cohort"):
        assert k in record
    assert record["version"] == "v1"
    # fitted values lie in the prior ranges of the therapy registry
    for k, v in record["params"].items():
        lo, hi = REGISTRY[k].prior
        assert lo <= v <= hi, k
    assert set(record["params"]) == {k for keys in BLOCKS.values() for k in keys}
    assert calibrated_cohort_spec().ectopia_gain.kind == "calibrated"
    assert calibrated_params() == record["params"]


def test_fitted_to_the_current_evidence(record: dict) -> None:
    """The evidence base or the specs changed since the fit: run `phantomlab trial calibrate`."""
    assert record["data_sha256"] == data_hash()
    assert record["n_targets"] == len(collect_targets())


def test_stored_calibration_reproduces_its_reported_numbers(record: dict) -> None:
    fresh = evaluate(record)
    assert fresh["fraction_inside"] == pytest.approx(record["fraction_inside"], abs=1e-12)
    got = {(r["study_id"], r["arm"], r["outcome"]): r for r in fresh["arms"]}
    for r in record["arms"]:
        g = got[(r["study_id"], r["arm"], r["outcome"])]
        assert g["sim_mean"] == pytest.approx(r["sim_mean"], abs=1e-9)
        assert g["inside"] == r["inside"]


def test_acceptance_fraction_inside_and_loso_reported(record: dict) -> None:
    """Issue 7: >= 80% of replicable arms inside their 95% CI; LOSO check reported."""
    assert record["fraction_inside"] >= 0.8
    assert "loso_fraction_inside" in record
    assert all("loso_inside" in r for r in record["arms"])


def test_report_and_text(record: dict) -> None:
    rep = calibration_report()
    assert rep["in_silico"] is True and rep["data_current"] is True
    text = format_report(rep)
    assert "fraction inside" in text and "leave-one-study-out" in text


def test_huber_discrepancy() -> None:
    t = collect_targets()[:2]
    pub = np.array([x.outcome.value for x in t])
    se = np.array([x.se for x in t])
    assert _loss(pub, t) == 0.0
    z = np.array([1.0, 3.0])
    expect = 0.5 * 1.0 + 1.5 * (3.0 - 0.75)
    assert _loss(pub + z * se, t) == pytest.approx(expect)
