"""Trial specs and in-silico replication of published trials."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from phantomlab.cohorts import ArmCourse, default_cohort_spec
from phantomlab.cohorts.spec import Provenanced
from phantomlab.evidence.records import load_studies
from phantomlab.exceptions import InputError
from phantomlab.protocols import list_reference
from phantomlab.trials.replicate import VirtualTrialModel, arm_statistic, replicate
from phantomlab.trials.specs import (
    OutcomeSpec,
    list_specs,
    load_trial_spec,
    specs_from_evidence,
    trial_spec_schema,
)

#: Default population with a short warm-up (fast tests; the science is the same code).
FAST = default_cohort_spec().model_copy(
    update={"max_warmup_years": Provenanced(value=0.4, kind="assumed", note="fast tests")}
)


def test_one_spec_per_study_with_reference_protocols() -> None:
    refs = set(list_reference())
    with_protocol = {r.study_id for r in load_studies() if r.protocol_name in refs}
    assert set(list_specs()) == with_protocol
    for sid in list_specs():
        s = load_trial_spec(sid)
        for a in s.arms:
            assert a.protocol in refs or (a.usual_care and a.protocol is None)
            for o in a.outcomes:
                assert o.replicable == (o.published_ci(a.n) is not None and not o.reason)


def test_packaged_specs_are_current() -> None:
    fresh = {s.study_id: s for s in specs_from_evidence()}
    for sid in list_specs():
        assert load_trial_spec(sid) == fresh[sid], (
            "regenerate: phantomlab trial specs --write src/phantomlab/trials/specs --force"
        )


def test_published_ci_independent_formulas() -> None:
    o = OutcomeSpec(id="x", outcome="VAS %", stat="pct_change_mean", value=-53.38, sd=53.12)
    lo, hi = o.published_ci(27)
    half = stats.t.ppf(0.975, 26) * 53.12 / np.sqrt(27)
    assert (lo, hi) == pytest.approx((-53.38 - half, -53.38 + half))
    r = OutcomeSpec(id="r", outcome=">30%", stat="responders", events=19, total=27)
    lo, hi = r.published_ci(27)
    # Clopper-Pearson from beta quantiles (independent of scipy.binomtest)
    assert lo == pytest.approx(100 * stats.beta.ppf(0.025, 19, 9), rel=1e-6)
    assert hi == pytest.approx(100 * stats.beta.ppf(0.975, 20, 8), rel=1e-6)
    assert r.value == pytest.approx(100 * 19 / 27)


def test_arm_statistic_by_hand() -> None:
    base = np.array([5.0, 4.0, 8.0])
    nrs = np.array([[5, 4, 8], [2, 4, 4]], np.int64)
    c = ArmCourse("x", base, nrs, np.array([True, True, False]))
    pct = OutcomeSpec(id="p", outcome="", stat="pct_change_mean", value=0, sd=1, day=1, window=1)
    assert arm_statistic(pct, c)[0] == pytest.approx(np.mean([-60.0, 0.0]))
    resp = OutcomeSpec(
        id="r", outcome="", stat="responders", value=1, sd=1, day=1, window=1, threshold=50
    )
    assert arm_statistic(resp, c)[0] == pytest.approx(50.0)
    mean = OutcomeSpec(
        id="m", outcome="", stat="mean", value=1, sd=1, day=1, window=2, scale_max=100
    )
    idx = np.array([[0, 2], [1, 1]])
    np.testing.assert_allclose(arm_statistic(mean, c, idx), [10 * (3.5 + 6.0) / 2, 40.0])


def test_bad_spec_gives_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "t.yaml"
    p.write_text("study_id: x\narms: []\n")
    with pytest.raises(InputError) as exc:
        load_trial_spec(p)
    assert any("arms" in pr.field for pr in exc.value.problems)
    with pytest.raises(InputError):
        load_trial_spec("nosuchstudy1999")
    assert "properties" in trial_spec_schema()


def test_replicate_reproducible_and_resumable(tmp_path: Path) -> None:
    spec = load_trial_spec("kikkert2019")
    kw = dict(replicates=4, seed=3, cohort=FAST, params={}, chunk_size=2, pool=40)
    a = replicate(spec, **kw)
    b = replicate(spec, **kw, out_dir=tmp_path / "run")
    assert a.replicates.equals(b.replicates)
    (tmp_path / "run" / "chunk-00001.parquet").unlink()  # a crash after chunk 0
    c = replicate(spec, **kw, out_dir=tmp_path / "run")
    assert c.replicates.equals(a.replicates)
    t = a.to_frame()
    assert set(t["arm"]) == {"active", "sham"}
    # crossover: both arms are the same virtual patients (same baseline, same enrolment)
    from phantomlab.trials.replicate import simulate_arms

    c = simulate_arms(spec, FAST, {}, np.random.SeedSequence(1), 40)
    assert np.array_equal(c["active"].baseline, c["sham"].baseline)
    assert np.array_equal(c["active"].enrolled, c["sham"].enrolled)
    assert not np.array_equal(c["active"].nrs, c["sham"].nrs)
    assert {"published", "ci_low", "ci_high", "sim_mean", "sim_low", "sim_high", "inside"} <= set(t)
    assert "in silico" in a.summary()
    assert a.to_dict()["in_silico"] is True


def test_virtual_trial_model_feeds_the_analysis() -> None:
    from phantomlab.trials import analyze, load_design

    d = load_design({
        "name": "v", "arms": [{"name": "sham", "sham": True, "protocol": "kikkert2019_sham"},
                              {"name": "tdcs", "protocol": "kikkert2019_active"}],
        "centers": [{"name": "c1"}, {"name": "c2"}], "n_per_arm": 6,
        "outcome": {"visits": [0, 1], "primary_week": 1},
        "analysis": {"primary": "ancova", "control": "sham"},
    })  # fmt: skip
    m = VirtualTrialModel(d, cohort=FAST, params={})
    data = m(6, 1)
    assert data.equals(m(6, 1))
    assert set(data.columns) == {"patient", "center", "arm", "week", "pain"}
    assert data["patient"].nunique() == 12
    res = analyze(data, d, analyses=("ancova",))
    assert np.isfinite(res.effects["estimate"]).all()


def test_cli_replicate_json_and_bad_input(run, tmp_path: Path) -> None:
    code, out, err = run(
        "replicate",
        "kikkert2019",
        "--replicates",
        "2",
        "--chunk-size",
        "2",
        "--pool",
        "40",
        "--uncalibrated",
        "--json",
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["study_id"] == "kikkert2019" and len(res["arms"]) == 2
    # a user-written spec file: a new trial in the same format
    spec = load_trial_spec("kikkert2019").model_copy(update={"study_id": "mytrial2030"})
    f = tmp_path / "mytrial.yaml"
    f.write_text(spec.to_yaml())
    code, out, err = run(
        "replicate",
        str(f),
        "--replicates",
        "2",
        "--chunk-size",
        "2",
        "--pool",
        "40",
        "--uncalibrated",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["study_id"] == "mytrial2030"
    code, out, err = run("replicate", "kikkert2019", "--replicates", "0")
    assert code == 2 and "replicates" in err and "Traceback" not in err
    code, out, err = run("replicate", "nosuchstudy1999")
    assert code == 2 and "spec" in err
    code, out, _ = run("spec-schema")
    assert code == 0 and "TrialSpec" in out


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["study_id", "design", "arms", "title", "inclusion", "bogus"]),
        st.one_of(
            st.none(),
            st.integers(-5, 5),
            st.text(max_size=8),
            st.lists(
                st.fixed_dictionaries(
                    {
                        "name": st.text(max_size=4),
                        "protocol": st.text(max_size=4),
                        "n": st.integers(-2, 30),
                    }  # fmt: skip
                ),
                max_size=2,
            ),
        ),
    )
)
def test_spec_loader_gives_a_spec_or_a_clear_error(data: dict) -> None:
    try:
        s = load_trial_spec(data)
    except InputError as exc:
        assert exc.problems and all(p.field for p in exc.problems)
    else:
        assert s.arms


def test_roles_against_the_stored_calibration() -> None:
    spec = load_trial_spec("kikkert2019")
    r = replicate(spec, replicates=2, seed=1, chunk_size=2, pool=40)
    assert r.meta["calibration"] == "stored calibration"
    assert all(x.startswith("calibration target") for x in r.table["calibration_role"])
    new = spec.model_copy(update={"study_id": "newtrial2031"})
    r = replicate(new, replicates=2, seed=1, chunk_size=2, pool=40)
    assert all("out-of-sample" in x for x in r.table["calibration_role"])


def test_one_vs_two_dask_workers_bit_identical() -> None:
    spec = load_trial_spec("kikkert2019")
    kw = dict(replicates=4, seed=3, cohort=FAST, params={}, chunk_size=1, pool=40)
    serial = replicate(spec, **kw)
    two = replicate(spec, **kw, scheduler="local", n_workers=2)
    assert two.meta["scheduler"].startswith("local cluster (2")
    assert serial.replicates.equals(two.replicates)
