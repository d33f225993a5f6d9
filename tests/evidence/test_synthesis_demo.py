"""Demo step "evidence" (``make demo``): forest plot by modality and the pooled table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from phantomlab.cli.demo import STEPS
from phantomlab.report.demo_evidence import run


def test_demo_step_is_registered() -> None:
    assert ("evidence", "phantomlab.report.demo_evidence:run") in STEPS


def test_demo_writes_forest_and_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(tmp_path)
    out = capsys.readouterr().out
    assert (tmp_path / "evidence_forest_by_modality.png").stat().st_size > 50_000
    pooled = pd.read_csv(tmp_path / "evidence_pooled.csv")
    rtms = pooled[(pooled["outcome"] == "pain") & (pooled["group"] == "rTMS")].iloc[0]
    assert rtms["k"] == 3 and bool(rtms["pooled"])
    assert f"{rtms['shown']:.3g}" in out  # the printed table shows the pooled estimate
    text = (tmp_path / "evidence_synthesis.txt").read_text(encoding="utf-8")
    assert "not poolable (listed, never imputed)" in text
    excluded = pd.read_csv(tmp_path / "evidence_not_poolable.csv")
    assert "bolognini2013" in set(excluded["study_id"])
    studies = pd.read_csv(tmp_path / "evidence_studies.csv")
    assert len(studies) == int(pooled["k"].sum())
