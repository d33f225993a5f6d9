"""The one modality vocabulary: protocol registry keys shared by every layer."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field

from phantomlab.protocols import (
    MODALITIES,
    ProtocolBase,
    modality_keys,
    modality_label,
    model_for,
    register_protocol,
)

BUILTIN = (
    "scs", "drg", "pns", "dbs", "mcs", "rtms", "tdcs", "ti", "mirror", "bci", "pme",
    "combination", "sham",
)  # fmt: skip


def test_builtin_keys_in_the_order_of_the_standard() -> None:
    assert modality_keys()[: len(BUILTIN)] == BUILTIN
    assert modality_label("rtms") == "rTMS" and modality_label("tdcs") == "tDCS"
    assert all(model_for(k).label for k in BUILTIN)


def test_every_therapy_is_keyed_by_a_registered_protocol() -> None:
    from phantomlab.therapies import THERAPIES

    assert tuple(THERAPIES) == BUILTIN
    assert all(THERAPIES[k].modality == k for k in THERAPIES)


def test_evidence_labels_map_onto_registered_keys() -> None:
    from phantomlab.evidence.records import MODALITIES as LABELS
    from phantomlab.evidence.records import MODALITY_KEYS, load_studies
    from phantomlab.evidence.vocab import EVIDENCE_ONLY_KEYS

    assert set(LABELS) == set(MODALITY_KEYS)
    keys_used = {k for keys in MODALITY_KEYS.values() for k in keys}
    assert keys_used - EVIDENCE_ONLY_KEYS <= set(MODALITIES)
    # an evidence-only key is one no protocol class claims (else it would need no exception)
    assert not EVIDENCE_ONLY_KEYS & set(MODALITIES) and EVIDENCE_ONLY_KEYS <= keys_used
    for label, keys in MODALITY_KEYS.items():
        # the protocol class's display label names the same modality
        if len(keys) == 1 and keys[0] not in EVIDENCE_ONLY_KEYS:
            assert modality_label(keys[0]).lower() == label.lower()
    table = load_studies()
    assert len(table.filter(modality="mirror")) == len(table.filter(modality="mirror therapy"))
    assert {r.modality_keys for r in table.filter(modality="rtms")} == {("rtms",)}


def test_calibration_blocks_are_modality_keys() -> None:
    from phantomlab.trials.calibration import BLOCKS

    assert set(BLOCKS) - {"placebo"} <= set(MODALITIES)


def test_optimizer_spaces_come_from_the_protocol_classes() -> None:
    from phantomlab.optimize import default_space, known_modalities

    assert known_modalities() == sorted(k for k, c in MODALITIES.items() if c.search_space)
    scs = default_space("scs")
    assert scs.not_in_protocol == ("contacts",)
    assert scs.names == [t.name for t in model_for("scs").search_space.parameters]  # type: ignore[union-attr]


def test_register_refuses_a_second_class_for_a_key_and_a_class_without_key() -> None:
    class OtherTDCS(ProtocolBase):
        modality: Literal["tdcs"] = Field(description="duplicate key")

    with pytest.raises(ValueError, match="already registered"):
        register_protocol(OtherTDCS)
    with pytest.raises(TypeError, match="modality"):
        register_protocol(ProtocolBase)
    assert MODALITIES["tdcs"].__name__ == "TDCS"
