"""Every safety rule on both sides of its limit; overrides; all violations at once."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from phantomlab.exceptions import ProtocolError
from phantomlab.protocols import check_protocol, load_protocol, safety_rules, safety_table
from phantomlab.protocols.safety import plp_range_rules, published_rules

TDCS_OK = {
    "modality": "tdcs",
    "anode": "C3",
    "cathode": "Fp2",
    "current": "2 mA",
    "electrode_area": "35 cm^2",
    "duration": "20 min",
}


def _errors(p: Any, **kw: Any) -> set[str]:
    rep = check_protocol(load_protocol(p), **kw)
    return {e.message.rsplit("[rule ", 1)[-1].rstrip("]") for e in rep.errors}


def _rule_hits(p: Any) -> set[str]:
    rep = check_protocol(load_protocol(p))
    return {
        x.message.rsplit("[rule ", 1)[-1].rstrip("]")
        for x in rep.errors + rep.warnings
        if "[rule " in x.message
    }


def test_published_rules_are_cited() -> None:
    ids = {r.id for r in published_rules()}
    assert ids == {
        "shannon_k_1992",
        "tdcs_current_bikson2016",
        "tdcs_duration_bikson2016",
        "tdcs_charge_bikson2016",
        "rtms_iti_chen1997",
        "rtms_train_rossi2009",
        "rtms_iti_documented_chen1997",
    }
    for r in published_rules():
        assert r.citation and r.where and r.severity == "error"


# ---- Shannon k < 1.85 (Shannon 1992) --------------------------------------------------
def _scs(amplitude: str) -> dict[str, Any]:
    return {
        "modality": "scs",
        "vertebral_level": "T10",
        "amplitude": amplitude,
        "pulse_width": "400 us",
        "frequency": "50 Hz",
        "contact_area": "1 mm^2",
    }


def test_shannon_both_sides() -> None:
    # Q = I * 400 us; A = 1 mm^2 = 0.01 cm^2 -> D = 100 Q  (uC, uC/cm^2)
    # k = log10(Q) + log10(100 Q) = 2 + 2 log10(Q); k = 1.85 at log10(Q) = -0.075,
    # Q = 0.841395 uC, I = 0.841395 uC / 400 us = 2.103488 mA
    assert "shannon_k_1992" not in _errors(_scs("2.09 mA"))
    assert "shannon_k_1992" in _errors(_scs("2.12 mA"))


@pytest.mark.parametrize("modality", ["drg", "pns", "dbs", "mcs"])
def test_shannon_applies_to_every_electrode_modality(modality: str) -> None:
    d = _scs("5 mA")
    d.pop("vertebral_level")
    d["modality"] = modality
    assert "shannon_k_1992" in _errors(d)


# ---- tDCS envelope (Bikson 2016) -------------------------------------------------------
def test_tdcs_current_both_sides() -> None:
    # duration shortened so the 7.2 C charge rule stays satisfied: 4 mA * 20 min = 4.8 C
    assert "tdcs_current_bikson2016" not in _errors({**TDCS_OK, "current": "4 mA"})
    assert "tdcs_current_bikson2016" in _errors({**TDCS_OK, "current": "4.01 mA"})


def test_tdcs_duration_both_sides() -> None:
    # 1 mA so charge stays below 7.2 C: 1 mA * 40 min = 2.4 C
    base = {**TDCS_OK, "current": "1 mA"}
    assert "tdcs_duration_bikson2016" not in _errors({**base, "duration": "40 min"})
    assert "tdcs_duration_bikson2016" in _errors({**base, "duration": "40.5 min"})


def test_tdcs_charge_both_sides() -> None:
    # 3 mA * 40 min = 3e-3 * 2400 = 7.2 C (at the limit); 3.01 mA -> 7.224 C
    base = {**TDCS_OK, "duration": "40 min"}
    assert "tdcs_charge_bikson2016" not in _errors({**base, "current": "3 mA"})
    assert "tdcs_charge_bikson2016" in _errors({**base, "current": "3.01 mA"})


# ---- rTMS inter-train interval (Chen 1997) -------------------------------------------------
def _rtms(iti: str, freq: str = "20 Hz", intensity: str = "110 %MT", train: str = "1.6 s") -> Any:
    return {
        "modality": "rtms",
        "frequency": freq,
        "intensity": intensity,
        "trains": 10,
        "train_duration": train,
        "inter_train_interval": iti,
    }


def test_rtms_iti_both_sides() -> None:
    assert "rtms_iti_chen1997" in _errors(_rtms("1 s"))
    assert "rtms_iti_chen1997" not in _errors(_rtms("1.1 s"))


@pytest.mark.parametrize(
    "kw",
    [
        {"freq": "10 Hz"},  # below the tested 20 Hz
        {"intensity": "100 %MT"},  # not above 100% MT
        {"intensity": "120 %AMT"},  # not relative to MT: not evaluated
        {"train": "1 s"},  # shorter train than tested
    ],
)
def test_rtms_iti_conditions(kw: dict[str, str]) -> None:
    assert "rtms_iti_chen1997" not in _errors(_rtms("0.5 s", **kw))


def test_unknown_condition_is_reported_not_evaluated() -> None:
    p = load_protocol({**_rtms("0.5 s"), "intensity": None})
    rep = check_protocol(p)
    assert any("rtms_iti_chen1997" in s for s in rep.not_evaluated)


# ---- PLP-study ranges (warnings), generated from the library ---------------------------
def test_plp_ranges_exist_for_main_modalities() -> None:
    ids = {r.id for r in plp_range_rules()}
    for expected in (
        "plp_range.tdcs.current_A.max",
        "plp_range.tdcs.current_A.min",
        "plp_range.rtms.frequency_Hz.max",
        "plp_range.rtms.intensity_pct_mt.min",
        "plp_range.mirror.duration_s.max",
    ):
        assert expected in ids
    tdcs_max = next(r for r in plp_range_rules() if r.id == "plp_range.tdcs.current_A.max")
    # bolognini2013, gunduz2021, bocci2019: 2 mA; kikkert2019: 1 mA
    assert tdcs_max.limit == pytest.approx(2e-3)
    assert "bolognini2013_active" in tdcs_max.citation


_PROBES: dict[str, dict[str, Any]] = {
    "tdcs": dict(TDCS_OK),
    "rtms": {
        "modality": "rtms",
        "frequency": "10 Hz",
        "intensity": "90 %MT",
        "trains": 20,
        "train_duration": "6 s",
        "inter_train_interval": "54 s",
    },
    "mirror": {"modality": "mirror", "duration": "15 min"},
    "pns": {
        "modality": "pns",
        "nerves": ["sciatic"],
        "pulse_shape": "sinusoidal",
        "amplitude": "1 mA",
        "frequency": "10 kHz",
        "contact_area": "20 mm^2",
        "duration": "30 min",
    },
}
_FIELD = {
    "current_A": ("current", "A"),
    "duration_s": ("duration", "s"),
    "frequency_Hz": ("frequency", "Hz"),
    "electrode_area_m2": ("electrode_area", "m^2"),
    "train_duration_s": ("train_duration", "s"),
    "inter_train_interval_s": ("inter_train_interval", "s"),
}


def _set(d: dict[str, Any], quantity: str, value: float) -> dict[str, Any] | None:
    d = dict(d)
    if quantity in _FIELD:
        name, unit = _FIELD[quantity]
        d[name] = f"{value!r} {unit}"
    elif quantity == "intensity_pct_mt":
        d["intensity"] = f"{value:g} %MT"
    elif quantity == "sessions":
        if value < 1:
            return None
        d["schedule"] = {"sessions": int(round(value))}
    elif quantity == "pulses_per_session" and d["modality"] == "pns":
        # probe: 10 kHz sine -> 20000 phases per second, so duration = pulses / 20000
        d["duration"] = f"{value / 20000!r} s"
    elif quantity == "pulses_per_session":
        if value < 1:
            return None
        d.pop("trains", None)
        d.pop("train_duration", None)
        d["pulses_per_session"] = int(round(value))
    else:
        return None
    return d


@pytest.mark.parametrize("rule", plp_range_rules(), ids=lambda r: r.id)
def test_every_plp_range_rule_both_sides(rule: Any) -> None:
    modality = rule.modalities[0]
    if modality not in _PROBES:
        pytest.skip(f"no probe protocol for {modality}")
    integer = rule.quantity in ("sessions", "pulses_per_session")
    step = 1 if integer else abs(rule.limit) * 0.05
    outside = rule.limit + step if rule.comparison == "<=" else rule.limit - step
    inside = rule.limit
    probe_in = _set(_PROBES[modality], rule.quantity, inside)
    probe_out = _set(_PROBES[modality], rule.quantity, outside)
    if probe_in is None or probe_out is None:
        pytest.skip("value cannot be expressed")
    assert rule.id not in _rule_hits(probe_in)
    assert rule.id in _rule_hits(probe_out)


def test_plp_range_is_a_warning_only() -> None:
    rep = check_protocol(load_protocol({**TDCS_OK, "current": "3 mA"}))
    assert rep.valid
    assert any("plp_range.tdcs.current_A.max" in w.message for w in rep.warnings)


# ---- all at once, overrides ------------------------------------------------------------
def test_every_violation_at_once() -> None:
    p = load_protocol({**TDCS_OK, "current": "6 mA", "duration": "50 min"})
    ids = _errors(p)
    assert ids == {"tdcs_current_bikson2016", "tdcs_duration_bikson2016", "tdcs_charge_bikson2016"}


def test_override_is_logged_and_kept_as_warning(caplog: pytest.LogCaptureFixture) -> None:
    p = load_protocol({**TDCS_OK, "current": "4.5 mA"})
    with caplog.at_level(logging.WARNING, logger="phantomlab.protocols.safety"):
        rep = check_protocol(p, overrides={"tdcs_current_bikson2016": "IRB protocol 42"})
    assert rep.valid
    assert any("OVERRIDDEN (IRB protocol 42)" in w.message for w in rep.warnings)
    assert "IRB protocol 42" in caplog.text


def test_override_requires_known_rule_and_reason() -> None:
    p = load_protocol(TDCS_OK)
    with pytest.raises(ProtocolError):
        check_protocol(p, overrides={"no_such_rule": "x"})
    with pytest.raises(ProtocolError):
        check_protocol(p, overrides={"tdcs_current_bikson2016": "  "})


def test_missing_required_is_error_or_warning() -> None:
    p = load_protocol({"modality": "tdcs", "current": "2 mA"})
    strict = check_protocol(p)
    assert not strict.valid
    assert {e.field for e in strict.errors} >= {"tdcs.duration", "tdcs.anode", "tdcs.cathode"}
    lenient = check_protocol(p, require_complete=False)
    assert not lenient.errors and lenient.warnings
    # duration unknown: Bikson's duration and charge limits cannot be assessed
    assert lenient.verdict == "not assessable"
    assert {"tdcs:tdcs_duration_bikson2016", "tdcs:tdcs_charge_bikson2016"} <= set(
        lenient.not_evaluated
    )


def test_ti_equal_carriers_is_an_error() -> None:
    p = load_protocol(
        {
            "modality": "ti",
            "duration": "20 min",
            "pairs": [
                {"electrodes": ["F5", "P5"], "current": "1 mA", "frequency": "2 kHz"},
                {"electrodes": ["F6", "P6"], "current": "1 mA", "frequency": "2000 Hz"},
            ],
        }
    )
    assert not check_protocol(p).valid


def test_combination_checks_components() -> None:
    p = load_protocol(
        {
            "modality": "combination",
            "components": [
                {**TDCS_OK, "current": "5 mA"},
                {"modality": "mirror", "duration": "15 min"},
            ],
        }
    )
    rep = check_protocol(p)
    assert any(e.field.startswith("combination.components.0.tdcs.current") for e in rep.errors)


def test_report_json_shape() -> None:
    d = check_protocol(load_protocol(TDCS_OK)).to_dict()
    assert set(d) == {"valid", "verdict", "errors", "warnings", "not_assessable", "rules", "dose"}
    assert d["verdict"] == "valid" and d["not_assessable"] == []
    errs = [r for r in d["rules"] if r["severity"] == "error"]
    assert {r["status"] for r in errs} <= {"passed", "not applicable"}
    assert {"tdcs_current_bikson2016", "plaus_tdcs_electrode_area_min"} <= {r["rule"] for r in errs}


def test_safety_table_columns() -> None:
    t = safety_table()
    assert {"modality", "quantity", "limit", "severity", "citation"} <= set(t.columns)
    assert len(t) == len(safety_rules())


def test_report_to_frame() -> None:
    rep = check_protocol(load_protocol({**TDCS_OK, "current": "6 mA"}))
    df = rep.to_frame()
    assert len(df) == len(rep.errors) + len(rep.warnings)
    assert set(df["severity"]) == {"error", "warning"}


def test_parameter_bounds() -> None:
    from phantomlab.protocols import parameter_bounds

    b = parameter_bounds("tdcs")
    assert b["current"].safe_high == pytest.approx(4e-3)
    assert "Bikson" in b["current"].safe_source
    assert (b["current"].plp_low, b["current"].plp_high) == pytest.approx((1e-3, 2e-3))
    assert b["duration"].safe_high == pytest.approx(2400)
    r = parameter_bounds("rtms")
    assert "inter_train_interval" in r and r["inter_train_interval"].safe_low is None
    assert r["intensity"].plp_high == pytest.approx(90)
