"""Distributions and cohort specs: sampling against scipy, provenance, YAML validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from phantomlab.cohorts import (
    Categorical,
    LogNormal,
    Normal,
    cohort_spec_schema,
    default_cohort_spec,
    load_cohort_spec,
)
from phantomlab.exceptions import InputError


def test_truncated_normal_matches_scipy_truncnorm() -> None:
    d = Normal(mean=52, sd=13, low=18, high=85, kind="assumed", note="test")
    x = d.sample(200_000, np.random.default_rng(1))
    assert x.min() >= 18 and x.max() <= 85
    ref = stats.truncnorm((18 - 52) / 13, (85 - 52) / 13, loc=52, scale=13)
    assert x.mean() == pytest.approx(ref.mean(), abs=0.1)
    assert x.std() == pytest.approx(ref.std(), abs=0.1)
    q = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(d.quantile(q), ref.ppf(q), rtol=1e-10)


def test_lognormal_quantiles_match_scipy() -> None:
    d = LogNormal(median=3.0, sigma=0.8, kind="assumed", note="test")
    q = np.array([1 / 6, 0.5, 5 / 6])
    np.testing.assert_allclose(d.quantile(q), stats.lognorm(0.8, scale=3.0).ppf(q), rtol=1e-10)
    x = d.sample(100_000, np.random.default_rng(2))
    assert np.median(x) == pytest.approx(3.0, rel=0.02)


def test_categorical_frequencies_and_reproducibility() -> None:
    d = Categorical(probs={"a": 0.2, "b": 0.5, "c": 0.3}, kind="assumed", note="test")
    x = d.sample(50_000, np.random.default_rng(3))
    obs = np.array([(x == k).sum() for k in "abc"])
    # chi-square goodness of fit at the stated probabilities (fails if sampling is biased)
    assert stats.chisquare(obs, 50_000 * np.array([0.2, 0.5, 0.3])).pvalue > 1e-3
    y = d.sample(50_000, np.random.default_rng(3))
    assert np.array_equal(x, y)


def test_provenance_is_required() -> None:
    with pytest.raises(ValueError, match="reason"):
        Normal(mean=0, sd=1, kind="assumed")
    with pytest.raises(ValueError, match="source"):
        Normal(mean=0, sd=1, kind="source")


def test_default_spec_every_field_has_provenance() -> None:
    spec = default_cohort_spec()
    rows = spec.provenance_table()
    names = {r["field"] for r in rows}
    for f in (
        "age_years",
        "level",
        "side",
        "cause",
        "years_since_amputation",
        "stump_pain",
        "anxiety_case_share",
        "depression_case_share",
        "ectopia_gain",
    ):
        assert f in names
    for r in rows:
        kind = r["provenance"].split(":")[0]
        assert kind in ("source", "assumed", "calibrated")
        assert len(r["provenance"]) > len(kind) + 3  # a source or a reason follows
    assert "properties" in cohort_spec_schema()


def test_bad_yaml_field_gives_one_clear_problem(tmp_path: Path) -> None:
    data = default_cohort_spec().model_dump(mode="json")
    data["age_years"]["sd"] = -1
    import yaml

    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError) as exc:
        load_cohort_spec(p)
    assert any("age_years" in pr.field for pr in exc.value.problems)
    with pytest.raises(InputError):
        load_cohort_spec(tmp_path / "missing.yaml")


def test_with_values_marks_calibrated() -> None:
    s = default_cohort_spec().with_values(ectopia_gain=0.6)
    assert s.ectopia_gain.value == 0.6 and s.ectopia_gain.kind == "calibrated"
    assert s.digest() != default_cohort_spec().digest()
    with pytest.raises(InputError):
        default_cohort_spec().with_values(age_years=3.0)


def test_spec_rejects_categorical_time_since_amputation() -> None:
    data = default_cohort_spec().model_dump(mode="json")
    data["years_since_amputation"] = {"dist": "categorical", "probs": {"a": 1.0},
                                      "kind": "assumed", "note": "x"}  # fmt: skip
    with pytest.raises(InputError) as exc:
        load_cohort_spec(data)
    assert any("years_since_amputation" in (p.field + p.message) or "cohort" in p.field
               for p in exc.value.problems)  # fmt: skip


def test_scalars_are_core_params_with_the_same_rule() -> None:
    """Provenanced converts losslessly to the core Param and is checked by make_param's rule."""
    from phantomlab._params import Param, make_param
    from phantomlab.cohorts.spec import CohortSpec, Provenanced

    spec = default_cohort_spec()
    params = spec.params()
    scalars = [n for n in CohortSpec.model_fields if isinstance(getattr(spec, n), Provenanced)]
    assert sorted(CohortSpec.SCALAR_UNITS) == sorted(scalars)
    assert list(params) == [f"cohort.{n}" for n in scalars]
    for name in scalars:
        rec, sc = params[f"cohort.{name}"], getattr(spec, name)
        assert isinstance(rec, Param) and rec.unit == CohortSpec.SCALAR_UNITS[name]
        fields = ("value", "kind", "source", "note")
        assert [getattr(rec, f) for f in fields] == [getattr(sc, f) for f in fields]
        assert Provenanced.from_param(rec) == sc
    # the same rule rejects the same records, with the same words
    for kind, source, note, word in [
        ("assumed", "", "", "reason"),
        ("source", "", "p. 3", "source"),
        ("calibrated", "", "fit", "source"),
        ("guessed", "x", "y", "kind"),
    ]:
        with pytest.raises(ValueError, match=word):
            make_param("cohort", "x", 1.0, "1", kind, source, note)
        with pytest.raises(ValueError, match=word):
            Provenanced(value=1.0, kind=kind, source=source, note=note)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=word):
            Normal(mean=0, sd=1, kind=kind, source=source, note=note)  # type: ignore[arg-type]


def test_yaml_scalar_without_reason_names_the_field(tmp_path: Path) -> None:
    import yaml

    data = default_cohort_spec().model_dump(mode="json")
    data["ectopia_gain"] = {"value": 1.0, "kind": "assumed"}
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError) as exc:
        load_cohort_spec(p)
    assert any("ectopia_gain" in pr.field for pr in exc.value.problems)
    assert "reason" in str(exc.value)
