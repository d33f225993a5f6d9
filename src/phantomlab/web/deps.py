"""Request dependencies shared by every page: store session, current user, CSRF, rendering.

``ClinicUser`` is what a route sees of the logged-in user: its global ``is_admin`` flag and
its roles per center. Every query a route makes is scoped with :meth:`ClinicUser.centers`,
and :meth:`ClinicUser.require` answers 404 for a center where the user has no role (an
object of another center looks exactly like a missing one) and 403 for a wrong role.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from phantomlab.web.auth import csrf_token, session_user
from phantomlab.web.db import session_scope
from phantomlab.web.models import Center, Membership
from phantomlab.web.settings import ClinicSettings

__all__ = [
    "PRELOGIN_COOKIE",
    "SESSION_COOKIE",
    "ClinicUser",
    "NotAuthenticated",
    "csrf",
    "current_user",
    "get_db",
    "get_settings",
    "load_user",
    "render",
]

SESSION_COOKIE = "phantomlab_session"
#: Random value set by the login page; the login form's CSRF token is bound to it.
PRELOGIN_COOKIE = "phantomlab_prelogin"


class NotAuthenticated(Exception):
    """No live session: pages redirect to /login, other requests answer 401."""


@dataclass(frozen=True)
class ClinicUser:
    """The logged-in user as routes see it.

    Attributes
    ----------
    id : int
        User id.
    username : str
        Login name (the audit trail's actor).
    is_admin : bool
        Holds the global ``admin`` role.
    roles : dict of int to frozenset of str
        Roles per center id.
    session_hash : str
        SHA-256 of the session token (binds the CSRF token).
    center_codes : dict of int to str
        Codes of the user's centers, for display.
    """

    id: int
    username: str
    is_admin: bool
    roles: dict[int, frozenset[str]]
    session_hash: str = ""
    center_codes: dict[int, str] = field(default_factory=dict)

    def centers(self, *roles: str) -> list[int]:
        """Return the ids of the centers where the user has any of ``roles`` (any role if none)."""
        return sorted(c for c, rs in self.roles.items() if not roles or rs & set(roles))

    def require(self, center_id: int | None, *roles: str) -> None:
        """Raise 404 if the user has no role at ``center_id``, 403 if none of ``roles`` there.

        Raises
        ------
        HTTPException
            404 (no role at that center, or no such center) or 403 (wrong role).
        """
        held = self.roles.get(center_id) if center_id is not None else None
        if not held:
            raise HTTPException(status_code=404, detail="not found")
        if roles and not held & set(roles):
            raise HTTPException(
                status_code=403, detail=f"this needs the role {' or '.join(roles)} here"
            )

    def require_admin(self) -> None:
        """Raise 403 unless the user is an administrator."""
        if not self.is_admin:
            raise HTTPException(status_code=403, detail="this needs the admin role")


def get_settings(request: Request) -> ClinicSettings:
    """Return the app's settings."""
    settings: ClinicSettings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    """Yield a store session in one transaction (committed when the route returns)."""
    with session_scope(request.app.state.engine) as db:
        yield db


def load_user(db: Session, token: str) -> ClinicUser | None:
    """Return the user of a session token, with their roles, or None."""
    found = session_user(db, token)
    if found is None:
        return None
    user, digest = found
    roles: dict[int, set[str]] = {}
    is_admin = False
    for m in db.execute(select(Membership).where(Membership.user_id == user.id)).scalars():
        if m.center_id is None:
            is_admin = is_admin or m.role == "admin"
        else:
            roles.setdefault(m.center_id, set()).add(m.role)
    codes = {
        c.id: c.code for c in db.execute(select(Center).where(Center.id.in_(list(roles)))).scalars()
    }
    return ClinicUser(
        user.id,
        user.username,
        is_admin,
        {c: frozenset(r) for c, r in roles.items()},
        digest,
        codes,
    )


def current_user(request: Request) -> ClinicUser:
    """Return the logged-in user (set by the app's session middleware).

    Raises
    ------
    NotAuthenticated
        Without a live session.
    """
    user = getattr(request.state, "user", None)
    if not isinstance(user, ClinicUser):
        raise NotAuthenticated()
    return user


def csrf_binding(request: Request) -> str:
    """Return what this request's CSRF token is bound to (session, else pre-login cookie)."""
    user = getattr(request.state, "user", None)
    if isinstance(user, ClinicUser):
        return f"s:{user.session_hash}"
    pre = request.cookies.get(PRELOGIN_COOKIE, "")
    return f"p:{pre}" if pre else ""


def expected_csrf(request: Request) -> str:
    """Return the CSRF token the forms of this request carry ("" when none can be made)."""
    binding = csrf_binding(request)
    return csrf_token(get_settings(request).secret_key, binding) if binding else ""


async def csrf(request: Request) -> None:
    """Check the CSRF token of a POST (form field ``csrf_token`` or header ``X-CSRF-Token``).

    Raises
    ------
    HTTPException
        403 when it is missing or does not match this session's token.
    """
    sent = request.headers.get("x-csrf-token", "")
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else ""
    expected = expected_csrf(request)
    if not (sent and expected and hmac.compare_digest(sent, expected)):
        raise HTTPException(status_code=403, detail="missing or invalid CSRF token (reload)")


def render(
    request: Request, template: str, ctx: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a page with ``user``, ``csrf_token`` and ``settings`` added to its context."""
    context: dict[str, Any] = {
        "user": getattr(request.state, "user", None),
        "csrf_token": expected_csrf(request),
        **(ctx or {}),
    }
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, template, context, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    return response
