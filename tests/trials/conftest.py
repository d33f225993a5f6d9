"""Shared fixtures of the trials tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def run(cli):
    """Run ``phantomlab trial ...`` in-process (see the root conftest's ``cli``)."""
    return lambda *args, cwd=None: cli("trial", *args, cwd=cwd)
