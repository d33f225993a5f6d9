"""``phantomlab patient`` command line."""

import json
import subprocess
import sys

from typer.testing import CliRunner

from phantomlab.cli.patient import app

runner = CliRunner()


def test_simulate_json_is_reproducible(tmp_path):
    args = ["simulate", "--n", "20", "--days", "30", "--seed", "4", "--json"]
    a = runner.invoke(app, args)
    b = runner.invoke(app, args + ["--workers", "2", "-o", str(tmp_path / "d.csv")])
    assert a.exit_code == 0 and b.exit_code == 0
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    assert ja["mean_nrs_per_patient"] == jb["mean_nrs_per_patient"]
    assert len(ja["mean_nrs_per_patient"]) == 20
    assert (tmp_path / "d.csv").read_text().startswith("patient,day,nrs")


def test_model_card_command_prints_card():
    out = runner.invoke(app, ["model-card"])
    assert out.exit_code == 0
    assert out.stdout.startswith("# PhantomLab virtual patient: model card")


def test_bad_input_one_line_exit_2():
    cmd = [sys.executable, "-c", "from phantomlab.cli import main; main()", "patient"]
    out = subprocess.run(cmd + ["simulate", "--hypothesis", "gate"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "hypothesis = gate" in out.stderr and "persistence" in out.stderr
