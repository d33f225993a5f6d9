"""``/audit``: the audit trail of the user's centers, and whether the chain verifies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from phantomlab.web.audit import count_events, verify
from phantomlab.web.deps import ClinicUser, current_user, get_db, render
from phantomlab.web.models import AuditEvent, Center

__all__ = ["PAGE", "router"]

router = APIRouter()
#: Events shown per page (newest first).
PAGE = 200


@router.get("/audit")
def audit_page(
    request: Request,
    user: Annotated[ClinicUser, Depends(current_user)],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    """Admins see every event; monitors the events of their centers. Both see the check."""
    monitored = user.centers("monitor")
    if not (user.is_admin or monitored):
        raise HTTPException(status_code=403, detail="this needs the admin or monitor role")
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(PAGE)
    if not user.is_admin:
        query = query.where(AuditEvent.center_id.in_(monitored))
    before = request.query_params.get("before", "")
    if before.isdigit():
        query = query.where(AuditEvent.seq < int(before))
    events = list(db.execute(query).scalars())
    codes = {cid: code for cid, code in db.execute(select(Center.id, Center.code))}
    return render(
        request,
        "audit.html",
        {
            "events": events,
            "codes": codes,
            "report": verify(db),
            "total": count_events(db),
            "page": PAGE,
        },
    )
