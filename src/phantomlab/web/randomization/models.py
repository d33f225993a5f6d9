"""Tables of the trial randomization service (every one append-only).

A :class:`Trial` keeps its validated design (canonical JSON and the SHA-256 of the
uploaded YAML), its inclusion criteria, the randomization method and the seed the
allocations come from. A :class:`TrialSite` binds a center of the design (its
``centers:`` name, as in the data files) to a clinic :class:`~phantomlab.web.models.Center`.

Permuted-block (and simple) trials store their sealed list as :class:`AllocationSlot`
rows at creation; a :class:`Participant` takes a slot when enrolled, and
``participant.slot_id`` is UNIQUE, so two enrolments can never take the same slot.
Minimization trials allocate at enrolment; ``(trial_id, seq)`` is unique, so two
enrolments can never be computed from the same history. :class:`Unblinding` and
:class:`VisitValue` rows record emergency unblindings and outcome values (a correction
is a newer row for the same visit; the newest one counts).

No row is ever updated or deleted: revision ``0003_randomization`` adds triggers that
refuse it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from phantomlab.web.db import Base
from phantomlab.web.models import utcnow

__all__ = [
    "TABLES",
    "AllocationSlot",
    "Participant",
    "Trial",
    "TrialSite",
    "Unblinding",
    "VisitValue",
]


class Trial(Base):
    """A trial created from a design YAML (``seed`` is never shown by any page)."""

    __tablename__ = "rand_trials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    design_json: Mapped[str] = mapped_column(Text)
    design_sha256: Mapped[str] = mapped_column(String(64))
    inclusion_json: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(32))
    seed: Mapped[str] = mapped_column(String(64))
    list_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrialSite(Base):
    """A participating center: design center name <-> clinic center."""

    __tablename__ = "rand_sites"
    __table_args__ = (
        UniqueConstraint("trial_id", "center_id"),
        UniqueConstraint("trial_id", "design_center", name="uq_rand_sites_design_center"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("rand_trials.id"), index=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id"))
    design_center: Mapped[str] = mapped_column(String(40))


class AllocationSlot(Base):
    """One position of a sealed allocation list (stratum, 1-based seq, arm or sequence)."""

    __tablename__ = "rand_slots"
    __table_args__ = (UniqueConstraint("trial_id", "stratum", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("rand_trials.id"), index=True)
    stratum: Mapped[str] = mapped_column(String(400))
    seq: Mapped[int] = mapped_column(Integer)
    allocation: Mapped[str] = mapped_column(String(200))


class Participant(Base):
    """An enrolled participant with the allocation given at enrolment.

    ``seq`` is the order of enrolment in the trial (1, 2, ...), ``code`` the
    identifier used in exports (``<design center>-<seq>``), ``entered_json`` the
    eligibility data and covariates as entered.
    """

    __tablename__ = "rand_participants"
    __table_args__ = (
        UniqueConstraint("trial_id", "seq"),
        UniqueConstraint("slot_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("rand_trials.id"), index=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(64))
    stratum: Mapped[str] = mapped_column(String(400))
    entered_json: Mapped[str] = mapped_column(Text)
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("rand_slots.id"), nullable=True)
    allocation: Mapped[str] = mapped_column(String(200))
    enrolled_by: Mapped[str] = mapped_column(String(64))
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)


class Unblinding(Base):
    """An emergency unblinding: who asked, why, when."""

    __tablename__ = "rand_unblindings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("rand_participants.id"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    ts: Mapped[datetime] = mapped_column(default=utcnow)


class VisitValue(Base):
    """One outcome value at one visit (``time``: week, or period for crossover designs)."""

    __tablename__ = "rand_visits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("rand_participants.id"), index=True)
    time: Mapped[float] = mapped_column(Float)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    entered_by: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)


#: Every table of this package (all append-only), in creation order.
TABLES = (
    "rand_trials",
    "rand_sites",
    "rand_slots",
    "rand_participants",
    "rand_unblindings",
    "rand_visits",
)
