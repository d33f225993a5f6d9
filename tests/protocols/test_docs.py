"""docs/protocols.md documents every field and its worked example runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from phantomlab.protocols import MODALITIES, check_protocol, load_protocol

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocols.md"


def _doc() -> str:
    if not DOC.exists():
        pytest.skip("docs not present")
    return DOC.read_text()


@pytest.mark.parametrize("modality", list(MODALITIES))
def test_every_field_documented(modality: str) -> None:
    text = _doc()
    section = text.split(f"### `{modality}`", 1)
    assert len(section) == 2, f"no section for {modality}"
    for name in MODALITIES[modality].model_fields:
        assert f"| `{name}` |" in text, f"{modality}.{name} not documented"


def test_worked_example_runs() -> None:
    block = re.search(r"```yaml\n(modality: tdcs.*?)```", _doc(), re.S)
    assert block is not None
    p = load_protocol(block.group(1))
    d = p.dose()
    assert d.current_density_A_per_m2 == pytest.approx(0.5714, abs=1e-4)
    assert d.charge_per_session_C == pytest.approx(2.4)
    assert d.cumulative_charge_C == pytest.approx(24.0)
    assert check_protocol(p).valid
    left = p.for_patient("left", "transradial")
    assert (left.anode, left.cathode) == ("C4", "Fp1")  # type: ignore[attr-defined]
    assert left.target == "M1 hand area right (contralateral)"


def test_field_reference_is_generated() -> None:
    from phantomlab.protocols.reporting import field_reference_markdown

    assert field_reference_markdown() in _doc()
