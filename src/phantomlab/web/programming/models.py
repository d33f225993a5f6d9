"""``programming_sessions``: which center and patient code an optimizer session belongs to.

The optimizer's own tables (``optimize_*``) are :mod:`phantomlab.optimize.storage`'s; the
clinic store creates them in revision ``0002_programming``.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from phantomlab.web.db import Base

__all__ = ["ProgrammingSession"]


class ProgrammingSession(Base):
    """A patient's programming session at one center (append-only).

    Attributes
    ----------
    id : int
        Row id (the URL's session id).
    center_id : int
        The center whose staff may see and use it.
    patient : str
        The center's patient code (unique at the center).
    optimize_session_id : int
        The optimizer session (``optimize_sessions.id``).
    created_by, created_at : str
        Who started it, and when (ISO UTC).
    """

    __tablename__ = "programming_sessions"
    __table_args__ = (UniqueConstraint("center_id", "patient"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id"), nullable=False)
    patient: Mapped[str] = mapped_column(String(64), nullable=False)
    optimize_session_id: Mapped[int] = mapped_column(Integer, nullable=False, unique=True)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[str] = mapped_column(String(40), nullable=False)
