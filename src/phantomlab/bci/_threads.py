"""Single-threaded BLAS for the small matrices of EEG simulation and decoding.

The linear algebra here works on 32–102 channel matrices, far below the size
where a multithreaded BLAS pays off; on a shared or loaded machine (parallel
test workers, several processes) OpenBLAS's spinning threads oversubscribe the
cores and made decoding ~20x slower (measured, docs/bci.md "Performance").
Results do not depend on the thread count of these calls (same bits).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

_state = threading.local()


def single_blas_thread(func: F) -> F:
    """Run ``func`` with BLAS/OpenMP thread pools limited to one thread.

    Nested calls keep the outermost limit (no repeated thread-pool scans).

    Parameters
    ----------
    func : callable
        Function to wrap.

    Returns
    -------
    callable
        The wrapped function (same signature).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if getattr(_state, "active", False):
            return func(*args, **kwargs)
        import scipy.linalg  # noqa: F401  (load SciPy's BLAS so that it is limited too)
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        _state.active = True
        try:
            with threadpool_limits(limits=1):
                return func(*args, **kwargs)
        finally:
            _state.active = False

    return cast(F, wrapper)
