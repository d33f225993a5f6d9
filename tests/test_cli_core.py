from __future__ import annotations

import subprocess
import sys


def test_cli_version_and_help() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from phantomlab.cli import main; main()", "--version"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0
    assert out.stdout.strip() == __import__("phantomlab").__version__


def test_cli_unknown_command_exits_2_without_traceback() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from phantomlab.cli import main; main()", "no-such-command"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
