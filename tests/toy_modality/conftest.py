"""Fixture of the toy-modality tests: register the toy modality for one test only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from phantomlab.protocols import register_protocol, unregister_protocol
from phantomlab.therapies import register_therapy, unregister_therapy

from .toy import KEY, Vibrotactile, VibrotactileTherapy


@pytest.fixture
def toy() -> Iterator[type[Vibrotactile]]:
    """Register the toy modality for one test, and remove it afterwards."""
    register_protocol(Vibrotactile)
    try:
        register_therapy(KEY)(VibrotactileTherapy)
        yield Vibrotactile
    finally:
        unregister_therapy(KEY)
        unregister_protocol(KEY)
