"""Shared fixtures of the BCI tests (small, module-scoped, seeded)."""

from __future__ import annotations

import mne
import pytest

from phantomlab.bci.activity import TaskActivity, patient_activity
from phantomlab.mechanisms import Cohort

mne.set_log_level("ERROR")


@pytest.fixture(scope="session")
def chronic_activity() -> TaskActivity:
    """Task activity of one chronic virtual amputee (persistence, 1 year)."""
    c = Cohort(1, "persistence", rng=5)
    c.run(365)
    return patient_activity(c, "left")
