"""A chunked, seeded, resumable replicate runner (serial or on Dask).

``run_replicates(task, n_replicates, seed=..., out_dir=...)`` splits the
replicates ``0 .. n-1`` into fixed chunks of ``chunk_size``. Chunk ``i`` gets
the ``i``-th child of ``SeedSequence(seed).spawn(n_chunks)``, so its random
numbers depend only on ``(seed, chunk_size, i)`` and never on which worker ran
it or in which order: 1 worker and N workers give bit-identical tables.

Each finished chunk is written to ``out_dir/chunk-<5-digit index>.parquet`` (written to a
temporary name, then atomically renamed), next to ``manifest.json`` recording
the seed, sizes and task name. Running again with the same arguments skips the
chunks already on disk, so a run killed mid-way resumes where it stopped and
ends with the same result as an uninterrupted run. A different seed, size or
task in an existing folder is refused.

Schedulers: ``None`` runs chunks in this process (no Dask); ``"local"`` starts a
``distributed.LocalCluster`` (``n_workers`` single-threaded workers, processes or
threads); any other string is the address of a running Dask scheduler
(``tcp://host:8786``), and a ``distributed.Client`` may be passed directly.
Results travel back to this process, which writes the Parquet files, so remote
workers need no shared file system.

A task is any picklable callable ``task(seed: SeedSequence, replicates: ndarray)
-> DataFrame``; :class:`TrialSimulationTask` simulates and analyses trials.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from phantomlab._io import atomic_write
from phantomlab._optional import require
from phantomlab._result import Result, as_figure, new_axes
from phantomlab._rng import child_seeds
from phantomlab._yaml import load_file
from phantomlab.exceptions import InputError, Problem
from phantomlab.trials.analysis import analyze
from phantomlab.trials.design import TrialDesign
from phantomlab.trials.simulate import ParametricTrialModel

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["RunResult", "TrialSimulationTask", "chunk_seeds", "run_replicates"]

ChunkTask = Callable[[np.random.SeedSequence, np.ndarray], pd.DataFrame]


def chunk_seeds(seed: int, n_chunks: int) -> list[np.random.SeedSequence]:
    """Return the seed of every chunk: ``SeedSequence(seed).spawn(n_chunks)``.

    Parameters
    ----------
    seed : int
        Root seed (>= 0).
    n_chunks : int
        Number of chunks.

    Returns
    -------
    list of SeedSequence
        One child per chunk.
    """
    return child_seeds(int(seed), int(n_chunks))


def _task_name(task: Any) -> str:
    name = getattr(task, "name", None)
    if isinstance(name, str):
        return name
    return str(getattr(task, "__qualname__", type(task).__qualname__))


@dataclass(frozen=True, repr=False)
class RunResult(Result):
    """The concatenated output of a run.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows of every chunk, in chunk order.
    out_dir : Path or None
        Folder of the Parquet chunks.
    n_chunks : int
        Number of chunks.
    chunks_run : int
        Chunks computed in this call.
    chunks_skipped : int
        Chunks found on disk and reused.
    seconds : float
        Wall time of this call.
    scheduler : str
        ``serial``, ``local`` or the scheduler address.
    meta : dict
        Seed, chunk size and workers.
    """

    table: pd.DataFrame
    out_dir: Path | None
    n_chunks: int
    chunks_run: int
    chunks_skipped: int
    seconds: float
    scheduler: str
    meta: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Return the result table (a copy)."""
        return self.table.copy()

    def plot(self, ax: Any = None) -> Figure:
        """Histogram of the ``p`` column (simulated trials), else the default plot.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new Figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        if "p" not in self.table:
            return super().plot(ax)
        ax = new_axes(ax)
        ax.hist(self.table["p"].dropna().to_numpy(float), bins=20, range=(0.0, 1.0))
        ax.set_xlabel("p")
        ax.set_ylabel("replicates x contrasts")
        ax.set_title(f"{len(self.table)} rows from {self.n_chunks} chunks")
        return as_figure(ax)

    def summary(self) -> str:
        """Return a one-paragraph description of the run."""
        return (
            f"{len(self.table)} rows from {self.n_chunks} chunks "
            f"({self.chunks_run} computed, {self.chunks_skipped} resumed) in "
            f"{self.seconds:.1f} s on {self.scheduler}"
        )


def _chunk_path(out_dir: Path, i: int) -> Path:
    return out_dir / f"chunk-{i:05d}.parquet"


def _write_chunk(out_dir: Path, i: int, frame: pd.DataFrame) -> None:
    atomic_write(
        _chunk_path(out_dir, i),
        lambda tmp: frame.to_parquet(tmp, index=False),
        overwrite=True,
        field="out_dir",
    )


def _check_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    path = out_dir / "manifest.json"
    if path.exists():
        old = load_file(path, field="out_dir manifest")
        diff = [k for k in manifest if old.get(k) != manifest[k]]
        if diff:
            raise InputError(
                Problem(
                    "out_dir",
                    str(out_dir),
                    "an empty folder or one from the same run",
                    "",
                    f"holds a run with different {', '.join(diff)}; use another folder",
                )
            )
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(manifest, indent=2), overwrite=True, field="out_dir")


def run_replicates(
    task: ChunkTask,
    n_replicates: int,
    *,
    seed: int,
    chunk_size: int = 25,
    out_dir: str | Path | None = None,
    scheduler: Any = None,
    n_workers: int = 1,
    processes: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run ``task`` over ``n_replicates`` replicates in seeded, resumable chunks.

    Parameters
    ----------
    task : callable
        ``task(seed, replicates) -> DataFrame`` (picklable for Dask).
    n_replicates : int
        Total replicates.
    seed : int
        Root seed; chunk seeds are ``SeedSequence(seed).spawn(n_chunks)``.
    chunk_size : int
        Replicates per chunk (part of the result's identity: keep it fixed to
        resume or to compare runs).
    out_dir : str, Path or None
        Folder for the Parquet chunks and manifest (None: keep in memory, no resume).
    scheduler : None, "local", str or distributed.Client
        Where chunks run (see the module docstring).
    n_workers : int
        Workers of a local cluster.
    processes : bool
        Local cluster with worker processes (True) or threads (False).
    progress : callable or None
        Called as ``progress(done, total)`` after every chunk.

    Returns
    -------
    RunResult
        The table in chunk order and run statistics.
    """
    problems = []
    if int(n_replicates) < 1:
        problems.append(Problem("n_replicates", n_replicates, ">= 1", "", "nothing to run"))
    if int(chunk_size) < 1:
        problems.append(Problem("chunk_size", chunk_size, ">= 1", "", "bad chunk size"))
    if int(n_workers) < 1:
        problems.append(Problem("n_workers", n_workers, ">= 1", "", "need a worker"))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        problems.append(Problem("seed", seed, "an int >= 0", "", "explicit seed needed"))
    if problems:
        raise InputError(problems)
    t0 = time.perf_counter()
    n_chunks = -(-int(n_replicates) // int(chunk_size))
    seeds = chunk_seeds(int(seed), n_chunks)
    reps = [
        np.arange(i * chunk_size, min((i + 1) * chunk_size, n_replicates)) for i in range(n_chunks)
    ]
    results: dict[int, pd.DataFrame] = {}
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        require("pyarrow", extra="scale", feature="run_replicates with out_dir (Parquet chunks)")
        manifest = {
            "seed": int(seed),
            "n_replicates": int(n_replicates),
            "chunk_size": int(chunk_size),
            "task": _task_name(task),
        }
        _check_manifest(out, manifest)
        for i in range(n_chunks):
            if _chunk_path(out, i).exists():
                results[i] = pd.read_parquet(_chunk_path(out, i))
    skipped = len(results)
    todo = [i for i in range(n_chunks) if i not in results]

    def _done(i: int, frame: pd.DataFrame) -> None:
        if out is not None:
            _write_chunk(out, i, frame)
            frame = pd.read_parquet(_chunk_path(out, i))  # same dtypes as resumed chunks
        results[i] = frame
        if progress is not None:
            progress(len(results), n_chunks)

    label = "serial"
    if scheduler is None:
        for i in todo:
            _done(i, task(seeds[i], reps[i]))
    else:
        label = _run_dask(task, todo, seeds, reps, scheduler, n_workers, processes, _done)
    table = pd.concat([results[i] for i in range(n_chunks)], ignore_index=True)
    return RunResult(
        table=table,
        out_dir=out,
        n_chunks=n_chunks,
        chunks_run=len(todo),
        chunks_skipped=skipped,
        seconds=time.perf_counter() - t0,
        scheduler=label,
        meta={"seed": int(seed), "chunk_size": int(chunk_size), "n_workers": int(n_workers)},
    )


def _guarded(tree: ast.Module, line: int) -> bool | None:
    """Whether the top-level statement at ``line`` lies under ``if __name__ == "__main__"``."""
    for node in tree.body:
        end = getattr(node, "end_lineno", node.lineno)
        if not node.lineno <= line <= end:
            continue
        if isinstance(node, ast.If):
            text = ast.unparse(node.test).replace("'", '"')
            if text in {
                '__name__ == "__main__"',
                '"__main__" == __name__',
            }:
                return not any(
                    getattr(b, "lineno", 0) <= line <= getattr(b, "end_lineno", 0)
                    for b in node.orelse
                )
        return False
    return None


def unguarded_main_call() -> str | None:
    """Return ``"file:line"`` when this call runs from unguarded top-level code of ``__main__``.

    Dask's local cluster starts its worker processes with ``multiprocessing``'s
    *spawn* method, and every spawned process imports the main script again (as
    ``__mp_main__``). Top-level code of that script that is not under
    ``if __name__ == "__main__":`` therefore runs again in each worker and tries to
    start a cluster of its own. This walks the call stack to the main module's
    top-level frame and parses the script to see whether the running statement is
    under that guard. Interactive sessions, ``python -c`` and notebooks (no script
    file) and sources that cannot be read give ``None`` (nothing to protect).

    Returns
    -------
    str or None
        ``"path:line"`` of the unguarded top-level statement, else None.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path:
        return None
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals is vars(main):
            break
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return None
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    line = frame.f_lineno
    return f"{path}:{line}" if _guarded(tree, line) is False else None


@contextmanager
def _dask_client(scheduler: Any, n_workers: int, processes: bool) -> Iterator[tuple[Any, str]]:
    """Yield ``(client, label)`` for a scheduler argument; close what it started on exit.

    ``"local"`` starts a ``distributed.LocalCluster`` of ``n_workers`` single-threaded
    workers, a string is the address of a running scheduler, a ``distributed.Client`` is
    used as given (and left open).
    """
    distributed = require("distributed", extra="scale")
    Client, LocalCluster = distributed.Client, distributed.LocalCluster

    cluster = None
    own = True
    if isinstance(scheduler, Client):
        client, own, label = scheduler, False, str(getattr(scheduler.scheduler, "address", ""))
    elif scheduler == "local":
        if processes and (where := unguarded_main_call()) is not None:
            warnings.warn(
                f"run_replicates(scheduler='local') is called from {where} outside an "
                '`if __name__ == "__main__":` block: worker processes re-import the main '
                "script and would start the run again, so this run uses worker threads "
                "(same results, bit for bit). Put the call under the guard for processes.",
                RuntimeWarning,
                stacklevel=5,
            )
            processes = False
        cluster = LocalCluster(
            n_workers=int(n_workers),
            threads_per_worker=1,
            processes=bool(processes),
            # loopback only: the dashboard always, scheduler and workers when they talk TCP
            # (worker processes; threads use in-process comms and take no host)
            dashboard_address="127.0.0.1:0",
            **({"host": "127.0.0.1"} if processes else {}),
            silence_logs=40,
        )
        client = Client(cluster)
        label = f"local cluster ({n_workers} {'processes' if processes else 'threads'})"
    elif isinstance(scheduler, str):
        try:
            client = Client(scheduler, timeout=30)
        except OSError as exc:
            raise InputError(
                Problem("scheduler", scheduler, "a reachable Dask scheduler", "", str(exc))
            ) from None
        label = scheduler
    else:
        raise InputError(
            Problem("scheduler", repr(scheduler), "None, 'local', an address or a Client", "", "")
        )
    try:
        yield client, label
    finally:
        if own:
            client.close()
        if cluster is not None:
            cluster.close()


def _run_dask(
    task: ChunkTask,
    todo: list[int],
    seeds: list[np.random.SeedSequence],
    reps: list[np.ndarray],
    scheduler: Any,
    n_workers: int,
    processes: bool,
    done: Callable[[int, pd.DataFrame], None],
) -> str:
    as_completed = require("distributed", extra="scale").as_completed
    with _dask_client(scheduler, n_workers, processes) as (client, label):
        futures = {
            client.submit(
                task, seeds[i], reps[i], key=f"phantomlab-chunk-{i}-{id(task)}", pure=False
            ): i
            for i in todo
        }
        for fut in as_completed(list(futures)):
            done(futures[fut], fut.result())
    return label


@dataclass(frozen=True)
class TrialSimulationTask:
    """Simulate and analyse trials, one row per replicate and contrast.

    Parameters
    ----------
    design : TrialDesign
        Design (and planning model for the default simulator).
    n_per_arm : int
        Patients per unit of allocation ratio.
    analyses : tuple of str
        Analyses to run on every replicate (``change``, ``ancova``, ``mixed``).
    simulate : callable or None
        ``simulate(n_per_arm, rng) -> DataFrame``; default
        :class:`~phantomlab.trials.simulate.ParametricTrialModel`.

    Notes
    -----
    Replicate ``j`` of a chunk uses ``SeedSequence(entropy, spawn_key=(*chunk, j))``.
    """

    design: TrialDesign
    n_per_arm: int
    analyses: tuple[str, ...] = ("mixed",)
    simulate: Callable[[int, np.random.Generator], pd.DataFrame] | None = None

    @property
    def name(self) -> str:
        """Identity of the task for the run manifest (design digest, n, analyses)."""
        digest = hashlib.sha256(self.design.model_dump_json().encode()).hexdigest()[:16]
        sim = "parametric" if self.simulate is None else _task_name(self.simulate)
        return f"trial:{digest}:n={self.n_per_arm}:{'+'.join(self.analyses)}:{sim}"

    def __call__(self, seed: np.random.SeedSequence, replicates: np.ndarray) -> pd.DataFrame:
        """Simulate and analyse ``len(replicates)`` trials.

        Parameters
        ----------
        seed : SeedSequence
            Seed of the chunk.
        replicates : numpy.ndarray
            Replicate numbers of the chunk.

        Returns
        -------
        pandas.DataFrame
            ``replicate``, ``analysis``, ``contrast``, ``estimate``, ``se``,
            ``ci_low``, ``ci_high``, ``p``, ``n_analysed``.
        """
        sim = self.simulate or ParametricTrialModel(self.design)
        frames = []
        for rep, child in zip(replicates, child_seeds(seed, len(replicates)), strict=True):
            data = sim(self.n_per_arm, np.random.default_rng(child))
            try:
                res = analyze(data, self.design, analyses=self.analyses)
            except InputError as exc:
                if not all(p.message.startswith("too few") for p in exc.problems):
                    raise  # bad simulator output is an error, not a non-significant trial
                nan = float("nan")  # too few complete patients: counts as not significant
                frames.append(
                    pd.DataFrame(
                        [
                            {
                                "analysis": "+".join(self.analyses),
                                "contrast": "not analysable",
                                "estimate": nan,
                                "se": nan,
                                "ci_low": nan,
                                "ci_high": nan,
                                "p": nan,
                                "replicate": int(rep),
                                "n_analysed": 0,
                            }
                        ]
                    )
                )
                continue
            e = res.effects[["analysis", "contrast", "estimate", "se", "ci_low", "ci_high", "p"]]
            e = e.assign(
                replicate=int(rep), n_analysed=int(res.consort.loc["total", "analysed_mixed"])
            )
            frames.append(e)
        cols = [
            "replicate",
            "analysis",
            "contrast",
            "estimate",
            "se",
            "ci_low",
            "ci_high",
            "p",
            "n_analysed",
        ]
        return pd.concat(frames, ignore_index=True)[cols]
