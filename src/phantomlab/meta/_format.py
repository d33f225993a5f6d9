"""Small text-formatting helpers for metafor-style printed output."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["fmt_p", "fmt_x", "format_table", "signif_stars"]


def fmt_x(x: float, digits: int = 4) -> str:
    """Format a number with a fixed number of decimals (``formatC(format = "f")``)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    s = f"{x:.{digits}f}"
    if s.startswith("-") and float(s) == 0.0:
        s = s[1:]
    return s


def fmt_p(p: float, digits: int = 4, bare: bool = False) -> str:
    """Format a p-value as metafor does (``< .0001`` below the printed precision).

    Parameters
    ----------
    p : float
        The p-value.
    digits : int
        Decimals.
    bare : bool
        Table style (``<.0001`` / ``0.0123``) instead of ``< .0001`` / ``= 0.0123``.
    """
    if p is None or math.isnan(p):
        return "NA" if bare else "= NA"
    limit = 10.0**-digits
    if p < limit:
        return f"<.{'0' * (digits - 1)}1" if bare else f"< .{'0' * (digits - 1)}1"
    s = f"{p:.{digits}f}"
    return s if bare else f"= {s}"


def signif_stars(p: float) -> str:
    """Return R's significance stars for a p-value."""
    if p is None or math.isnan(p):
        return ""
    for cut, star in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p < cut:
            return star
    return ""


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Right-align columns of strings under a header (first column left-aligned)."""
    cols = list(zip(header, *rows, strict=True))
    widths = [max(len(c) for c in col) for col in cols]
    out = []
    for r in [list(header), *[list(r) for r in rows]]:
        cells = []
        for j, (cell, wd) in enumerate(zip(r, widths, strict=True)):
            cells.append(cell.ljust(wd) if j == 0 and not header[0] else cell.rjust(wd))
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)
