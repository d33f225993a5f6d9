"""Degenerate input to the field functions is one clear InputError (issue #21, point 8)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from phantomlab.exceptions import InputError
from phantomlab.fields import tdcs_field, ti_field
from phantomlab.fields.targets import optimize_tdcs_for_target, optimize_ti_for_target

PTS = np.array([[0.0, 0.0, 0.07], [0.01, 0.0, 0.06]])


@pytest.mark.parametrize("current", [math.nan, math.inf, -math.inf])
def test_tdcs_field_refuses_non_finite_current(current: float) -> None:
    with pytest.raises(InputError) as exc:
        tdcs_field("C3", "Fp2", current, PTS)
    assert len(exc.value.problems) == 1 and exc.value.problems[0].field == "current"


def test_tdcs_field_finite_current_still_works() -> None:
    res = tdcs_field("C3", "Fp2", 1e-3, PTS)
    assert np.isfinite(res.magnitude).all() and res.magnitude.max() > 0


@pytest.mark.parametrize("roi", [-1e-3, 0.0, math.nan])
def test_roi_radius_must_be_positive(roi: float) -> None:
    with pytest.raises(InputError, match="roi_radius"):
        tdcs_field("C3", "Fp2", 1e-3, PTS, roi_radius=roi)
    with pytest.raises(InputError, match="roi_radius"):
        optimize_tdcs_for_target("m1_hand_left", roi_radius=roi)
    with pytest.raises(InputError, match="roi_radius"):
        optimize_ti_for_target("m1_hand_left", roi_radius=roi)


def test_ti_field_refuses_nan_current() -> None:
    with pytest.raises(InputError, match="currents_A"):
        ti_field(("F5", "P5"), ("F6", "P6"), (1e-3, math.nan), PTS)


def test_cli_sphere_nan_current_is_exit_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    d = tmp_path
    (d / "p.csv").write_text("x_mm,y_mm,z_mm\n0,0,70\n")
    out = subprocess.run(
        [sys.executable, "-c", "from phantomlab.cli import main; main()", "field", "sphere",
         "--points", str(d / "p.csv"), "-o", str(d / "o.csv"), "--current", "nan mA",
         "--anode", "C3", "--cathode", "Fp2"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and "current" in out.stderr
    assert not (d / "o.csv").exists()
