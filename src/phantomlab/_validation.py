"""One error format for every check of user input.

Checks collect :class:`~phantomlab.exceptions.Problem` records instead of
raising at the first one, so the user sees every problem at once. Converters
turn pydantic's ``ValidationError`` into the same format.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from phantomlab.exceptions import InputError, Problem

__all__ = [
    "available_memory",
    "check_finite",
    "check_in",
    "check_memory",
    "check_range",
    "problems_from_pydantic",
    "raise_if",
]


def check_range(
    field: str,
    value: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    unit: str = "",
    source: str = "",
) -> list[Problem]:
    """Return the problems of ``value`` against an interval (empty if fine).

    Parameters
    ----------
    field : str
        Field name for the message.
    value : float
        The value, in the same unit as the bounds.
    low, high : float or None
        Bounds; ``None`` means unbounded.
    low_inclusive, high_inclusive : bool
        Whether each bound is allowed.
    unit : str
        Unit shown in the message.
    source : str
        Citation of the limit, if any.

    Returns
    -------
    list of Problem
        Zero or one problem.
    """
    u = f" {unit}" if unit else ""
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
        return [Problem(field, value, "a number", source, "not a number")]
    lo_s = "" if low is None else (f">= {low:g}{u}" if low_inclusive else f"> {low:g}{u}")
    hi_s = "" if high is None else (f"<= {high:g}{u}" if high_inclusive else f"< {high:g}{u}")
    limit = " and ".join(s for s in (lo_s, hi_s) if s)
    if low is not None and (value < low or (value == low and not low_inclusive)):
        return [Problem(field, value, limit, source, f"{value:g}{u} is below the allowed range")]
    if high is not None and (value > high or (value == high and not high_inclusive)):
        return [Problem(field, value, limit, source, f"{value:g}{u} is above the allowed range")]
    return []


def check_in(field: str, value: Any, allowed: Iterable[Any], source: str = "") -> list[Problem]:
    """Return a problem if ``value`` is not one of ``allowed``.

    Parameters
    ----------
    field : str
        Field name.
    value : Any
        Value received.
    allowed : iterable
        Allowed values.
    source : str
        Citation, if any.

    Returns
    -------
    list of Problem
        Zero or one problem.
    """
    allowed = list(allowed)
    if value in allowed:
        return []
    shown = ", ".join(map(str, allowed[:20])) + (" ..." if len(allowed) > 20 else "")
    return [Problem(field, value, f"one of: {shown}", source, "not an allowed value")]


def check_finite(field: str, value: float) -> list[Problem]:
    """Return a problem if ``value`` is NaN or infinite.

    Parameters
    ----------
    field : str
        Field name.
    value : float
        Value.

    Returns
    -------
    list of Problem
        Zero or one problem.
    """
    if isinstance(value, int | float) and math.isfinite(value):
        return []
    return [Problem(field, value, "a finite number", "", "not finite")]


def raise_if(problems: list[Problem], error: type[InputError] = InputError) -> None:
    """Raise ``error`` with every error-severity problem, if any.

    Parameters
    ----------
    problems : list of Problem
        Problems collected by checks; warnings are ignored here.
    error : type of InputError
        The exception class to raise.
    """
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise error(errors)


def problems_from_pydantic(exc: ValidationError, prefix: str = "") -> list[Problem]:
    """Convert a pydantic ``ValidationError`` into :class:`Problem` records.

    Parameters
    ----------
    exc : pydantic.ValidationError
        The error.
    prefix : str
        Prepended to every field path (e.g. the modality).

    Returns
    -------
    list of Problem
        One problem per pydantic error.
    """
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if not str(p).startswith("function-"))
        field = ".".join(s for s in (prefix, loc) if s) or prefix or "input"
        ctx = err.get("ctx") or {}
        limit = ""
        if "expected" in ctx:
            limit = f"one of: {ctx['expected']}"
        for key, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if key in ctx:
                limit = (limit + " and " if limit else "") + f"{op} {ctx[key]}"
        msg = err.get("msg", "invalid")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif err.get("type") == "missing":
            msg = "required field is missing"
        source = str(ctx.get("source", "")) if isinstance(ctx, dict) else ""
        out.append(
            Problem(
                field,
                err.get("input", None) if err.get("type") != "missing" else None,
                limit,
                source,
                msg,
            )
        )
    return out


def available_memory() -> int:
    """Bytes this process may still allocate: free RAM, capped by its address-space limit.

    Reads ``MemAvailable`` from ``/proc/meminfo`` (Linux; otherwise the physical memory)
    and, when ``RLIMIT_AS`` is set, the limit minus the address space already held.

    Returns
    -------
    int
        An estimate in bytes (at least 0).
    """
    free = 0
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if not free:
        try:
            free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            free = 2**40  # unknown platform: no cap from RAM
    try:
        import resource  # POSIX only
    except ImportError:  # pragma: no cover - Windows
        return max(int(free), 0)
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        try:
            with open("/proc/self/statm") as fh:
                held = int(fh.read().split()[0]) * resource.getpagesize()
        except OSError:
            held = 0
        free = min(free, soft - held)
    return max(int(free), 0)


def check_memory(field: str, value: Any, n_bytes: float, *, what: str = "") -> list[Problem]:
    """Return a problem if a planned allocation would not fit in memory (check before allocating).

    Parameters
    ----------
    field : str
        The option or field that sets the size (e.g. ``"n_patients x days"``).
    value : Any
        The size as the user gave it, for the message.
    n_bytes : float
        Estimated bytes the computation will allocate.
    what : str
        What would be allocated, for the message (e.g. ``"daily trajectories"``).

    Returns
    -------
    list of Problem
        Zero or one problem.
    """
    limit = available_memory()
    if n_bytes <= limit:
        return []
    gib = 2.0**30
    thing = f"{what} " if what else ""
    return [
        Problem(
            field,
            value,
            f"a size that needs <= {limit / gib:.3g} GiB (free memory now)",
            "",
            f"{thing}would need about {n_bytes / gib:.3g} GiB",
        )
    ]
