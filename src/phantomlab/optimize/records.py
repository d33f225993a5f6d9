"""Records of the optimizer's store: sessions, suggestions, reports and their corrections.

Frozen views of the rows of :mod:`phantomlab.optimize.storage` (its ``SessionStore``
returns them), the suggestion token that addresses a report, and the canonical form of a
report that, with the token, is the idempotency key of ``record`` and ``correct``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from phantomlab.exceptions import InputError, Problem

__all__ = [
    "Correction",
    "Observation",
    "ReportKey",
    "SessionRecord",
    "SuggestionRecord",
    "parse_token",
    "report_key",
]


@dataclass(frozen=True)
class SessionRecord:
    """One patient's optimization session (a row of ``optimize_sessions``)."""

    id: int
    patient: str
    modality: str
    created_at: str
    config: dict[str, Any]


@dataclass(frozen=True)
class Correction:
    """A correction of a report (a row of ``optimize_corrections``): the full report again.

    ``delivered`` is the settings actually delivered (``None``: as suggested) and
    ``reason`` why the report was corrected; ``seq`` numbers the corrections of one
    report (1 = first).
    """

    id: int
    seq: int
    created_at: str
    nrs: float
    side_effect: float | None
    note: str
    delivered: dict[str, Any] | None
    reason: str


@dataclass(frozen=True)
class Observation:
    """One report (a row of ``optimize_observations``) and its corrections.

    ``nrs``, ``side_effect``, ``note`` and ``delivered`` are the report as first
    recorded; :attr:`current` is what holds now (the latest correction, else the report).
    """

    id: int
    created_at: str
    nrs: float
    side_effect: float | None
    note: str
    delivered: dict[str, Any] | None = None
    corrections: tuple[Correction, ...] = ()

    @property
    def current(self) -> Observation | Correction:
        """The report in force: the latest correction, else the original report."""
        return self.corrections[-1] if self.corrections else self


@dataclass(frozen=True)
class SuggestionRecord:
    """One suggested protocol and, once reported, its observation."""

    id: int
    seq: int
    created_at: str
    params: dict[str, Any]
    info: dict[str, Any]
    observation: Observation | None

    @property
    def pending(self) -> bool:
        """Whether no report has been recorded for it yet."""
        return self.observation is None

    @property
    def tested(self) -> dict[str, Any]:
        """The settings actually delivered (current report), else the suggested ones."""
        o = self.observation
        delivered = o.current.delivered if o is not None else None
        return {**self.params, **(delivered or {})}

    @property
    def token(self) -> str:
        """Address of this suggestion for ``record``: ``"<seq>-<8 hex>"``."""
        digest = hashlib.sha256(f"{self.id}|{self.created_at}".encode()).hexdigest()
        return f"{self.seq}-{digest[:8]}"


_TOKEN = re.compile(r"^\s*#?(\d{1,9})-([0-9a-fA-F]{8})\s*$")


def parse_token(token: str) -> int:
    """Return the sequence number of a suggestion token (``InputError`` if malformed)."""
    m = _TOKEN.match(str(token))
    if m is None:
        raise InputError(
            Problem(
                "suggestion",
                str(token)[:40],
                "the token printed by 'phantomlab optimize suggest', e.g. 3-1a2b3c4d",
                "",
                "not a suggestion token",
            )
        )
    return int(m.group(1))


ReportKey = tuple[float, float | None, str, str | None]


def report_key(
    nrs: float, side_effect: float | None, note: str, delivered: dict[str, Any] | None
) -> ReportKey:
    """Return the canonical form of a report (the idempotency key, with the token)."""
    return (
        float(nrs),
        None if side_effect is None else float(side_effect),
        str(note),
        None if delivered is None else json.dumps(delivered, sort_keys=True),
    )
