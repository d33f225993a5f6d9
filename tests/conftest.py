"""Fixtures shared by every test folder."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest


class CliResult(NamedTuple):
    """Exit code and captured output of one in-process ``phantomlab`` call."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(monkeypatch, capsys) -> Callable[..., CliResult]:
    """Run ``phantomlab ARGS...`` in-process through ``main()`` (exit codes included)."""
    from phantomlab.cli import main

    def _run(*args: str, cwd: Path | None = None) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["phantomlab", *args])
        if cwd is not None:
            monkeypatch.chdir(cwd)
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return _run
