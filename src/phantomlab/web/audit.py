"""The audit trail: one append-only, hash-chained event per write.

Each event holds ``seq`` (1, 2, ... without gaps), ``ts`` (UTC, ISO 8601), the actor's
username, the center (or none), an action (``trial.enrol``), a subject (``participant:12``),
the before/after state as canonical JSON, the previous event's hash and its own hash::

    hash = sha256(prev_hash || canonical JSON of {seq, ts, actor, center_id, action,
                                                  subject, before, after})

The first event's ``prev_hash`` is 64 zeros. :func:`record` appends in the caller's
transaction (so the event commits or rolls back with the domain rows) behind a writer lock
(SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``pg_advisory_xact_lock``), so two writers never
take the same ``seq``. :func:`verify` walks the chain and names the first event that was
edited, removed or re-linked. Removing the newest events leaves a shorter chain that still
verifies: compare :attr:`VerifyReport.head` with a copy kept elsewhere to detect that.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from phantomlab.web.models import AuditEvent

__all__ = [
    "GENESIS",
    "VerifyReport",
    "canonical",
    "count_events",
    "event_hash",
    "record",
    "verify",
]

GENESIS = "0" * 64
#: Key of the PostgreSQL advisory lock that serializes audit writers ("PLAUDIT").
LOCK_KEY = 0x504C41554449


def canonical(value: Any) -> str:
    """Return the canonical JSON text of a value (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """Return the SHA-256 (hex) of ``prev_hash`` followed by the canonical JSON of ``fields``."""
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


def _fields(ev: AuditEvent) -> dict[str, Any]:
    return {
        "seq": ev.seq,
        "ts": ev.ts,
        "actor": ev.actor,
        "center_id": ev.center_id,
        "action": ev.action,
        "subject": ev.subject,
        "before": ev.before,
        "after": ev.after,
    }


def _lock(db: Session) -> None:
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    # SQLite: the transaction began with BEGIN IMMEDIATE, which already excludes writers


def record(
    db: Session,
    *,
    actor: str,
    center_id: int | None,
    action: str,
    subject: str,
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Append one event to the chain in the caller's transaction.

    Parameters
    ----------
    db : Session
        The open session of the write being audited.
    actor : str
        Username of who did it.
    center_id : int or None
        The center it concerns (None for global actions such as creating a center).
    action : str
        What was done, ``domain.verb`` (e.g. ``"trial.enrol"``).
    subject : str
        What it was done to, ``kind:id`` (e.g. ``"participant:12"``).
    before, after : JSON-serialisable
        The state before and after (None where there was none).

    Returns
    -------
    AuditEvent
        The event, flushed (its ``seq`` and ``hash`` set).
    """
    _lock(db)
    last = db.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    ev = AuditEvent(
        seq=seq,
        ts=datetime.now(UTC).isoformat(timespec="microseconds"),
        actor=actor,
        center_id=center_id,
        action=action,
        subject=subject,
        before=canonical(before),
        after=canonical(after),
        prev_hash=prev,
    )
    ev.hash = event_hash(prev, _fields(ev))
    db.add(ev)
    db.flush()
    return ev


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` found.

    Attributes
    ----------
    ok : bool
        The whole chain is intact.
    count : int
        Events read.
    head : str
        Hash of the last event (keep a copy elsewhere to detect removal of the newest).
    seq : int or None
        The first event found broken (or, for a gap, the first missing one).
    problem : str
        One line naming that event and what is wrong; empty when intact.
    """

    ok: bool
    count: int
    head: str
    seq: int | None = None
    problem: str = ""


def verify(db: Session, *, batch: int = 1000) -> VerifyReport:
    """Walk the whole chain and report the first edited, missing or re-linked event.

    Parameters
    ----------
    db : Session
        A session on the store.
    batch : int
        Events read per query.

    Returns
    -------
    VerifyReport
        ``ok`` and the head hash, or the first problem.
    """
    expected_seq, prev, count = 1, GENESIS, 0
    after_seq = 0
    while True:
        rows = (
            db.execute(
                select(AuditEvent)
                .where(AuditEvent.seq > after_seq)
                .order_by(AuditEvent.seq)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for ev in rows:
            count += 1
            if ev.seq != expected_seq:
                gap = (
                    f"event {expected_seq} is missing"
                    if ev.seq == expected_seq + 1
                    else f"events {expected_seq}..{ev.seq - 1} are missing"
                )
                return VerifyReport(False, count, prev, expected_seq, f"{gap} (deleted)")
            if ev.prev_hash != prev:
                return VerifyReport(
                    False,
                    count,
                    prev,
                    ev.seq,
                    f"event {ev.seq} ({ev.action} {ev.subject}): prev_hash does not match "
                    f"event {ev.seq - 1}",
                )
            if event_hash(prev, _fields(ev)) != ev.hash:
                return VerifyReport(
                    False,
                    count,
                    prev,
                    ev.seq,
                    f"event {ev.seq} ({ev.action} {ev.subject}) was edited: its content does "
                    "not match its hash",
                )
            prev, expected_seq, after_seq = ev.hash, ev.seq + 1, ev.seq
    return VerifyReport(True, count, prev)


def count_events(db: Session) -> int:
    """Return the number of audit events stored."""
    return int(db.execute(select(func.count()).select_from(AuditEvent)).scalar_one())
