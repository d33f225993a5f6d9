"""Centers, users and roles: the writes behind ``/admin`` and ``phantomlab admin``.

Each function validates its input (one :class:`~phantomlab.exceptions.Problem` per bad field,
never a traceback), writes the row(s) and one audit event in the caller's transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from phantomlab.exceptions import InputError, Problem
from phantomlab.web import audit
from phantomlab.web.auth import check_password, hash_password
from phantomlab.web.models import ROLES, Center, Membership, User

__all__ = [
    "AccountRow",
    "center_by_code",
    "create_center",
    "create_user",
    "grant",
    "list_accounts",
    "list_centers",
]

_CODE = re.compile(r"[A-Z][A-Z0-9_-]{0,15}")
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


@dataclass(frozen=True)
class AccountRow:
    """A user with their roles, as ``(center code or "*", role)`` pairs."""

    username: str
    active: bool
    roles: tuple[tuple[str, str], ...]


def center_by_code(db: Session, code: str, *, field: str = "center") -> Center:
    """Return the center with this code (case-insensitive) or raise naming the known codes."""
    c = db.execute(select(Center).where(Center.code == code.strip().upper())).scalar_one_or_none()
    if c is None:
        known = ", ".join(db.execute(select(Center.code).order_by(Center.code)).scalars())
        raise InputError(Problem(field, code, known or "(no centers yet)", "", "unknown center"))
    return c


def _role(role: str, *, field: str = "role") -> str:
    r = role.strip().lower()
    if r not in ROLES:
        raise InputError(Problem(field, role, ", ".join(ROLES), "", "unknown role"))
    return r


def create_center(db: Session, code: str, name: str, *, actor: str) -> Center:
    """Create a center (``code``: 1-16 capital letters/digits, e.g. ``BER``)."""
    code_u = code.strip().upper()
    problems = []
    if not _CODE.fullmatch(code_u):
        problems.append(
            Problem("code", code, "1-16 of A-Z 0-9 _ -, a letter first", "", "bad code")
        )
    if not name.strip() or len(name) > 200:
        problems.append(Problem("name", name, "1-200 characters", "", "bad center name"))
    if problems:
        raise InputError(problems)
    if db.execute(select(Center.id).where(Center.code == code_u)).first():
        raise InputError(Problem("code", code_u, "a new code", "", "the center exists"))
    c = Center(code=code_u, name=name.strip())
    db.add(c)
    db.flush()
    audit.record(
        db,
        actor=actor,
        center_id=c.id,
        action="center.create",
        subject=f"center:{c.id}",
        after={"code": c.code, "name": c.name},
    )
    return c


def create_user(
    db: Session,
    username: str,
    password: str,
    *,
    actor: str,
    center: str | None = None,
    role: str | None = None,
) -> User:
    """Create a user (argon2id hash stored), optionally with a first role at a center."""
    name = username.strip().lower()
    if not _USERNAME.fullmatch(name):
        raise InputError(Problem("username", username, "2-64 of a-z 0-9 . _ -", "", "bad username"))
    check_password(password, username=name)
    if db.execute(select(User.id).where(User.username == name)).first():
        raise InputError(Problem("username", name, "a new username", "", "the user exists"))
    if role is not None:
        _role(role)
    user = User(username=name, password_hash=hash_password(password), active=True)
    db.add(user)
    db.flush()
    audit.record(
        db,
        actor=actor,
        center_id=None,
        action="user.create",
        subject=f"user:{user.id}",
        after={"username": name},
    )
    if role is not None:
        grant(db, name, center, role, actor=actor)
    return user


def grant(db: Session, username: str, center: str | None, role: str, *, actor: str) -> Membership:
    """Give ``username`` a role at a center (``admin`` is global: no center)."""
    r = _role(role)
    user = db.execute(
        select(User).where(User.username == username.strip().lower())
    ).scalar_one_or_none()
    if user is None:
        raise InputError(Problem("username", username, "an existing user", "", "unknown user"))
    center_id: int | None = None
    if r != "admin":
        if not center:
            raise InputError(
                Problem("center", center, "a center code", "", "a role needs a center")
            )
        center_id = center_by_code(db, center).id
    exists = db.execute(
        select(Membership).where(
            Membership.user_id == user.id,
            Membership.role == r,
            Membership.center_id.is_(None)
            if center_id is None
            else Membership.center_id == center_id,
        )
    ).scalar_one_or_none()
    if exists is not None:
        return exists
    m = Membership(user_id=user.id, center_id=center_id, role=r)
    db.add(m)
    db.flush()
    audit.record(
        db,
        actor=actor,
        center_id=center_id,
        action="role.grant",
        subject=f"user:{user.id}",
        after={"username": user.username, "role": r, "center_id": center_id},
    )
    return m


def list_centers(db: Session) -> list[Center]:
    """Every center, by code."""
    return list(db.execute(select(Center).order_by(Center.code)).scalars())


def list_accounts(db: Session) -> list[AccountRow]:
    """Every user with their roles, by username."""
    codes = {c.id: c.code for c in list_centers(db)}
    roles: dict[int, list[tuple[str, str]]] = {}
    for m in db.execute(select(Membership)).scalars():
        roles.setdefault(m.user_id, []).append(
            ("*" if m.center_id is None else codes[m.center_id], m.role)
        )
    return [
        AccountRow(u.username, u.active, tuple(sorted(roles.get(u.id, []))))
        for u in db.execute(select(User).order_by(User.username)).scalars()
    ]
