"""Recalibration as one command: progress over the work units, Dask, ``trial calibrate``.

A tiny calibration (2 studies, one ``ectopia_gain`` (enrolment is not fitted), a 40-patient
pool, one sweep, a minimal differential-evolution budget) run serially, on a Dask cluster
given by its address, and through the CLI with ``--out``: the records are identical apart
from the date. The packaged calibration file is never written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import phantomlab.trials.calibration as cal
from phantomlab.cohorts import calibration_path
from phantomlab.exceptions import InputError
from phantomlab.trials.specs import load_trial_spec

STUDIES = ("kikkert2019", "ahmed2011")
TINY: dict[str, Any] = {"seed": 3, "pool": 40, "sweeps": 1, "maxiter": 1, "popsize": 2}


@pytest.fixture(scope="module")
def tiny_grid() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(cal.COHORT_GRID, "ectopia_gain", (1.0,))
        yield


@pytest.fixture(scope="module")
def packaged_bytes() -> bytes:
    return calibration_path().read_bytes()


@pytest.fixture(scope="module")
def serial(tiny_grid: None) -> tuple[dict[str, Any], list[tuple[int, int, str]]]:
    calls: list[tuple[int, int, str]] = []
    specs = [load_trial_spec(s) for s in STUDIES]
    rec = cal.calibrate(**TINY, specs=specs, progress=lambda *a: calls.append(a))
    return rec, calls


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    # JSON text comparison: bit-identical floats, NaN included
    assert json.dumps({**a, "date": None}) == json.dumps({**b, "date": None})


def test_progress_counts_every_work_unit(serial) -> None:
    rec, calls = serial
    total = calls[0][1]
    # cohort grid (1 row), 3 block fits (placebo, rTMS, tDCS), 2 LOSO refits, in-pool
    # check, independent pool, fingerprint
    assert total == 1 + 3 + 2 + 3
    assert [c[0] for c in calls] == list(range(total + 1))  # 0: arguments checked
    assert all(c[1] == total for c in calls)
    labels = [c[2] for c in calls]
    assert calls[0][2] == "start"
    assert sum(lb.startswith("leave-one-study-out") for lb in labels) == 2
    assert {"independent pool", "model fingerprint", "in-pool check"} <= set(labels)
    assert rec["n_targets"] == len(rec["arms"]) == len(cal.collect_targets(
        [load_trial_spec(s) for s in STUDIES]))  # fmt: skip
    assert "fingerprint" in rec and "loso_fraction_inside" in rec


def test_dask_scheduler_address_gives_the_serial_record(serial, tiny_grid) -> None:
    from distributed import LocalCluster

    specs = [load_trial_spec(s) for s in STUDIES]
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        calls: list[tuple[int, int, str]] = []
        rec = cal.calibrate(
            **TINY,
            specs=specs,
            scheduler=cluster.scheduler_address,
            progress=lambda *a: calls.append(a),
        )
    _same(serial[0], rec)
    assert len(calls) == len(serial[1]) and calls[-1][0] == calls[-1][1]


def test_bad_arguments_name_the_field() -> None:
    with pytest.raises(InputError, match="pool"):
        cal.calibrate(pool=5)
    with pytest.raises(InputError, match="sweeps"):
        cal.calibrate(sweeps=0)
    with pytest.raises(InputError, match="workers"):
        cal.calibrate(scheduler="local", n_workers=0)
    with pytest.raises(InputError, match="scheduler"):
        cal.calibrate(**TINY, specs=[load_trial_spec("kikkert2019")], scheduler=3.5)


def test_cli_calibrate_out_json_and_errors(run, serial, tmp_path: Path, packaged_bytes) -> None:
    out = tmp_path / "cal.json"
    args = [f"--{k}={v}" for k, v in TINY.items()]
    study = [a for s in STUDIES for a in ("--study", s)]
    code, stdout, err = run("calibrate", *args, *study, "--out", str(out), "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["path"] == str(out) and summary["seconds"] > 0
    assert summary["fraction_inside"] == serial[0]["fraction_inside"]
    _same(serial[0], json.loads(out.read_text()))
    # bad options: exit 2 with the field named, nothing written
    for bad, field in (
        (["--pool", "5"], "pool"),
        (["--maxiter", "0"], "maxiter"),
        (["--workers", "0", "--scheduler", "local"], "workers"),
        (["--study", "nosuchstudy", "--out", str(tmp_path / "x.json")], "study"),
        (["--study", "kikkert2019"], "give --out"),  # a subset fit never replaces the package
    ):
        code, _, err = run("calibrate", *bad)
        assert code == 2 and field in err, (bad, err)
    assert not (tmp_path / "x.json").exists()
    assert calibration_path().read_bytes() == packaged_bytes


@pytest.mark.slow
def test_local_process_cluster_gives_the_serial_record(serial, tiny_grid) -> None:
    """Worker processes import the package afresh: same record, bit for bit."""
    specs = [load_trial_spec(s) for s in STUDIES]
    _same(serial[0], cal.calibrate(**TINY, specs=specs, scheduler="local", n_workers=2))


def test_calibration_goes_to_the_user_data_folder_never_the_package(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packaged_bytes
) -> None:
    """Without --out the record goes to $PHANTOMLAB_DATA_DIR; the packaged file is untouched."""
    monkeypatch.setenv("PHANTOMLAB_DATA_DIR", str(tmp_path / "data"))
    target = cal.default_calibration_output()
    assert target == tmp_path / "data" / calibration_path().name
    record = {"params": {}, "cohort": {}, "version": "test"}
    assert cal.write_calibration(record) == target
    assert json.loads(target.read_text())["version"] == "test"
    with pytest.raises(InputError, match="exists"):
        cal.write_calibration({**record, "version": "second"})
    assert json.loads(target.read_text())["version"] == "test"  # kept
    cal.write_calibration({**record, "version": "second"}, overwrite=True)
    with pytest.raises(InputError, match="never rewritten"):
        cal.write_calibration(record, calibration_path(), overwrite=True)
    # the CLI refuses before any work: an existing default output, bad numbers
    for bad, field in (
        ([], "exists"),
        (["--force", "--sweeps", "-1"], "sweeps"),
        (["--force", "--maxiter", "-1", "--popsize", "0"], "maxiter"),
        (["--force", "--popsize", "0"], "popsize"),
    ):
        code, _, err = run("calibrate", *bad)
        assert code == 2 and field in err and "Traceback" not in err, (bad, err)
    assert json.loads(target.read_text())["version"] == "second"
    assert calibration_path().read_bytes() == packaged_bytes


def test_specs_write_needs_a_folder_and_keeps_existing_files(run, tmp_path: Path) -> None:
    from phantomlab.trials.specs import _spec_dir, write_specs

    packaged = {p.name: p.read_bytes() for p in _spec_dir().glob("*.yaml")}
    code, _, err = run("specs", "--write")  # a bare --write no longer means "the package"
    assert code == 2, err
    code, _, err = run("specs", "--write", str(tmp_path / "specs"), "--json")
    assert code == 0, err
    written = sorted(p.name for p in (tmp_path / "specs").glob("*.yaml"))
    assert written and set(written) <= set(packaged) | set(written)
    code, _, err = run("specs", "--write", str(tmp_path / "specs"))
    assert code == 2 and "--force" in err
    assert run("specs", "--write", str(tmp_path / "specs"), "--force")[0] == 0
    with pytest.raises(TypeError):
        write_specs()  # type: ignore[call-arg]  # no default folder
    assert {p.name: p.read_bytes() for p in _spec_dir().glob("*.yaml")} == packaged
