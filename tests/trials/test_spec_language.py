"""The trial-spec language for real trials: each field is validated and changes what is simulated.

Fields: between-arm ``contrasts``; ``endpoint: session``; ``dosing: on_demand`` with
``usage_fraction``; ``sham: inert | active``; ``usual_care`` and ``co_interventions``;
``blinding``; ``population`` / ``patient_group`` (calibration targets and weights).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from phantomlab.cohorts import VirtualCohort, default_cohort_spec
from phantomlab.cohorts.spec import Provenanced
from phantomlab.exceptions import InputError
from phantomlab.trials.arms import PARAMS, arm_notes, arm_params, run_arm
from phantomlab.trials.calibration import (
    collect_contrast_targets,
    collect_targets,
    excluded_targets,
)
from phantomlab.trials.replicate import ReplicationTask, arm_statistic
from phantomlab.trials.specs import ArmSpec, OutcomeSpec, TrialSpec, load_trial_spec

FAST = default_cohort_spec().model_copy(
    update={"max_warmup_years": Provenanced(value=0.4, kind="assumed", note="fast tests")}
)
SEED = np.random.SeedSequence(7)


@pytest.fixture(scope="module")
def vc() -> VirtualCohort:
    return VirtualCohort(FAST, 120, np.random.SeedSequence(11))


def _spec(**kw: Any) -> dict[str, Any]:
    arms = [
        {"name": "active", "protocol": "malavera2016_active", "n": 20,
         "outcomes": [{"id": "r", "outcome": "resp", "stat": "responders", "day": 9,
                       "events": 10, "total": 20}]},
        {"name": "sham", "protocol": "malavera2016_sham", "n": 20,
         "outcomes": [{"id": "r", "outcome": "resp", "stat": "responders", "day": 9,
                       "events": 5, "total": 20}]},
    ]  # fmt: skip
    return {"study_id": "demo", "arms": arms, **kw}


def _bad(data: dict[str, Any]) -> str:
    with pytest.raises(InputError) as ei:
        load_trial_spec(data)
    return str(ei.value)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"blinding": "triple"}, "blinding"),
        ({"population": "PLP"}, "population"),
        ({"patient_group": "Group 1"}, "patient_group"),
        ({"contrasts": [{"id": "c", "arm": "active", "control": "nope", "outcome": "r"}]},
         "control 'nope' is not an arm"),
        ({"contrasts": [{"id": "c", "arm": "active", "control": "sham", "outcome": "x"}]},
         "outcome 'x' must be an outcome id of both"),
        ({"contrasts": [{"id": "c", "arm": "active", "control": "active", "outcome": "r"}]},
         "arm and control must differ"),
        ({"contrasts": [{"id": "c", "arm": "active", "control": "sham", "outcome": "r",
                         "value": 30, "ci": [-5, 20]}]}, "outside its ci"),
        ({"contrasts": [{"id": "c", "arm": "active", "control": "sham", "outcome": "r",
                         "measure": "odds"}]}, "measure"),
    ],
)  # fmt: skip
def test_trial_level_fields_are_validated(change: dict[str, Any], words: str) -> None:
    assert words in _bad(_spec(**change))


@pytest.mark.parametrize(
    ("arm", "words"),
    [
        ({"sham": "active"}, "needs sham_active_duration"),
        ({"sham_active_duration": "30 s"}, "only for sham 'active'"),
        ({"sham": "partial"}, "sham"),
        ({"usage_fraction": 0.5}, "only for dosing 'on_demand'"),
        ({"dosing": "on_demand", "usage_fraction": 1.5}, "usage_fraction"),
        ({"protocol": None}, "protocol is required unless usual_care"),
        ({"usual_care": True, "sham": "inert"}, "usual-care arm has no sham"),
        ({"co_interventions": [{"name": "PT", "kind": "massage"}]}, "kind"),
    ],
)
def test_arm_fields_are_validated(arm: dict[str, Any], words: str) -> None:
    data = _spec()
    data["arms"][1].update(arm)
    assert words in _bad(data)


def test_session_endpoint_needs_single_days() -> None:
    with pytest.raises(ValueError, match="window must be 1"):
        OutcomeSpec(id="s", outcome="x", stat="pct_change_mean", value=-10, sd=5,
                    endpoint="session", window=7)  # fmt: skip


# ------------------------------------------------------------------ each field acts
def _course_mean(vc: VirtualCohort, spec: TrialSpec, arm: ArmSpec, day: int = 9) -> float:
    c = run_arm(vc, spec, arm, None, SEED, day + 1)
    return float(c.post(day, 1)[c.enrolled].mean())


def test_open_label_removes_expectation_of_usual_care_and_raises_it_when_treated(vc) -> None:
    uc = ArmSpec(name="uc", n=10, usual_care=True)
    blind = TrialSpec(study_id="b", arms=[uc])
    open_ = TrialSpec(study_id="o", arms=[uc], blinding="open_label")
    assert arm_params(open_, uc, None)["placebo.expectation_mean"] == 0.0
    # usual care: blinded patients (expectation) improve more than unblinded ones (none)
    assert _course_mean(vc, blind, uc) < _course_mean(vc, open_, uc) - 0.1
    act = ArmSpec(name="a", protocol="malavera2016_active", n=10)
    gain = PARAMS["trials.open_label_expectation_gain"].value
    p = arm_params(TrialSpec(study_id="o", arms=[act], blinding="open_label"), act, None)
    assert p["placebo.expectation_mean"] == pytest.approx(min(1.0, 0.8 * gain))
    # ablation: with the gain at 1 an open-label treated arm is simulated as a blinded one
    one = {"trials.open_label_expectation_gain": 1.0}
    assert "trials.open_label_expectation_gain" not in arm_params(open_, act, one)
    a1 = run_arm(vc, TrialSpec(study_id="o", arms=[act], blinding="open_label"), act, one,
                 SEED, 10)  # fmt: skip
    a0 = run_arm(vc, TrialSpec(study_id="b", arms=[act]), act, None, SEED, 10)
    assert np.array_equal(a1.nrs, a0.nrs)


def test_active_sham_delivers_real_stimulation_that_inert_sham_does_not(vc) -> None:
    spec = TrialSpec(study_id="t", arms=[ArmSpec(name="s", protocol="bolognini2015_sham", n=8)])
    inert = ArmSpec(name="s", protocol="bolognini2015_sham", n=8, sham="inert")
    strong = ArmSpec(name="s", protocol="bolognini2015_sham", n=8, sham="active",
                     sham_active_duration="15 min")  # fmt: skip
    active = ArmSpec(name="a", protocol="bolognini2015_active", n=8)
    m_inert, m_strong = _course_mean(vc, spec, inert, 4), _course_mean(vc, spec, strong, 4)
    # a sham with the full 15 min of real current is the active protocol: same relief
    assert m_strong == pytest.approx(_course_mean(vc, spec, active, 4), abs=0.35)
    assert m_strong < m_inert - 0.3
    with pytest.raises(InputError, match="sham"):
        run_arm(vc, spec, ArmSpec(name="a", protocol="bolognini2015_active", n=8, sham="inert"),
                None, SEED, 5)  # fmt: skip


def test_co_intervention_with_a_protocol_is_simulated_and_without_one_is_noted(vc) -> None:
    base = ArmSpec(name="a", protocol="malavera2016_sham", n=10)
    mt = {"name": "mirror therapy", "kind": "behavioural", "protocol": "finn2017_mirror"}
    with_mt = ArmSpec.model_validate({**base.model_dump(), "co_interventions": [mt]})
    spec = TrialSpec(study_id="t", arms=[with_mt])
    assert _course_mean(vc, spec, spec.arms[0], 20) < _course_mean(vc, spec, base, 20) - 0.2
    pt = ArmSpec(
        name="a",
        protocol="malavera2016_active",
        n=10,
        co_interventions=[{"name": "physiotherapy", "kind": "physical_therapy"}],
    )
    spec2 = TrialSpec(study_id="t", arms=[pt])
    assert any("'physiotherapy' (physical_therapy) is not modelled" in n for n in arm_notes(spec2))
    # not modelled means not simulated: the course is the one without it
    bare = pt.model_copy(update={"co_interventions": []})
    assert np.array_equal(run_arm(vc, spec2, pt, None, SEED, 10).nrs,
                          run_arm(vc, spec2, bare, None, SEED, 10).nrs)  # fmt: skip


def test_on_demand_usage_scales_the_specific_effect(vc) -> None:
    arm = ArmSpec(name="p", protocol="rauck2014_single", n=7)
    spec = TrialSpec(study_id="t", arms=[arm], blinding="open_label")

    def mean(a: ArmSpec) -> float:
        return _course_mean(vc, spec, a, 13)

    full = mean(arm)
    every_day = arm.model_copy(update={"dosing": "on_demand", "usage_fraction": 1.0})
    half = arm.model_copy(update={"dosing": "on_demand", "usage_fraction": 0.3})
    c = run_arm(vc, spec, arm, None, SEED, 14)
    assert mean(every_day) == pytest.approx(full)  # usage 1: the scheduled course
    assert full < mean(half) < float(c.baseline[c.enrolled].mean())
    unknown = arm.model_copy(update={"dosing": "on_demand"})
    assert mean(unknown) == pytest.approx(full)
    assert any("on-demand use not published" in n
               for n in arm_notes(TrialSpec(study_id="t", arms=[unknown])))  # fmt: skip


def test_session_endpoint_is_measured_from_the_day_before(vc) -> None:
    arm = ArmSpec(name="a", protocol="bolognini2015_active", n=8)
    c = run_arm(vc, TrialSpec(study_id="t", arms=[arm]), arm, None, SEED, 5)
    kw = {"id": "x", "outcome": "x", "stat": "pct_change_mean", "value": -10, "sd": 5,
          "day": 3, "window": 1}  # fmt: skip
    course = arm_statistic(OutcomeSpec(**kw), c)[0]
    session = arm_statistic(OutcomeSpec(**kw, endpoint="session"), c)[0]
    e = c.enrolled
    pre, post = np.maximum(c.post(2, 1)[e], 0.5), c.post(3, 1)[e]
    assert session == pytest.approx(float(np.mean(100 * (post - pre) / pre)))
    assert course != pytest.approx(session)


def test_contrasts_are_computed_within_each_simulated_trial() -> None:
    spec = load_trial_spec(_spec(contrasts=[
        {"id": "rd", "arm": "active", "control": "sham", "outcome": "r",
         "measure": "responder_difference", "value": 25.0, "ci": [-3.0, 53.0]},
        {"id": "rr", "arm": "active", "control": "sham", "outcome": "r", "measure": "ratio"},
    ]))  # fmt: skip
    task = ReplicationTask(spec, FAST, {}, pool=120)
    rows = task(np.random.SeedSequence(3), np.arange(6))
    wide = rows.pivot(index="replicate", columns=["arm", "outcome"], values="value")
    a, s = wide[("active", "r")], wide[("sham", "r")]
    pd.testing.assert_series_equal(wide[("active vs sham", "rd")], a - s, check_names=False)
    ok = s != 0
    np.testing.assert_allclose(wide[("active vs sham", "rr")][ok], (a / s)[ok])
    assert not spec.contrasts[1].replicable and "no published value" in spec.contrasts[1].reason
    (ct,) = collect_contrast_targets([spec])
    assert ct.contrast.id == "rd" and ct.ci == (-3.0, 53.0)


# ------------------------------------------------------------------ targets
def test_targets_weighted_by_patient_group_and_unrepresented_populations_excluded() -> None:
    targets = collect_targets()
    by_group: dict[str, float] = {}
    for t in targets:
        by_group[t.patient_group] = by_group.get(t.patient_group, 0.0) + t.weight
    assert by_group and all(w == pytest.approx(1.0) for w in by_group.values())
    assert {t.spec.population for t in targets} == {"chronic_plp"}
    mal = [t for t in targets if t.spec.study_id == "malavera2016"]
    assert len(mal) == 6 and all(t.weight == pytest.approx(1 / 6) for t in mal)
    ex = {e["key"].split("/")[0]: e["reason"] for e in excluded_targets()}
    assert set(ex) == {"gilmore2019", "gilmore2020", "cohen2019", "albrighttrainer2022"}
    assert "population acute_postoperative" in ex["albrighttrainer2022"]
    assert "population post_amputation_pain" in ex["gilmore2019"]


def test_cli_bad_arm_language_is_one_clear_error_exit_2(run, tmp_path) -> None:
    import yaml

    data = _spec()
    data["arms"][1]["sham"] = "active"
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(data))
    r = run("replicate", "t.yaml", "--replicates", "20", cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "needs sham_active_duration" in r.stderr and "Traceback" not in r.stderr
