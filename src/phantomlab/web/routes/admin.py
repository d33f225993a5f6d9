"""``/admin``: centers, users and roles (administrators only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from phantomlab.exceptions import InputError
from phantomlab.web import accounts
from phantomlab.web.deps import ClinicUser, csrf, current_user, get_db, render
from phantomlab.web.models import ROLES

__all__ = ["router"]

router = APIRouter()

Admin = Annotated[ClinicUser, Depends(current_user)]
Db = Annotated[Session, Depends(get_db)]


def _page(
    request: Request, db: Session, status: int = 200, problems: list[str] | None = None
) -> Response:
    return render(
        request,
        "admin.html",
        {
            "centers": accounts.list_centers(db),
            "accounts": accounts.list_accounts(db),
            "roles": ROLES,
            "problems": problems or [],
            "done": request.query_params.get("done", "")[:100],
        },
        status_code=status,
    )


@router.get("/admin")
def admin_page(request: Request, user: Admin, db: Db) -> Response:
    """List centers and users, with the forms that create them and grant roles."""
    user.require_admin()
    return _page(request, db)


def _apply(request: Request, db: Session, action: str, call: Callable[[], object]) -> Response:
    try:
        call()
    except InputError as exc:
        db.rollback()
        return _page(request, db, 400, [p.line() for p in exc.problems])
    db.commit()
    return RedirectResponse(f"/admin?done={action}", status_code=303)


@router.post("/admin/centers", dependencies=[Depends(csrf)])
def create_center(
    request: Request,
    user: Admin,
    db: Db,
    code: Annotated[str, Form(max_length=100)],
    name: Annotated[str, Form(max_length=500)],
) -> Response:
    """Create a center."""
    user.require_admin()
    return _apply(
        request,
        db,
        "center",
        lambda: accounts.create_center(db, code, name, actor=user.username),
    )


@router.post("/admin/users", dependencies=[Depends(csrf)])
def create_user(
    request: Request,
    user: Admin,
    db: Db,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    center: Annotated[str, Form(max_length=100)] = "",
    role: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Create a user, with a first role when one is chosen."""
    user.require_admin()
    return _apply(
        request,
        db,
        "user",
        lambda: accounts.create_user(
            db,
            username,
            password,
            actor=user.username,
            center=center or None,
            role=role or None,
        ),
    )


@router.post("/admin/grant", dependencies=[Depends(csrf)])
def grant(
    request: Request,
    user: Admin,
    db: Db,
    username: Annotated[str, Form(max_length=100)],
    role: Annotated[str, Form(max_length=100)],
    center: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Grant a role at a center (``admin``: global)."""
    user.require_admin()
    return _apply(
        request,
        db,
        "grant",
        lambda: accounts.grant(db, username, center or None, role, actor=user.username),
    )
