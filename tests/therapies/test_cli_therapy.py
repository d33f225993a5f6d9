"""``phantomlab therapy`` commands (the demo step is examples/04_therapies.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from phantomlab.cli.main import main; main()", *args],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def test_curve_json_and_png(tmp_path: Path) -> None:
    png = tmp_path / "c.png"
    r = _run("therapy", "curve", "tdcs", "--patients", "30", "--values", "0,1,2",
             "--json", "--png", str(png))  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["param"] == "current" and out["unit"] == "mA" and out["in_silico"]
    pts = out["points"]
    assert [p["value_display"] for p in pts] == [0.0, 1.0, 2.0]
    assert pts[2]["pct_change"] < pts[0]["pct_change"]  # more current, more relief
    assert png.stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("therapy", "curve", "laser"), "MODALITY"),
        (("therapy", "curve", "rtms", "--param", "amplitude"), "--param"),
        (("therapy", "curve", "scs", "--values", "a,b"), "--values"),
        (("therapy", "curve", "scs", "--patients", "0"), "--patients"),
    ],
)
def test_bad_input_one_line_exit_2(args: tuple[str, ...], field: str) -> None:
    r = _run(*args)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith(f"error: {field}")


def test_list_and_params() -> None:
    r = _run("therapy", "list", "--json")
    assert r.returncode == 0, r.stderr
    mods = {row["modality"] for row in json.loads(r.stdout)}
    assert {"scs", "drg", "pns", "dbs", "mcs", "rtms", "tdcs", "ti", "mirror", "bci", "pme"} <= mods
    r = _run("therapy", "params", "rtms", "--json")
    assert r.returncode == 0
    assert any(p["name"] == "tau" for p in json.loads(r.stdout))


def test_course_command_json() -> None:
    r = _run(
        "therapy", "course", "malavera2016_active", "--days", "20", "--patients", "20", "--json"
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "in silico" in out["summary"]
    assert len(out["daily"]) == 20


def test_course_unknown_reference_is_clear() -> None:
    r = _run("therapy", "course", "no_such_protocol")
    assert r.returncode == 2
    assert r.stderr.startswith("error: name = no_such_protocol")
