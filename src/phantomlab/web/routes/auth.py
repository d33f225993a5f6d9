"""``/login`` and ``/logout``."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from phantomlab.web import audit
from phantomlab.web.auth import LoginLimited, authenticate, end_session, start_session
from phantomlab.web.deps import (
    PRELOGIN_COOKIE,
    SESSION_COOKIE,
    ClinicUser,
    csrf,
    current_user,
    get_db,
    get_settings,
    render,
)
from phantomlab.web.settings import ClinicSettings

__all__ = ["router", "safe_next"]

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Return ``target`` if it is a path on this site, else ``/`` (no open redirect)."""
    t = (target or "").strip()
    if not t.startswith("/") or t.startswith("//") or "\\" in t or len(t) > 500:
        return "/"
    return t


def _login_page(
    request: Request,
    settings: ClinicSettings,
    status: int = 200,
    message: str = "",
    next_url: str | None = None,
) -> Response:
    pre = request.cookies.get(PRELOGIN_COOKIE, "")
    new = not pre
    if new:  # bind the form's CSRF token to a fresh random cookie
        pre = secrets.token_urlsafe(24)
        request.cookies[PRELOGIN_COOKIE] = pre
    # after a failed login the form posts back here: keep the page first asked for
    next_url = safe_next(next_url if next_url is not None else request.query_params.get("next"))
    response = render(
        request, "login.html", {"message": message, "next": next_url}, status_code=status
    )
    if new:
        response.set_cookie(
            PRELOGIN_COOKIE,
            pre,
            httponly=True,
            samesite="strict",
            secure=settings.cookie_secure,
            path="/login",
        )
    return response


@router.get("/login")
def login_form(
    request: Request, settings: Annotated[ClinicSettings, Depends(get_settings)]
) -> Response:
    """Show the login form (or go to the dashboard when already logged in)."""
    if getattr(request.state, "user", None) is not None:
        return RedirectResponse("/", status_code=303)
    return _login_page(request, settings)


@router.post("/login", dependencies=[Depends(csrf)])
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    db: Annotated[Session, Depends(get_db)],
    settings: Annotated[ClinicSettings, Depends(get_settings)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Check the password; start a session (cookie HttpOnly, SameSite=Strict)."""
    client = request.client.host if request.client else "unknown"
    try:
        user = authenticate(db, settings, username, password, client)
    except LoginLimited as exc:
        minutes = max(1, round(exc.retry_after_s / 60))
        return _login_page(
            request,
            settings,
            429,
            f"Too many failed logins for this user from this computer. Try again in about "
            f"{minutes} minute{'s' if minutes > 1 else ''}.",
            next,
        )
    if user is None:
        db.commit()  # the failure counts even though the answer is an error page
        return _login_page(request, settings, 401, "Wrong username or password.", next)
    token = start_session(db, settings, user)
    audit.record(
        db, actor=user.username, center_id=None, action="auth.login", subject=f"user:{user.id}"
    )
    db.commit()
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_ttl_s),
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )
    response.delete_cookie(PRELOGIN_COOKIE, path="/login")
    return response


@router.post("/logout", dependencies=[Depends(csrf)])
def logout(
    user: Annotated[ClinicUser, Depends(current_user)],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    """End the session (its server-side row is deleted) and forget the cookie."""
    end_session(db, user.session_hash)
    audit.record(
        db, actor=user.username, center_id=None, action="auth.logout", subject=f"user:{user.id}"
    )
    db.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
