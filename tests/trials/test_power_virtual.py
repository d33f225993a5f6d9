"""``trial power --model virtual``: simulated power on the calibrated virtual cohort."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from phantomlab.trials import load_design
from phantomlab.trials.power import posterior_power

DESIGN = {
    "name": "virtual-power-test",
    "design": "parallel",
    "arms": [
        {"name": "sham", "sham": True, "protocol": "malavera2016_sham"},
        {"name": "rtms", "protocol": "malavera2016_active"},
    ],
    "centers": [{"name": "c1"}],
    "n_per_arm": 4,
    "outcome": {"name": "pain", "visits": [0, 1], "primary_week": 1},
    "analysis": {"primary": "ancova", "control": "sham", "center": "fixed"},
    "simulation": {"effects": {"rtms": -1.5}},
}


def test_virtual_power_cli(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    """The virtual cohort simulates each arm's protocol; same seed, same power."""
    f = tmp_path / "d.yaml"
    f.write_text(yaml.safe_dump(DESIGN))
    args = ["power", str(f), "--n", "4", "--sims", "2", "--model", "virtual", "--draws", "2"]
    args.append("--json")
    r = run(*args)
    code, out, err = r.returncode, r.stdout, r.stderr
    assert code == 0, err
    res = json.loads(out)
    assert "virtual cohort" in res["method"]
    row = res["rows"][0]
    assert row["n_per_arm"] == 4 and row["simulated"] in (0.0, 0.5, 1.0)
    assert row["low"] <= row["simulated"] <= row["high"] and "calibration_error" in res
    d = load_design(DESIGN)
    again = posterior_power(d, [4], n_sims=2, n_draws=2, rng=1)
    assert np.array_equal(again.simulated, [row["simulated"]])


def test_virtual_power_needs_protocols(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    """A design without protocols cannot run on the virtual cohort: one clear error."""
    bad = {**DESIGN, "arms": [{"name": "sham", "sham": True}, {"name": "rtms"}]}
    f = tmp_path / "d.yaml"
    f.write_text(yaml.safe_dump(bad))
    r = run("power", str(f), "--model", "virtual", "--sims", "2")
    code, err = r.returncode, r.stderr
    assert code == 2 and "arms.protocol" in err and "Traceback" not in err
    r = run("power", str(f), "--model", "mechanistic")
    code, err = r.returncode, r.stderr
    assert code == 2 and "model" in err


def test_virtual_power_refuses_an_unsafe_arm_unless_told_why(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    """Issue #21: an in-silico trial arm with an unsafe protocol needs allow_unsafe."""
    from phantomlab.trials.replicate import resolve_protocol

    proto = tmp_path / "tdcs6.yaml"
    proto.write_text(
        "modality: tdcs\ntarget: M1 hand area contralateral\nanode: C3\ncathode: Fp2\n"
        "current: 6 mA\nelectrode_area: 35 cm^2\nduration: 20 min\n"
        "schedule: {sessions: 5, per_week: 5}\n"
    )
    arms = [{"name": "sham", "sham": True, "protocol": "malavera2016_sham"},
            {"name": "tdcs", "protocol": str(proto)}]  # fmt: skip
    f = tmp_path / "d.yaml"
    sim = {"effects": {"tdcs": -1.5}}
    f.write_text(yaml.safe_dump({**DESIGN, "arms": arms, "simulation": sim}))
    r = run("power", str(f), "--n", "4", "--sims", "2", "--model", "virtual", "--draws", "1")
    assert r.returncode == 2 and "6 mA" in r.stderr and "Traceback" not in r.stderr
    told_arms = [arms[0], {**arms[1], "allow_unsafe": "ceiling"}]
    told = load_design({**DESIGN, "arms": told_arms, "simulation": sim})
    arm = told.arms[1]
    assert resolve_protocol(str(arm.protocol), allow_unsafe=arm.allow_unsafe).current == 0.006
