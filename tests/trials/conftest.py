"""Shared fixtures of the trials tests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

import pytest


class _Result(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(monkeypatch, capsys):
    """Run ``phantomlab trial ...`` in-process through ``main()`` (exit codes included)."""
    from phantomlab.cli import main

    def _run(*args: str, cwd: Path | None = None) -> _Result:
        monkeypatch.setattr(sys, "argv", ["phantomlab", "trial", *args])
        if cwd is not None:
            monkeypatch.chdir(cwd)
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return _Result(code, out.out, out.err)

    return _run
