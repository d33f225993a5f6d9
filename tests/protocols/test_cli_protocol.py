"""``phantomlab protocol ...``: exit codes 0/2, JSON output, one line per problem.

Most cases call ``phantomlab.cli.main()`` in process (same error handling as the
installed command, faster); a few run the real command in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from phantomlab.cli import main

CMD = [sys.executable, "-c", "from phantomlab.cli import main; main()", "protocol"]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


Run = Callable[..., Result]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["phantomlab", "protocol", *args])
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return run


GOOD = """\
modality: tdcs
target: M1 hand area contralateral
anode: C3
cathode: Fp2
current: 2 mA
electrode_area: 35 cm^2
duration: 20 min
schedule: {sessions: 10, per_week: 5}
"""


def _subprocess(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CMD, *args], capture_output=True, text=True, timeout=120)


def _file(tmp_path: Path, text: str, name: str = "p.yaml") -> str:
    f = tmp_path / name
    f.write_text(text)
    return str(f)


def test_check_valid_json_subprocess(tmp_path: Path) -> None:
    out = _subprocess("check", _file(tmp_path, GOOD), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"valid", "verdict", "errors", "warnings", "rules", "dose"} <= set(data)
    assert data["valid"] is True and data["verdict"] == "valid"
    assert data["dose"]["charge_per_session_C"] == pytest.approx(2.4)
    assert data["dose"]["current_density_A_per_m2"] == pytest.approx(0.571428571)


BAD = {
    "syntax": ("modality: tdcs\ncurrent: [2 mA\n", ["file"]),
    "unknown_modality": ("modality: tdcx\n", ["modality"]),
    "unknown_field": (GOOD + "colour: red\n", ["tdcs.colour"]),
    "wrong_dimension": (GOOD.replace("2 mA", "2 s"), ["tdcs.current"]),
    "negative": (GOOD.replace("20 min", "-20 min"), ["tdcs.duration"]),
    "missing": ("modality: tdcs\ncurrent: 2 mA\n", ["tdcs.anode", "tdcs.duration"]),
    "unsafe": (GOOD.replace("2 mA", "6 mA"), ["tdcs.current"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_exit_2_one_line_per_problem(tmp_path: Path, case: str, cli: Run) -> None:
    _run = cli
    text, fields = BAD[case]
    path = _file(tmp_path, text)
    out = _run("check", path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr + out.stdout
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("error: ")]
    assert lines
    for f in fields:
        assert any(ln.startswith(f"error: {f}") for ln in lines), out.stderr
    # the JSON report is printed for invalid protocols too
    js = _run("check", path, "--json")
    assert js.returncode == 2
    data = json.loads(js.stdout)
    assert data["valid"] is False and data["errors"]
    for e in data["errors"]:
        assert {"field", "value", "limit", "source", "message"} <= set(e)


def test_unsafe_json_has_source_and_dose(tmp_path: Path, cli: Run) -> None:
    _run = cli
    out = _run("check", _file(tmp_path, GOOD.replace("2 mA", "6 mA")), "--json")
    data = json.loads(out.stdout)
    err = next(e for e in data["errors"] if e["field"] == "tdcs.current")
    assert err["limit"] == "<= 4 mA" and "Bikson" in err["source"]
    assert data["dose"]["current_A"] == pytest.approx(6e-3)


def test_override(tmp_path: Path, cli: Run, caplog: pytest.LogCaptureFixture) -> None:
    _run = cli
    path = _file(tmp_path, GOOD.replace("2 mA", "4.5 mA"))
    assert _run("check", path).returncode == 2
    ok = _run("check", path, "--override", "tdcs_current_bikson2016=ethics approval 123")
    assert ok.returncode == 0, ok.stderr
    assert "OVERRIDDEN" in ok.stdout and "ethics approval 123" in caplog.text
    bad = _run("check", path, "--override", "nonsense")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_list_show_schema_report(tmp_path: Path, cli: Run) -> None:
    _run = cli
    out = _run("list", "--json")
    assert out.returncode == 0
    names = [r["name"] for r in json.loads(out.stdout)]
    assert "malavera2016_active" in names
    show = _run("show", "malavera2016_active")
    assert show.returncode == 0 and "10 Hz" in show.stdout and "1,200" in show.stdout
    schema = _run("schema", "scs")
    assert schema.returncode == 0
    assert "pulse_width" in json.loads(schema.stdout)["properties"]
    rep = _run("report", _file(tmp_path, "modality: tdcs\ncurrent: 2 mA\n"))
    assert rep.returncode == 0
    assert "anode" in rep.stdout and "MISSING" in rep.stdout


@pytest.mark.parametrize(
    "args", [("show", "nobody"), ("schema", "xyz"), ("check", "/no/such/file.yaml")]
)
def test_errors_without_traceback(args: tuple[str, ...], cli: Run) -> None:
    _run = cli
    out = _run(*args)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and out.stderr.startswith("error: ")


def test_bad_input_subprocess(tmp_path: Path) -> None:
    out = _subprocess("check", _file(tmp_path, GOOD.replace("2 mA", "2 s") + "colour: red\n"))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2 and all(ln.startswith("error: ") for ln in lines)
