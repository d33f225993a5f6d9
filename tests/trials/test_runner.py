"""Runner: chunk seeding, bit-identity across workers, resume after a real kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phantomlab.exceptions import InputError
from phantomlab.trials import TrialSimulationTask, load_design, run_replicates
from phantomlab.trials.runner import chunk_seeds

DESIGN = {
    "name": "runner-test",
    "arms": [{"name": "sham", "sham": True}, {"name": "active"}],
    "centers": [{"name": "a"}, {"name": "b"}],
    "outcome": {"visits": [0, 2, 4, 6], "primary_week": 6},
    "n_per_arm": 15,
}


def _task(analyses=("ancova",)):
    return TrialSimulationTask(load_design(DESIGN), 15, analyses)


def test_chunk_seeds_are_seedsequence_spawn():
    kids = chunk_seeds(42, 3)
    ref = np.random.SeedSequence(42).spawn(3)
    for a, b in zip(kids, ref, strict=True):
        assert a.generate_state(4).tolist() == b.generate_state(4).tolist()


def test_serial_run_in_memory_and_reproducible():
    a = run_replicates(_task(), 10, seed=3, chunk_size=4)
    b = run_replicates(_task(), 10, seed=3, chunk_size=4)
    assert a.n_chunks == 3 and len(a.table) == 10
    assert a.table["replicate"].tolist() == list(range(10))
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    c = run_replicates(_task(), 10, seed=4, chunk_size=4)
    assert not np.array_equal(a.table["estimate"], c.table["estimate"])
    assert "10 rows" in a.summary()


def test_one_and_two_dask_workers_are_bit_identical(tmp_path):
    serial = run_replicates(_task(), 12, seed=8, chunk_size=3, out_dir=tmp_path / "s")
    one = run_replicates(
        _task(), 12, seed=8, chunk_size=3, scheduler="local", n_workers=1, processes=False
    )
    two = run_replicates(
        _task(), 12, seed=8, chunk_size=3, scheduler="local", n_workers=2, processes=False
    )
    pd.testing.assert_frame_equal(one.table, two.table, check_exact=True)
    pd.testing.assert_frame_equal(serial.table, two.table, check_exact=True)
    assert "2 threads" in two.scheduler


def test_scheduler_given_by_address(tmp_path):
    from distributed import LocalCluster

    ref = run_replicates(_task(), 6, seed=5, chunk_size=2)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        res = run_replicates(
            _task(),
            6,
            seed=5,
            chunk_size=2,
            scheduler=cluster.scheduler_address,
            out_dir=tmp_path,
        )
    assert res.scheduler == cluster.scheduler_address
    pd.testing.assert_frame_equal(ref.table, res.table, check_exact=True)
    assert len(list(tmp_path.glob("chunk-*.parquet"))) == 3


@pytest.mark.slow
def test_two_worker_processes_bit_identical():
    one = run_replicates(_task(), 8, seed=1, chunk_size=2, scheduler="local", n_workers=1)
    two = run_replicates(_task(), 8, seed=1, chunk_size=2, scheduler="local", n_workers=2)
    pd.testing.assert_frame_equal(one.table, two.table, check_exact=True)


def test_manifest_refuses_a_different_run(tmp_path):
    run_replicates(_task(), 4, seed=1, chunk_size=2, out_dir=tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["chunk_size"] == 2
    with pytest.raises(InputError) as ei:
        run_replicates(_task(), 4, seed=2, chunk_size=2, out_dir=tmp_path)
    assert "seed" in ei.value.problems[0].message
    again = run_replicates(_task(), 4, seed=1, chunk_size=2, out_dir=tmp_path)
    assert again.chunks_skipped == 2 and again.chunks_run == 0


def test_bad_arguments():
    with pytest.raises(InputError):
        run_replicates(_task(), 0, seed=1)
    with pytest.raises(InputError):
        run_replicates(_task(), 3, seed=-1)
    with pytest.raises(InputError):
        run_replicates(_task(), 3, seed=1, scheduler=3.5)


_CHILD = """
import sys
from phantomlab.trials import TrialSimulationTask, load_design, run_replicates
design = load_design({design!r})
task = TrialSimulationTask(design, 15, ("mixed",))
run_replicates(task, {n}, seed=77, chunk_size={chunk}, out_dir=sys.argv[1])
"""


def test_resume_after_kill_gives_identical_result(tmp_path):
    n, chunk = 60, 3
    n_chunks = n // chunk
    out = tmp_path / "run"
    code = _CHILD.format(design=DESIGN, n=n, chunk=chunk)
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if len(list(out.glob("chunk-*.parquet"))) >= 3 or proc.poll() is not None:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the child finished before it could be killed"
    done = len(list(out.glob("chunk-*.parquet")))
    assert 3 <= done < n_chunks
    task = TrialSimulationTask(load_design(DESIGN), 15, ("mixed",))
    resumed = run_replicates(task, n, seed=77, chunk_size=chunk, out_dir=out)
    assert resumed.chunks_skipped == done and resumed.chunks_run == n_chunks - done
    full = run_replicates(task, n, seed=77, chunk_size=chunk, out_dir=tmp_path / "full")
    pd.testing.assert_frame_equal(resumed.table, full.table, check_exact=True)
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    assert isinstance(resumed.out_dir, Path)


@pytest.mark.parametrize("processes", [False, True])
def test_local_cluster_and_dashboard_bind_loopback_only(processes):
    """``scheduler="local"`` listens on 127.0.0.1 only, dashboard included (issue #21)."""
    from urllib.parse import urlparse

    from phantomlab.trials.runner import _dask_client

    with _dask_client("local", 1, processes) as (client, _label):
        sched = client.cluster.scheduler
        hosts = {s.getsockname()[0] for s in sched.http_server._sockets.values()}
        assert hosts == {"127.0.0.1"}, hosts  # the dashboard's bound sockets
        if processes:  # TCP comms: scheduler, dashboard link and every worker on loopback
            workers = list(client.scheduler_info()["workers"])
            for addr in (sched.address, client.dashboard_link, *workers):
                assert urlparse(addr).hostname == "127.0.0.1", addr
        else:
            assert sched.address.startswith("inproc://")  # no network listener at all
