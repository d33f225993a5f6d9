"""``phantomlab bci`` command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from phantomlab.cli.bci import app

runner = CliRunner()
MAIN = [sys.executable, "-c", "from phantomlab.cli import main; main()", "bci"]


def test_simulate_then_decode_json(tmp_path: Path) -> None:
    """Simulated epochs written to .fif decode with both pipelines (JSON output)."""
    f = tmp_path / "s-epo.fif"
    out = runner.invoke(
        app, ["simulate", str(f), "--subject", "healthy", "--tasks", "left_hand,right_hand",
              "--n-epochs", "20", "--json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.stdout
    assert json.loads(out.stdout)["n_epochs"] == 40
    for pipe in ("csp-lda", "ts-lr"):
        res = runner.invoke(app, ["decode", str(f), "--pipeline", pipe, "--json"])
        assert res.exit_code == 0, res.stdout
        d = json.loads(res.stdout)
        assert d["pipeline"] == pipe and d["score_name"] == "roc_auc"
        assert d["accuracy_mean"] > 0.8 and len(d["accuracy_folds"]) == 5


def test_bad_input_one_line_exit_2(tmp_path: Path) -> None:
    """Wrong file type and a one-class selection: one line each, exit code 2."""
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n")
    out = subprocess.run([*MAIN, "decode", str(bad)], capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "unsupported file type" in out.stderr
    out = subprocess.run([*MAIN, "train", "--decoder", "mirror"], capture_output=True, text=True)
    assert out.returncode == 2 and "decoder = mirror" in out.stderr


def test_train_json() -> None:
    """A one-patient, one-day course runs from the command line."""
    out = runner.invoke(
        app, ["train", "--n", "1", "--days", "1", "--follow-up", "1", "--chronic-days", "30",
              "--decoder", "phantom", "--json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.stdout
    d = json.loads(out.stdout)
    assert len(d["pain_change_by_day"]) == 2 and d["training_signal_by_day"][0] >= 0
