"""The clinic web application: :func:`create_app` builds it from :class:`ClinicSettings`.

Every request passes the session middleware: it loads the user of the session cookie and
answers an anonymous request itself (a page: 303 to ``/login``; anything else: 401), except
for ``/login`` and ``/static``. Every response carries the security headers (CSP
``default-src 'self'``, no framing, no sniffing, no referrer) and pages are ``no-store``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from phantomlab.web.db import make_engine, session_scope, upgrade
from phantomlab.web.deps import SESSION_COOKIE, ClinicUser, NotAuthenticated, load_user, render
from phantomlab.web.routes import admin, audit_views, auth, home
from phantomlab.web.settings import ClinicSettings

__all__ = ["DOMAIN_ROUTERS", "SECURITY_HEADERS", "create_app", "iter_routes"]

HERE = Path(__file__).resolve().parent
#: (module with a ``router``, URL prefix) of each domain; a module not yet written is skipped.
DOMAIN_ROUTERS = (
    ("phantomlab.web.protocol_desk.routes", "/protocols"),
    ("phantomlab.web.programming.routes", "/programming"),
    ("phantomlab.web.randomization.routes", "/trials"),
)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_PUBLIC = ("/login",)


def _is_public(path: str) -> bool:
    return path in _PUBLIC or path.startswith("/static/")


def _lookup(engine: Engine, token: str) -> ClinicUser | None:
    with session_scope(engine) as db:
        return load_user(db, token)


class SessionMiddleware(BaseHTTPMiddleware):
    """Load the session's user; refuse anonymous requests; add the security headers."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        """Handle one request."""
        token = request.cookies.get(SESSION_COOKIE, "")
        user = await run_in_threadpool(_lookup, request.app.state.engine, token) if token else None
        request.state.user = user
        response: Response
        if user is None and not _is_public(request.url.path):
            if request.method in ("GET", "HEAD"):
                target = quote(request.url.path, safe="/")
                response = RedirectResponse(f"/login?next={target}", status_code=303)
            else:
                response = JSONResponse({"detail": "login required"}, status_code=401)
            if token:  # an expired or revoked session: forget the cookie
                response.delete_cookie(SESSION_COOKIE, path="/")
        else:
            response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response


def _exists(module: str) -> bool:
    parent = module.rsplit(".", 1)[0]
    return (
        importlib.util.find_spec(parent) is not None
        and importlib.util.find_spec(module) is not None
    )


def iter_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, frozenset[str]]]:
    """Yield ``(path, methods)`` of every endpoint, included routers flattened.

    FastAPI (0.16x) keeps an included router as one lazy entry of ``app.routes``; this walks
    into it (its ``original_router`` and the prefix of its ``include_context``) so that tests
    and the dashboard see every path. Mounts (``/static``) answer ``{"*"}``.

    Parameters
    ----------
    routes : iterable
        ``app.routes`` (or a router's ``routes``).
    prefix : str
        Prefix of the enclosing include.

    Yields
    ------
    tuple of (str, frozenset of str)
        The full path and its methods.
    """
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            ctx = getattr(route, "include_context", None)
            yield from iter_routes(inner.routes, prefix + str(getattr(ctx, "prefix", "")))
        elif hasattr(route, "methods") and getattr(route, "methods", None):
            yield prefix + str(route.path), frozenset(route.methods)
        elif hasattr(route, "path"):
            yield prefix + str(route.path), frozenset({"*"})


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") or request.method == "GET"


def create_app(settings: ClinicSettings | None = None, *, migrate: bool = True) -> FastAPI:
    """Build the clinic application.

    Parameters
    ----------
    settings : ClinicSettings, optional
        Default :meth:`ClinicSettings.from_env`.
    migrate : bool
        Bring the store to the newest schema first (Alembic ``upgrade heads``).

    Returns
    -------
    FastAPI
        The application (serve it with uvicorn: ``phantomlab serve``).
    """
    settings = settings or ClinicSettings.from_env()
    engine = make_engine(settings.db_url)
    if migrate:
        upgrade(engine)
    app = FastAPI(title="PhantomLab Clinic", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.add_middleware(SessionMiddleware)

    @app.exception_handler(NotAuthenticated)
    async def _anonymous(request: Request, exc: NotAuthenticated) -> Response:
        if request.method in ("GET", "HEAD"):
            return RedirectResponse("/login", status_code=303)
        return JSONResponse({"detail": "login required"}, status_code=401)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_html(request):
            return render(
                request,
                "error.html",
                {"status": exc.status_code, "detail": exc.detail},
                status_code=exc.status_code,
            )
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    for module in (auth, home, admin, audit_views):
        app.include_router(module.router)
    for name, prefix in DOMAIN_ROUTERS:
        if _exists(name):
            app.include_router(importlib.import_module(name).router, prefix=prefix)
    return app
