"""Passwords (argon2id), login rate limiting and server-side session tokens.

A session is a random 256-bit token: the browser's cookie holds the token, the store holds
only its SHA-256 with an expiry, so a copy of the database does not let anyone log in, and
logging out deletes the row. Failed logins are counted per (username, client address);
``login_max_failures`` failures within ``login_window_s`` refuse further tries (HTTP 429)
until the window has passed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from phantomlab.exceptions import InputError, Problem
from phantomlab.web.models import LoginFailure, User, UserSession, utcnow
from phantomlab.web.settings import ClinicSettings

__all__ = [
    "MIN_PASSWORD",
    "LoginLimited",
    "authenticate",
    "check_password",
    "csrf_token",
    "end_session",
    "hash_password",
    "hash_token",
    "session_user",
    "start_session",
    "verify_password",
]

#: Shortest password accepted (NIST SP 800-63B (2017) 5.1.1.2: "at least 8 characters").
MIN_PASSWORD = 8
_COMMON = frozenset(
    {"password", "password1", "12345678", "123456789", "1234567890", "qwertyui", "qwerty123"}
)
_HASHER = PasswordHasher()  # argon2id with argon2-cffi's RFC 9106 low-memory defaults
#: Verified against an unknown username so that it takes as long as a known one.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


class LoginLimited(Exception):
    """Too many failed logins for this username from this client."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


def check_password(password: str, *, username: str = "", field: str = "password") -> None:
    """Refuse an empty, short or common password, or one equal to the username.

    Raises
    ------
    InputError
        Naming the rule broken (the password itself is never echoed).
    """
    why = ""
    if not password:
        why = "the password is empty"
    elif len(password) < MIN_PASSWORD:
        why = f"the password has {len(password)} characters"
    elif password.lower() in _COMMON or len(set(password)) < 3:
        why = "the password is too easy to guess"
    elif username and password.lower() == username.lower():
        why = "the password equals the username"
    if why:
        raise InputError(
            Problem(
                field,
                "(hidden)",
                f">= {MIN_PASSWORD} characters, not the username, not a common password",
                "NIST SP 800-63B (2017) 5.1.1.2",
                why,
            )
        )


def hash_password(password: str) -> str:
    """Return the argon2id hash of a password (salted, self-describing PHC string)."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Return whether ``password`` matches the argon2 hash ``stored_hash``."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_token(token: str) -> str:
    """Return the SHA-256 (hex) under which a session token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(secret_key: str, binding: str) -> str:
    """Return the CSRF token of a session (or pre-login cookie): HMAC-SHA256 of ``binding``."""
    return hmac.new(secret_key.encode(), f"csrf:{binding}".encode(), hashlib.sha256).hexdigest()


def _window_start(settings: ClinicSettings) -> datetime:
    return utcnow() - timedelta(seconds=settings.login_window_s)


def authenticate(
    db: Session, settings: ClinicSettings, username: str, password: str, client: str
) -> User | None:
    """Check a login; count a failure, or clear the failures on success.

    Parameters
    ----------
    db : Session
        Open session (the failure row commits with it).
    settings : ClinicSettings
        For the rate limit.
    username, password : str
        As typed.
    client : str
        The client's address.

    Returns
    -------
    User or None
        The user, or None for a wrong username or password (the same answer for both).

    Raises
    ------
    LoginLimited
        When this username has failed too often from this client within the window.
    """
    name = username.strip()[:64]
    client = client[:64]
    since = _window_start(settings)
    where = (LoginFailure.username == name, LoginFailure.client == client, LoginFailure.ts > since)
    failures = db.execute(select(func.count(), func.min(LoginFailure.ts)).where(*where)).one()
    if failures[0] >= settings.login_max_failures:
        wait = (failures[1] - since).total_seconds()
        raise LoginLimited(max(1, int(wait) + 1))
    user = db.execute(select(User).where(User.username == name)).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if not (ok and user is not None and user.active):
        db.add(LoginFailure(username=name, client=client, ts=utcnow()))
        return None
    db.execute(
        delete(LoginFailure).where(LoginFailure.username == name, LoginFailure.client == client)
    )
    return user


def start_session(db: Session, settings: ClinicSettings, user: User) -> str:
    """Create a session for ``user`` and return its token (for the cookie; stored hashed)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.add(
        UserSession(
            token_hash=hash_token(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.session_ttl_s),
        )
    )
    return token


def session_user(db: Session, token: str) -> tuple[User, str] | None:
    """Return the user of a live session token and the token's hash, or None.

    An expired session is deleted and answers None.
    """
    if not token or len(token) > 200:
        return None
    digest = hash_token(token)
    row = db.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == digest)
    ).first()
    if row is None:
        return None
    sess, user = row
    if sess.expires_at <= utcnow() or not user.active:
        db.delete(sess)
        return None
    return user, digest


def end_session(db: Session, token_hash: str) -> None:
    """Revoke a session (its row is deleted; the cookie no longer logs anyone in)."""
    db.execute(delete(UserSession).where(UserSession.token_hash == token_hash))
