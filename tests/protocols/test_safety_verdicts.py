"""Safety verdicts that cannot be dodged (issue #21, point 1).

Every rule is evaluated in every unit it can be written in, a rule that cannot be
assessed makes the verdict "not assessable" (not "valid"), plausibility bounds are
errors, and simulations refuse a protocol that fails unless a reason is given.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from phantomlab.cli import main
from phantomlab.exceptions import ProtocolError
from phantomlab.protocols import (
    check_protocol,
    get_reference,
    load_protocol,
    require_safe,
    safety_rules,
)

# Chen 1997's tested condition and stronger: 25 Hz, 10 s trains, 0.5 s between trains
RTMS = {
    "modality": "rtms",
    "frequency": "25 Hz",
    "train_duration": "10 s",
    "inter_train_interval": "0.5 s",
    "trains": 10,
}
TDCS = {
    "modality": "tdcs",
    "anode": "C3",
    "cathode": "Fp2",
    "current": "2 mA",
    "electrode_area": "35 cm^2",
    "duration": "20 min",
}


def _status(rep: Any, rule: str) -> str:
    (out,) = [r for r in rep.rules if r.rule == rule]
    return str(out.status)


def _violated(rep: Any) -> set[str]:
    return {r.rule for r in rep.rules if r.status == "violated" and r.severity == "error"}


# ------------------------------------------------------------------ units
def test_same_intensity_same_verdict_in_every_unit() -> None:
    # 90 %MSO with a motor threshold of 60 %MSO is 150 %MT: both spellings are invalid
    mso = check_protocol(
        load_protocol({**RTMS, "intensity": "90 %MSO", "motor_threshold": "60 %MSO"})
    )
    mt = check_protocol(
        load_protocol({**RTMS, "intensity": "150 %MT", "motor_threshold": "60 %MSO"})
    )
    assert mso.verdict == mt.verdict == "invalid"
    assert _violated(mso) == _violated(mt) == {"rtms_iti_chen1997"}


def test_mso_without_threshold_is_not_assessable_not_valid() -> None:
    rep = check_protocol(load_protocol({**RTMS, "intensity": "90 %MSO"}))
    assert not rep.errors
    assert rep.verdict == "not assessable" and not rep.valid
    assert _status(rep, "rtms_iti_chen1997") == "not assessable"
    assert "motor_threshold" in rep.summary() and "NOT ASSESSABLE" in rep.summary()


def test_ablation_low_intensity_in_mso_passes_once_converted() -> None:
    # the conversion, not the unit, decides: 50 %MSO at a 60 %MSO threshold is 83 %MT
    rep = check_protocol(
        load_protocol({**RTMS, "intensity": "50 %MSO", "motor_threshold": "60 %MSO"})
    )
    assert _status(rep, "rtms_iti_chen1997") == "not applicable"
    assert not _violated(rep)


def test_condition_known_false_makes_rule_not_applicable_despite_unknowns() -> None:
    # 10 Hz: Chen's condition (>= 20 Hz) fails whatever the intensity in %MT
    rep = check_protocol(load_protocol({**RTMS, "frequency": "10 Hz", "intensity": "90 %MSO"}))
    assert _status(rep, "rtms_iti_chen1997") == "not applicable"


def test_amt_converts_through_both_thresholds() -> None:
    p = load_protocol(
        {**RTMS, "intensity": "200 %AMT", "motor_threshold": "50 %MSO",
         "active_motor_threshold": "40 %MSO"}
    )  # fmt: skip
    q = p.safety_quantities()
    assert q["intensity_pct_mso"] == pytest.approx(80.0)
    assert q["intensity_pct_mt"] == pytest.approx(160.0)
    assert "rtms_iti_chen1997" in _violated(check_protocol(p))


def test_motor_threshold_must_be_in_mso() -> None:
    with pytest.raises(ProtocolError, match="motor_threshold"):
        load_protocol({**RTMS, "intensity": "90 %MT", "motor_threshold": "50 %RMT"})


# ------------------------------------------------------------------ plausibility
@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({**RTMS, "intensity": "500 %MSO"}, "plaus_rtms_intensity_mso"),
        ({**RTMS, "intensity": "100000 %RMT"}, "plaus_rtms_intensity_threshold"),
        ({**RTMS, "intensity": "90 %MT", "motor_threshold": "80 %MSO", "frequency": "1 Hz"}, None),
        (
            {**RTMS, "intensity": "130 %MT", "motor_threshold": "80 %MSO"},
            "plaus_rtms_intensity_mso",
        ),
        ({**TDCS, "electrode_area": "1e-300 cm^2"}, "plaus_tdcs_electrode_area_min"),
        ({**TDCS, "cathode_area": "0.01 cm^2"}, "plaus_tdcs_cathode_area_min"),
        ({**TDCS, "schedule": {"sessions": 10**15}}, "plaus_sessions_max"),
        ({**TDCS, "schedule": {"per_week": 100}}, "plaus_per_week_max"),
        ({**TDCS, "schedule": {"per_day": 80}}, "plaus_time_per_day_max"),
    ],
)
def test_plausibility_bounds_are_errors(change: dict[str, Any], rule: str | None) -> None:
    rep = check_protocol(load_protocol(change), require_complete=False)
    if rule is None:
        assert not _violated(rep)
    else:
        assert rule in _violated(rep), rep.summary()
        assert rep.verdict == "invalid"


def test_every_plausibility_rule_is_sourced_or_justified() -> None:
    plaus = [r for r in safety_rules() if r.plausibility]
    assert len(plaus) >= 9
    for r in plaus:
        assert r.citation.startswith(("physical limit", "assumed:")) or "doi:" in r.citation
        assert r.severity == "error"


def test_unstated_value_makes_plausibility_rule_not_applicable() -> None:
    rep = check_protocol(load_protocol(TDCS))
    assert _status(rep, "plaus_sessions_max") == "not applicable"
    assert rep.verdict == "valid"


# ------------------------------------------------------------------ report
def test_every_rule_listed_in_text_and_json() -> None:
    rep = check_protocol(load_protocol({**RTMS, "intensity": "90 %MSO"}))
    concerned = [r for r in safety_rules() if "rtms" in r.modalities or "*" in r.modalities]
    assert {r.id for r in concerned} == {o.rule for o in rep.rules}
    d = rep.to_dict()
    assert d["verdict"] == "not assessable"
    # Chen's rule needs %MT; the rules that know only Chen's documented safe condition
    # cannot place 25 Hz, 10 s trains either way (the Rossi 2009 table values were not seen)
    assert d["not_assessable"] == [
        "rtms:rtms_iti_chen1997",
        "rtms:rtms_train_rossi2009",
        "rtms:rtms_iti_documented_chen1997",
    ]
    assert len(d["rules"]) == len(concerned)
    text = rep.summary()
    for status in ("not assessable", "passed", "not applicable"):
        assert status in text


def test_override_accepts_a_rule_that_cannot_be_assessed(caplog: pytest.LogCaptureFixture) -> None:
    p = load_protocol({**RTMS, "intensity": "90 %MSO"})
    with caplog.at_level(logging.WARNING, logger="phantomlab.protocols.safety"):
        rep = check_protocol(
            p,
            overrides={
                "rtms_iti_chen1997": "threshold measured at 75 %MSO",
                "rtms_train_rossi2009": "train reviewed against the full consensus table",
                "rtms_iti_documented_chen1997": "interval reviewed against the full table",
            },
        )
    assert rep.valid
    assert "75 %MSO" in caplog.text
    assert any("OVERRIDDEN" in w.message for w in rep.warnings)


# ------------------------------------------------------------------ CLI
class _Out:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.exit_code, self.stdout, self.output = code, out, out + err


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Any:
    import sys

    import yaml

    def run(data: dict[str, Any], *args: str) -> _Out:
        f = tmp_path / "p.yaml"
        f.write_text(yaml.safe_dump(data))
        monkeypatch.setattr(sys, "argv", ["phantomlab", *args[:2], str(f), *args[2:]])
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
        out = capsys.readouterr()
        return _Out(code, out.out, out.err)

    return run


def test_cli_check_not_assessable_exits_2_and_lists_rules(cli: Any) -> None:
    res = cli({**RTMS, "intensity": "90 %MSO"}, "protocol", "check", "--json")
    assert res.exit_code == 2
    d = json.loads(res.stdout)
    assert d["verdict"] == "not assessable" and d["valid"] is False
    assert {r["status"] for r in d["rules"]} >= {"not assessable", "passed"}
    res = cli({**RTMS, "intensity": "90 %MSO"}, "protocol", "check")
    assert res.exit_code == 2
    assert "verdict: not assessable" in res.output and "Traceback" not in res.output


def test_cli_motor_threshold_option_converts(cli: Any) -> None:
    data = {**RTMS, "intensity": "90 %MSO"}
    res = cli(data, "protocol", "check", "--json", "--motor-threshold", "60 %MSO")
    assert res.exit_code == 2
    assert json.loads(res.stdout)["verdict"] == "invalid"
    ok = {**data, "frequency": "1 Hz", "trains": None, "train_duration": None,
          "inter_train_interval": None, "duration": "20 min", "intensity": "40 %MSO"}  # fmt: skip
    ok = {k: v for k, v in ok.items() if v is not None}
    res = cli(ok, "protocol", "check", "--json", "--motor-threshold", "60 %MSO")
    d = json.loads(res.stdout)
    # 40 %MSO at a 60 %MSO threshold is 67 %MT: every rule in %MT is assessed; only the
    # documented-condition rules remain (20 min of 1 Hz is one train of 1200 s > 1.6 s)
    assert {r["rule"] for r in d["rules"] if r["unconverted"]} == set(), res.stdout
    assert d["not_assessable"] == [
        "rtms:rtms_train_rossi2009",
        "rtms:rtms_iti_documented_chen1997",
    ], res.stdout
    rules = {r["rule"]: r for r in d["rules"]}
    assert "train_duration = 1200 s" in rules["rtms_train_rossi2009"]["note"]


# ------------------------------------------------------------------ simulations
def test_therapy_course_refuses_6ma_tdcs_without_reason(cli: Any) -> None:
    res = cli({**TDCS, "current": "6 mA"}, "therapy", "course", "--patients", "5",
               "--days", "2")  # fmt: skip
    assert res.exit_code == 2
    assert "tdcs_current_bikson2016" in res.output and "--allow-unsafe" in res.output


def test_therapy_course_with_logged_override_records_it(cli: Any) -> None:
    res = cli({**TDCS, "current": "6 mA"}, "therapy", "course", "--patients", "5",
               "--days", "2", "--json", "--allow-unsafe", "in-silico dose study")  # fmt: skip
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout[res.stdout.index("{") :])
    assert "in-silico dose study" in d["safety_note"]
    assert "tdcs_current_bikson2016" in d["safety_note"]


def test_require_safe_rules() -> None:
    ok = load_protocol(TDCS)
    assert require_safe(ok) == ""
    bad = load_protocol({**TDCS, "current": "6 mA"})
    with pytest.raises(ProtocolError, match="allow-unsafe"):
        require_safe(bad)
    with pytest.raises(ProtocolError, match="empty reason"):
        require_safe(bad, allow_unsafe="  ")
    assert "reason x" in require_safe(bad, allow_unsafe="reason x")
    # an unassessable user protocol is refused too
    with pytest.raises(ProtocolError, match="cannot be assessed"):
        require_safe(load_protocol({**RTMS, "intensity": "90 %MSO"}))


def test_unstated_values_are_simulated_with_defaults_and_recorded() -> None:
    # the source states no contact area: Shannon's k cannot be assessed; the therapy's
    # defaults are simulated and that is recorded, not refused
    ref = get_reference("nihon2001_single_scs")
    note = require_safe(ref)
    assert "shannon_k_1992" in note and "defaults" in note
    # a stated value that cannot be converted is refused (ablation of the conversion)
    p = load_protocol({**RTMS, "intensity": "90 %MSO"})
    with pytest.raises(ProtocolError, match="cannot be assessed"):
        require_safe(p)
    # converted (95 %MT): no longer refused; the documented-condition rules cannot place
    # 25 Hz, 10 s trains, which is recorded
    note = require_safe(p.replace(motor_threshold="95 %MSO"))
    assert "rtms_train_rossi2009" in note and "beyond the conditions" in note


def test_trial_arm_from_a_file_is_refused_unless_spec_gives_reason(tmp_path: Path) -> None:
    import yaml

    from phantomlab.trials.replicate import resolve_protocol

    f = tmp_path / "arm.yaml"
    f.write_text(yaml.safe_dump({**TDCS, "current": "6 mA"}))
    with pytest.raises(ProtocolError):
        resolve_protocol(str(f))
    assert resolve_protocol(str(f), allow_unsafe="dose-escalation arm").current == pytest.approx(
        6e-3
    )


def test_optimizer_filter_counts_not_assessable_as_unsafe() -> None:
    from phantomlab.optimize.safety import ProtocolSafety
    from phantomlab.optimize.space import default_space

    space = default_space("tdcs")
    safety = ProtocolSafety()
    pt = dict(space.safe_seed) if hasattr(space, "safe_seed") else {}
    if not pt:
        pytest.skip("space has no safe seed")
    assert safety.violations(space, pt) == []
    over = {**pt, "current": 6e-3}
    assert any("tdcs_current_bikson2016" in p.message for p in safety.violations(space, over))
