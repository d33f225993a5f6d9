"""Issue #21: a dose-response curve cannot reach an unsafe dose without a logged reason."""

from __future__ import annotations

import pytest

from phantomlab.exceptions import ProtocolError
from phantomlab.therapies import dose_response
from phantomlab.therapies.curves import _dose_protocol


def test_unsafe_dose_point_is_refused() -> None:
    with pytest.raises(ProtocolError, match="tdcs_current_bikson2016"):
        dose_response("tdcs", "current", [0.002, 0.006], n_patients=5)


def test_unsafe_dose_point_with_a_reason_is_recorded() -> None:
    r = dose_response(
        "tdcs", "current", [0.006], n_patients=5, allow_unsafe="in silico ceiling study"
    )
    assert "6 mA" in r.safety_note and "in silico ceiling study" in r.safety_note
    assert "safety: 6 mA" in r.summary() and r.to_dict()["safety_note"] == r.safety_note


def test_safe_points_pass_and_the_value_reaches_the_protocol() -> None:
    r = dose_response("tdcs", "current", [0.001, 0.002], n_patients=5)
    assert r.safety_note == ""
    from phantomlab.therapies import get_therapy

    proto = get_therapy("tdcs").reference_protocol()
    assert _dose_protocol(proto, "current", 0.003, "mA", 1e3).current == pytest.approx(0.003)
    rtms = get_therapy("rtms").reference_protocol()
    assert _dose_protocol(rtms, "intensity", 130.0, "%MT", 1.0).intensity == "130 %MT"
    assert _dose_protocol(proto, "sessions", 7.0, "sessions", 1.0).schedule.sessions == 7


def test_a_dose_that_is_not_a_protocol_field_is_said_so() -> None:
    from phantomlab.therapies import get_therapy

    proto = get_therapy("ti").reference_protocol()
    assert _dose_protocol(proto, "current", 0.002, "mA", 1e3) is None


def test_cli_refuses_an_unsafe_curve(cli) -> None:
    r = cli("therapy", "curve", "tdcs", "--param", "current", "--values", "2,6", "--patients", "5")
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("error:") for ln in lines) and "6 mA" in r.stderr
