"""Core tables of the clinic store: centers, users, memberships, sessions, audit events.

Domain packages (programming, randomization) add their own tables on the same
:class:`~phantomlab.web.db.Base` and their own Alembic revision.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from phantomlab.web.db import Base

__all__ = [
    "ROLES",
    "AuditEvent",
    "Center",
    "LoginFailure",
    "Membership",
    "User",
    "UserSession",
    "utcnow",
]

#: The role vocabulary. ``admin`` is global (its membership has no center).
ROLES = ("admin", "investigator", "clinician", "randomizer", "monitor")


def utcnow() -> datetime:
    """Return the current time in UTC without tzinfo (how the store keeps times)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Center(Base):
    """A clinical center (``code`` is short and unique, e.g. ``BER``)."""

    __tablename__ = "centers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class User(Base):
    """A person who logs in; ``password_hash`` is an argon2id hash, never the password."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Membership(Base):
    """A role of a user at a center (``center_id`` is NULL for the global ``admin`` role)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "center_id", "role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    center_id: Mapped[int | None] = mapped_column(ForeignKey("centers.id"), nullable=True)
    role: Mapped[str] = mapped_column(String(32))


class UserSession(Base):
    """A login session: the SHA-256 of a random token (the cookie holds the token)."""

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class LoginFailure(Base):
    """One failed login (username as typed, client address), for rate limiting."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """One hash-chained audit event (see :mod:`phantomlab.web.audit`)."""

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    center_id: Mapped[int | None] = mapped_column(
        ForeignKey("centers.id"), nullable=True, index=True
    )
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    before: Mapped[str] = mapped_column(Text)
    after: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
