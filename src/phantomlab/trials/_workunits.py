"""Independent work units of a fit, run in order here or on a Dask client.

Used by :func:`phantomlab.trials.calibration.calibrate`: a unit is ``(label, fn, args)``
called as ``fn(sim, *args)`` with a simulator. Here every unit shares one simulator (its
caches); on Dask every worker thread builds its own simulator from ``factory`` (same pool,
same seed) and keeps it for the next units of the same run. The simulation is a
deterministic function of the parameters (common random numbers; the caches only save
time), so both give the same results, bit for bit, whatever the worker or the order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from phantomlab._optional import require

__all__ = ["WorkUnits"]

Unit = tuple[str, Callable[..., Any], tuple[Any, ...]]


_LOCAL = threading.local()


def _on_worker(
    factory: Callable[[], Any], key: Hashable, fn: Callable[..., Any], *args: Any
) -> Any:
    """Run one work unit on this thread's simulator for ``key`` (built on first use)."""
    sims: dict[Hashable, Any] = _LOCAL.__dict__.setdefault("sims", {})
    if key not in sims:
        sims.clear()
        sims[key] = factory()
    return fn(sims[key], *args)


class WorkUnits:
    """Run independent work units and count them.

    Parameters
    ----------
    factory : callable
        Builds a fresh simulator (picklable: sent to Dask workers).
    key : hashable
        Identifies the run: a worker thread reuses its simulator for the units of the
        same key (one key per run, so that no cache outlives the run's specs).
    sim : object
        The simulator shared by the units run in this process.
    client : distributed.Client or None
        Dask client; ``None`` runs the units here, in order.
    tick : callable, optional
        Called with a unit's label when it is done.
    """

    def __init__(
        self,
        factory: Callable[[], Any],
        key: Hashable,
        sim: Any,
        client: Any = None,
        tick: Callable[[str], None] | None = None,
    ) -> None:
        self.factory, self.key, self.sim, self.client = factory, key, sim, client
        self.tick = tick or (lambda _label: None)

    def map(self, units: Sequence[Unit]) -> list[Any]:
        """Run ``units``; return their results in the order given.

        Parameters
        ----------
        units : sequence of (label, fn, args)
            Work units.

        Returns
        -------
        list
            ``fn(sim, *args)`` of every unit.
        """
        if self.client is None:
            out = []
            for label, fn, args in units:
                out.append(fn(self.sim, *args))
                self.tick(label)
            return out
        as_completed = require("distributed", extra="scale").as_completed
        futures = {
            self.client.submit(_on_worker, self.factory, self.key, fn, *args, pure=False): i
            for i, (_label, fn, args) in enumerate(units)
        }
        res: dict[int, Any] = {}
        for fut in as_completed(list(futures)):
            i = futures[fut]
            res[i] = fut.result()
            self.tick(units[i][0])
        return [res[i] for i in range(len(units))]
