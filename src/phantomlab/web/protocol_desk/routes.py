"""``/protocols``: the protocol desk.

Paste or upload a protocol (YAML or JSON), or fill the form of a modality (its fields
come from the protocol class's JSON Schema); the page shows the dose card and the full
safety verdict (every rule passed / violated / not assessable / not applicable, with its
source) and links to the printable report. Each check is one audit event
(``protocol.check``, subject ``protocol:<sha256 prefix>``, with the hash of the text
checked and the verdict). No science here: :func:`phantomlab.protocols.load_protocol`,
:func:`~phantomlab.protocols.check_protocol` and :func:`phantomlab.report.dose_card` do
the work.

Who: a user with the ``clinician`` or ``investigator`` role at the center the check is
recorded for. The protocol text is never read as a file name.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from phantomlab._yaml import load_text
from phantomlab.exceptions import InputError, ProtocolError
from phantomlab.protocols import (
    DOSE_KEYS,
    MODALITIES,
    ProtocolBase,
    check_protocol,
    dump_protocol,
    load_protocol,
    protocol_schema,
)
from phantomlab.protocols.dose import display_value
from phantomlab.web import audit
from phantomlab.web.deps import ClinicUser, csrf, current_user, get_db, render

__all__ = ["CHECK_ROLES", "MAX_BYTES", "router"]

router = APIRouter()

User = Annotated[ClinicUser, Depends(current_user)]
Db = Annotated[Session, Depends(get_db)]

#: Roles that may check a protocol (a check writes an audit event: monitors only read).
CHECK_ROLES = ("clinician", "investigator")
#: Largest protocol text accepted, bytes.
MAX_BYTES = 200_000
#: Modalities with a form (a combination or a sham is pasted as YAML).
_NO_FORM = ("combination", "sham")
#: The printable report is a self-contained page with inline CSS: allow that, nothing else.
_REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class _Rejected(Exception):
    """Input that is not a protocol: a page with the problems and this status."""

    def __init__(self, status: int, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.status = status
        self.problems = problems


def _form_fields(modality: str) -> list[dict[str, str]]:
    """Return the form fields of a modality: name, label, description, unit, choices."""
    schema = protocol_schema(modality)
    defs = schema.get("$defs", {})
    out: list[dict[str, str]] = []

    def add(name: str, prop: dict[str, Any]) -> None:
        options = prop.get("anyOf", [prop])
        ref = next((o["$ref"] for o in options if "$ref" in o), None)
        if ref is not None:
            sub = defs.get(ref.rsplit("/", 1)[-1], {})
            for key, p in sub.get("properties", {}).items():
                add(f"{name}.{key}", p)
            return
        unit = next((o.get("x-display-unit", "") for o in options if "x-display-unit" in o), "")
        enum = next((o["enum"] for o in options if "enum" in o), None)
        kind = "list" if any(o.get("type") == "array" for o in options) else "text"
        out.append(
            {
                "name": name,
                "description": str(prop.get("description", "")),
                "unit": unit,
                "choices": ", ".join(map(str, enum)) if enum else "",
                "kind": kind,
            }
        )

    for name, prop in schema.get("properties", {}).items():
        if name != "modality":
            add(name, prop)
    return out


def _value(text: str) -> Any:
    """Return a form value: YAML for lists, mappings, numbers and booleans; else the text."""
    text = text.strip()
    try:
        parsed = load_text(text, field="form value")
    except InputError:
        return text
    return parsed if isinstance(parsed, list | dict | int | float | bool) else text


def _from_form(modality: str, items: list[tuple[str, str]]) -> dict[str, Any]:
    data: dict[str, Any] = {"modality": modality}
    known = {f["name"] for f in _form_fields(modality)}
    for key, raw in items:
        name = key.removeprefix("f.")
        if not key.startswith("f.") or not raw.strip():
            continue
        if name not in known:
            raise _Rejected(400, [f"error: {name}: not a field of modality {modality}"])
        head, _, tail = name.partition(".")
        if tail:
            data.setdefault(head, {})[tail] = _value(raw)
        else:
            data[name] = _value(raw)
    return data


def _parse_text(text: str) -> dict[str, Any]:
    """Parse pasted or uploaded text as YAML/JSON into a mapping (never a file path)."""
    if not text.strip():
        raise _Rejected(
            400, ["error: protocol: empty (paste a protocol, upload a file or fill a form)"]
        )
    try:  # the one guarded loader: duplicate keys, alias bombs, depth and size refused
        data = load_text(text, field="protocol")
    except InputError as exc:
        raise _Rejected(400, [f"error: {p.line()}" for p in exc.problems]) from None
    if not isinstance(data, dict):
        raise _Rejected(
            422,
            [
                "error: protocol = "
                + type(data).__name__
                + ": a mapping with a 'modality' key (e.g. 'modality: tdcs')"
            ],
        )
    return data


def _load(data: dict[str, Any]) -> ProtocolBase:
    try:
        return load_protocol(data)
    except ProtocolError as exc:
        raise _Rejected(422, [f"error: {p.line()}" for p in exc.problems]) from None


def _center(user: ClinicUser, center: str | None) -> int:
    """Return the center a check is recorded for: the one chosen, or the user's only one.

    Raises
    ------
    HTTPException
        403 without a checking role anywhere; 400 when several centers are possible and
        none is chosen; 404 for a center where the user has no role (or no such center).
    """
    allowed = user.centers(*CHECK_ROLES)
    if center is None or not center.strip():
        if len(allowed) == 1:
            return allowed[0]
        if not allowed:
            raise HTTPException(
                403, "checking a protocol needs the role " + " or ".join(CHECK_ROLES)
            )
        raise HTTPException(400, "choose the center the check is recorded for")
    try:
        cid = int(center)
    except ValueError:
        raise HTTPException(404, "not found") from None
    user.require(cid, *CHECK_ROLES)
    return cid


def _dose_rows(dose: Any) -> list[tuple[str, str]]:
    rows = []
    for key in DOSE_KEYS:
        value = getattr(dose, key)
        if value is not None:
            rows.append((key, display_value(key, float(value))))
    return rows


def _page(request: Request, user: ClinicUser, status: int = 200, **ctx: Any) -> Response:
    modality = request.query_params.get("modality", "")
    if modality not in MODALITIES or modality in _NO_FORM:
        modality = ""
    centers = [(c, user.center_codes.get(c, str(c))) for c in user.centers(*CHECK_ROLES)]
    context = {
        "centers": centers,
        "modalities": [m for m in MODALITIES if m not in _NO_FORM],
        "modality": modality,
        "fields": _form_fields(modality) if modality else [],
        "problems": [],
        "result": None,
        "text": "",
        "max_bytes": MAX_BYTES,
        **ctx,
    }
    return render(request, "protocols/desk.html", context, status_code=status)


@router.get("")
@router.get("/")
def desk(request: Request, user: User) -> Response:
    """Show the paste/upload box and, with ``?modality=``, the form of that modality."""
    return _page(request, user)


@router.post("/check", dependencies=[Depends(csrf)])
async def check(
    request: Request,
    user: User,
    db: Db,
    center: Annotated[str | None, Form()] = None,
    text: Annotated[str | None, Form()] = None,
    modality: Annotated[str | None, Form()] = None,
    upload: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Check a pasted, uploaded or form-filled protocol; record the check; show the verdict."""
    cid = _center(user, center)
    source = "text"
    try:
        if upload is not None and upload.filename:
            raw = await upload.read(MAX_BYTES + 1)
            source = "upload"
            if len(raw) > MAX_BYTES:
                raise _Rejected(413, [f"error: upload: larger than {MAX_BYTES:,} bytes"])
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _Rejected(
                    400, ["error: upload: not UTF-8 text (a YAML or JSON file)"]
                ) from None
            data = _parse_text(text)
        elif modality:
            if modality not in MODALITIES or modality in _NO_FORM:
                raise _Rejected(400, [f"error: modality = {modality[:40]}: not a form of the desk"])
            source = "form"
            form = await request.form()
            items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
            data = _from_form(modality, items)
            text = yaml.safe_dump(data, sort_keys=True)
        else:
            text = text or ""
            if len(text.encode("utf-8")) > MAX_BYTES:
                raise _Rejected(413, [f"error: protocol: larger than {MAX_BYTES:,} bytes"])
            data = _parse_text(text)
        protocol = _load(data)
    except _Rejected as exc:
        return _page(
            request, user, exc.status, problems=exc.problems, text=(text or "")[:MAX_BYTES]
        )
    report = check_protocol(protocol)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    audit.record(
        db,
        actor=user.username,
        center_id=cid,
        action="protocol.check",
        subject=f"protocol:{digest[:16]}",
        after={
            "sha256": digest,
            "source": source,
            "modality": protocol.modality_key(),
            "verdict": report.verdict,
            "violated": sorted({r.rule for r in report.rules if r.status == "violated"}),
            "not_assessable": list(report.not_evaluated),
        },
    )
    result = {
        "verdict": report.verdict,
        "errors": [p.line() for p in report.errors],
        "warnings": [p.line() for p in report.warnings],
        "rules": [r.to_dict() for r in report.rules],
        "dose": _dose_rows(report.dose),
        "sha256": digest,
        "canonical": dump_protocol(protocol),
        "center": cid,
    }
    return _page(request, user, 200, result=result, text=text)


@router.post("/report", dependencies=[Depends(csrf)])
def printable(
    request: Request,
    user: User,
    center: Annotated[str | None, Form()] = None,
    text: Annotated[str, Form()] = "",
) -> Response:
    """Return the printable HTML report of a protocol (self-contained page)."""
    _center(user, center)
    try:
        if len(text.encode("utf-8")) > MAX_BYTES:
            raise _Rejected(413, [f"error: protocol: larger than {MAX_BYTES:,} bytes"])
        protocol = _load(_parse_text(text))
    except _Rejected as exc:
        return _page(request, user, exc.status, problems=exc.problems, text=text[:MAX_BYTES])
    from phantomlab.report import dose_card

    page = dose_card(protocol, require_complete=True)  # the verdict the desk showed
    response = HTMLResponse(page.html)
    response.headers["Content-Security-Policy"] = _REPORT_CSP
    return response
