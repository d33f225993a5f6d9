"""The calibration's data fingerprint covers what the fit reads, and nothing else.

``data_hash`` decides whether the stored calibration is stale: an evidence row that no
trial spec reads (a study added to the evidence base only) must leave it unchanged, while
a changed published target value, patient group or prevalence target must change it.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

import phantomlab.trials.calibration as cal
from phantomlab.evidence import records
from phantomlab.trials.specs import list_specs, load_trial_spec


@pytest.fixture(scope="module")
def specs() -> list:
    return [load_trial_spec(s) for s in list_specs()]


def _csv_with_extra_row(tmp: Path) -> Path:
    src = records.default_path()
    out = tmp / "plp_studies.csv"
    shutil.copy(src, out)
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    row = dict(rows[0])
    row.update(study_id="unrelated2099", first_author="Nobody", year="2099",
               title_short="an evidence-only study", doi="10.0000/none", pmid="1",
               patient_group="unrelated2099")  # fmt: skip
    with open(out, "a", newline="") as f:
        csv.DictWriter(f, fieldnames=list(rows[0])).writerow(row)
    return out


def test_extra_unrelated_evidence_row_leaves_hash_unchanged(specs, tmp_path, monkeypatch):
    before = cal.data_hash(specs)
    path = _csv_with_extra_row(tmp_path)
    assert len(records.load_studies(path)) == len(records.load_studies()) + 1
    monkeypatch.setattr(records, "default_path", lambda: path)
    assert "unrelated2099" in records.load_studies().patient_groups()  # the row is read
    assert cal.data_hash(specs) == before


def test_changed_target_value_changes_hash(specs):
    before = cal.data_hash(specs)
    i = next(
        i for i, s in enumerate(specs) if any(o.replicable for a in s.arms for o in a.outcomes)
    )
    s = specs[i]
    arm = s.arms[0]
    o = arm.outcomes[0]
    o2 = o.model_copy(update={"value": float(o.value) + 0.1})  # type: ignore[arg-type]
    arm2 = arm.model_copy(update={"outcomes": [o2, *arm.outcomes[1:]]})
    s2 = s.model_copy(update={"arms": [arm2, *s.arms[1:]]})
    assert cal.data_hash([*specs[:i], s2, *specs[i + 1 :]]) != before


def test_changed_patient_group_or_prevalence_target_changes_hash(specs, monkeypatch):
    before = cal.data_hash(specs)
    s2 = specs[0].model_copy(update={"patient_group": "someone_else"})
    assert cal.data_hash([s2, *specs[1:]]) != before
    moved = (replace(cal.PREVALENCE_TARGETS[0], value=70.0), *cal.PREVALENCE_TARGETS[1:])
    monkeypatch.setattr(cal, "PREVALENCE_TARGETS", moved)
    assert cal.data_hash(specs) != before


def test_evidence_line_numbers_do_not_count(specs):
    """A row inserted above a study's rows shifts its line numbers, not its values."""
    before = cal.data_hash(specs)
    s = specs[0]
    arm = s.arms[0]
    o2 = arm.outcomes[0].model_copy(update={"evidence_line": 9999})
    s2 = s.model_copy(
        update={"arms": [arm.model_copy(update={"outcomes": [o2, *arm.outcomes[1:]]}), *s.arms[1:]]}
    )
    assert cal.data_hash([s2, *specs[1:]]) == before
