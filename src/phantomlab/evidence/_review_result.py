"""Result objects of :func:`phantomlab.evidence.review.review`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from phantomlab._result import Result, as_figure, new_axes
from phantomlab.exceptions import InputError, Problem

__all__ = ["ClaimVerdict", "ReviewResult"]

_SRC = "evidence/data/review_claims.yaml"


@dataclass(frozen=True)
class ClaimVerdict:
    """The verdict on one claim of the review, with what it rests on.

    Attributes
    ----------
    claim_id, statement, kind : str
        Claim (``C4``...), its wording as paraphrased, and its kind of rule.
    verdict : str
        One of ``supported``, ``partly supported``, ``not supported``,
        ``cannot be assessed from the data``.
    numbers : dict
        The quantities the verdict rests on (rates, range, pooled estimate...).
    certainty : str
        GRADE certainty of the pooled estimate, or why none is rated.
    studies : tuple of dict
        Rows used: study, citation, modality, values and where they were read.
    reasons : tuple of str
        Why this verdict, in the order the rule checked.
    rules : dict
        The thresholds applied (from the YAML, with their status).
    """

    claim_id: str
    statement: str
    kind: str
    verdict: str
    numbers: dict[str, Any] = field(default_factory=dict)
    certainty: str = "not rated"
    studies: tuple[dict[str, Any], ...] = ()
    reasons: tuple[str, ...] = ()
    rules: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the claim as plain JSON-ready data."""
        return {
            "claim_id": self.claim_id,
            "statement": self.statement,
            "kind": self.kind,
            "verdict": self.verdict,
            "numbers": _plain(self.numbers),
            "certainty": self.certainty,
            "studies": [_plain(s) for s in self.studies],
            "reasons": list(self.reasons),
            "rules": _plain(self.rules),
        }


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


@dataclass(frozen=True, repr=False)
class ReviewResult(Result):
    """The review's claims judged against the evidence base.

    Attributes
    ----------
    claims : tuple of ClaimVerdict
        One per claim, in the YAML's order.
    settings : dict
        Source table, number of rows and studies, claim source.
    """

    claims: tuple[ClaimVerdict, ...]
    settings: dict[str, Any]

    def claim(self, claim_id: str) -> ClaimVerdict:
        """Return one claim by id (``"C4"``).

        Raises
        ------
        InputError
            Unknown id.
        """
        for c in self.claims:
            if c.claim_id == claim_id:
                return c
        ids = ", ".join(c.claim_id for c in self.claims)
        raise InputError(Problem("claim", claim_id, ids, _SRC, "unknown claim"))

    def to_frame(self) -> pd.DataFrame:
        """One row per claim: id, statement, kind, verdict, certainty, studies."""
        return pd.DataFrame(
            [
                {
                    "claim": c.claim_id,
                    "statement": c.statement,
                    "kind": c.kind,
                    "verdict": c.verdict,
                    "certainty": c.certainty,
                    "studies": len(c.studies),
                }
                for c in self.claims
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the claims and settings as plain JSON-ready data."""
        return {"settings": _plain(self.settings), "claims": [c.to_dict() for c in self.claims]}

    def summary(self) -> str:
        """Plain-text summary: one block per claim (verdict, certainty, reasons)."""
        head = (
            f"The review's claims rebuilt from {self.settings['studies']} studies "
            f"({self.settings['rows']} rows) of {self.settings['source']}"
        )
        blocks = [head]
        for c in self.claims:
            lines = [f"{c.claim_id} [{c.verdict}] {c.statement}", f"   certainty: {c.certainty}"]
            lines += [f"   - {r}" for r in c.reasons]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def _brief(self) -> str:
        counts = pd.Series([c.verdict for c in self.claims]).value_counts()
        return "; ".join(f"{n} {v}" for v, n in counts.items())

    def plot(self, ax: Any = None) -> Any:
        """Per-study short-term responder rates of C4 against the claimed range.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new Figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        if not any(c.claim_id == "C4" for c in self.claims):  # rules without C4
            return super().plot(ax)
        ax = new_axes(ax)
        c = self.claim("C4")
        rows = list(c.studies)
        y = np.arange(len(rows))[::-1]
        for yi, s in zip(y, rows, strict=True):
            ax.plot([s["ci_lb"], s["ci_ub"]], [yi, yi], color="k")
            ax.plot(s["rate"], yi, "s", color="k")
        labels = [f"{s['study_id']} {s['modality']} ({s['timepoint_class']})" for s in rows]
        pooled = c.numbers.get("pooled")
        if pooled:
            y0 = -1
            ax.fill_between([pooled["ci_lb"], pooled["ci_ub"]], y0 - 0.3, y0 + 0.3, color="0.6")
            ax.plot(pooled["estimate"], y0, "D", color="k")
            labels.append("pooled (logit RE)")
            y = np.append(y, y0)
        lo, hi = c.numbers.get("claimed_low", np.nan), c.numbers.get("claimed_high", np.nan)
        ax.axvspan(lo, hi, color="tab:blue", alpha=0.12, label="claimed range")
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_xlabel("proportion of responders (exact 95% CI)")
        ax.set_title(f"C4: {c.verdict}")
        ax.legend(fontsize=7, loc="lower right")
        return as_figure(ax)
