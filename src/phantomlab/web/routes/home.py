"""``/``: the dashboard (the user's centers, roles, and links to what they may use)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from phantomlab.web.deps import ClinicUser, current_user, render

__all__ = ["router"]

router = APIRouter()

#: (path, label, roles that see the link; empty: everyone)
LINKS = (
    ("/protocols", "Protocol desk", ()),
    ("/programming", "Programming sessions", ("clinician", "investigator", "monitor")),
    ("/trials", "Trials and randomization", ("clinician", "investigator", "randomizer", "monitor")),
    ("/audit", "Audit trail", ("monitor",)),
)


@router.get("/")
def dashboard(request: Request, user: Annotated[ClinicUser, Depends(current_user)]) -> Response:
    """List the user's centers with their roles and the pages they may open."""
    centers = [(user.center_codes.get(c, str(c)), sorted(user.roles[c])) for c in user.centers()]
    from phantomlab.web.app import iter_routes  # the app module imports this one

    paths = {p for p, _ in iter_routes(request.app.routes)}
    links = [
        (path, label)
        for path, label, roles in LINKS
        if any(p == path or p.startswith(path + "/") for p in paths)
        and (not roles or user.centers(*roles) or (path == "/audit" and user.is_admin))
    ]
    if user.is_admin:
        links.append(("/admin", "Centers and users"))
    return render(request, "home.html", {"centers": centers, "links": links})
