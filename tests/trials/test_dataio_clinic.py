"""The clinic randomization service's export is read without a mapping (a real export)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("alembic", reason="the clinic store needs the 'web' extra (pip install .[web])")

from phantomlab.trials import analyze, load_design
from phantomlab.trials.dataio import read_trial_data
from phantomlab.web.db import make_engine, session_scope, upgrade
from phantomlab.web.models import Center
from phantomlab.web.randomization import export, service

UPLOAD = """
name: clinic-sham
arms: [{name: sham, sham: true}, {name: active}]
centers: [{name: north}, {name: south}]
covariates: [{name: amputation, levels: [upper, lower]}]
n_per_arm: 20
outcome: {visits: [0, 4, 12], primary_week: 12}
randomization: {method: permuted_blocks, block_sizes: [4], stratify_by: [center, amputation]}
inclusion: {nrs_min: 4, age_min: 18, years_min: 0.5}
"""


@dataclass(frozen=True)
class _User:
    username: str
    roles: dict[int, frozenset[str]] = field(default_factory=dict)
    is_admin: bool = False


def test_clinic_export_goes_into_the_report_without_a_mapping(tmp_path, cli):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    admin = _User("admin", is_admin=True)
    with session_scope(engine) as db:
        a, b = Center(code="A", name="Center A"), Center(code="B", name="Center B")
        db.add_all([a, b])
        db.flush()
        ca, cb = a.id, b.id
    with session_scope(engine) as db:
        tid = service.create_trial(
            db, admin, upload=UPLOAD, sites={"north": ca, "south": cb}, seed=5
        ).id
    rng = np.random.default_rng(2)
    with session_scope(engine) as db:
        for i in range(16):
            c = ca if i % 2 else cb
            clin = _User("clin", {c: frozenset({"clinician"})})
            form = {
                "age": "50",
                "screening_nrs": "7",
                "years_since_amputation": "2",
                "level": "lower",
                "cause": "trauma",
                "amputation": "upper" if i % 3 else "lower",
            }
            p = service.enrol(db, clin, tid, c, form).participant
            for week in (0, 4, 12):
                if week == 12 and i in (3, 8):
                    continue  # lost to follow-up
                eff = -1.5 * (p.allocation == "active") * (week > 0)
                y = float(np.clip(np.round(7 + eff + rng.normal(0, 1), 1), 0, 10))
                export.record_visit(db, clin, p.id, week, y)
        data, alloc = export.export_frames(db, admin, tid)
        design_bytes = export.design_json(db.get(service.Trial, tid))
    engine.dispose()
    (tmp_path / "data.csv").write_bytes(export.export_csv(data))
    (tmp_path / "alloc.csv").write_bytes(export.export_csv(alloc))
    (tmp_path / "design.json").write_bytes(design_bytes)
    design = load_design(json.loads(design_bytes))
    td = read_trial_data(pd.read_csv(tmp_path / "data.csv", dtype=str), design)
    assert td.source_format == "long" and len(td.allocated) == 16
    ref = analyze(data, design, allocated=alloc)
    got = analyze(td.data, design, allocated=td.allocated)
    np.testing.assert_allclose(got.effects["estimate"], ref.effects["estimate"], rtol=1e-12)
    out = tmp_path / "sar.html"
    r = cli(
        "trial",
        "report",
        str(tmp_path / "data.csv"),
        "--design",
        str(tmp_path / "design.json"),
        "--allocated",
        str(tmp_path / "alloc.csv"),
        "--out",
        str(out),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    est = pd.DataFrame(json.loads(r.stdout)["estimates"])
    primary = est[est["analysis"] == "ANCOVA (primary)"]["estimate"].iloc[0]
    assert primary == pytest.approx(ref.primary_effects["estimate"].iloc[0], rel=1e-12)
    pops = pd.DataFrame(json.loads(r.stdout)["populations"]).set_index("arm")
    assert pops.loc["total", "randomized"] == 16 and pops.loc["total", "analysed_primary"] == 14
