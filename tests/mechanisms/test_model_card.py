"""Provenance records and the generated model card."""

from pathlib import Path

import phantomlab.mechanisms.patient  # noqa: F401  (registers every level)
from phantomlab.mechanisms.model_card import render
from phantomlab.mechanisms.provenance import KINDS, REGISTRY

CARD = Path(__file__).resolve().parents[2] / "docs" / "model_card.md"


def test_every_parameter_has_provenance():
    assert len(REGISTRY) > 50
    for rec in REGISTRY.values():
        assert rec.kind in KINDS
        if rec.kind in ("source", "calibrated"):
            assert rec.source, rec.key
        if rec.kind in ("assumed", "calibrated"):
            assert rec.note, rec.key


def test_committed_model_card_is_up_to_date():
    """docs/model_card.md must equal the generator's output; regenerate with
    ``python -m phantomlab.mechanisms.model_card > docs/model_card.md``."""
    assert CARD.read_text(encoding="utf-8") == render()


def test_card_lists_every_parameter():
    text = render()
    for rec in REGISTRY.values():
        assert f"`{rec.name}`" in text
