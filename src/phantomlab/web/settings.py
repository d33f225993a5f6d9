"""Settings of the clinic service: database URL, secret, session lifetime, login limits.

Read from the environment by :meth:`ClinicSettings.from_env`:

* ``PHANTOMLAB_CLINIC_DB``: a SQLAlchemy URL (``sqlite:///clinic.sqlite`` or
  ``postgresql+psycopg://user@host/db``); default a SQLite file in ``user_data_dir()``.
* ``PHANTOMLAB_CLINIC_SECRET``: the key that signs CSRF tokens; default a random secret
  stored (mode 0600) in ``clinic.secret`` next to the SQLite file, or in ``user_data_dir()``.
* ``PHANTOMLAB_CLINIC_COOKIE_SECURE=1``: session cookies only over HTTPS (set it behind a
  TLS reverse proxy).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from phantomlab._io import user_data_dir

__all__ = ["DB_ENV", "SECRET_ENV", "ClinicSettings", "default_db_url"]

DB_ENV = "PHANTOMLAB_CLINIC_DB"
SECRET_ENV = "PHANTOMLAB_CLINIC_SECRET"
SECURE_ENV = "PHANTOMLAB_CLINIC_COOKIE_SECURE"


def default_db_url() -> str:
    """Return the default store: ``clinic.sqlite`` in the user data folder."""
    return f"sqlite:///{user_data_dir(create=True) / 'clinic.sqlite'}"


def _secret_file(db_url: str) -> Path:
    if db_url.startswith("sqlite:///") and len(db_url) > len("sqlite:///"):
        return Path(db_url.removeprefix("sqlite:///")).expanduser().parent / "clinic.secret"
    return user_data_dir(create=True) / "clinic.secret"


def stored_secret(db_url: str) -> str:
    """Return the secret stored next to the database, creating it (mode 0600) if missing.

    Parameters
    ----------
    db_url : str
        The store's URL (the secret lies next to a SQLite file, else in the data folder).

    Returns
    -------
    str
        The secret.
    """
    path = _secret_file(db_url)
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


@dataclass(frozen=True)
class ClinicSettings:
    """Configuration of one clinic service.

    Parameters
    ----------
    db_url : str
        SQLAlchemy URL of the store.
    secret_key : str
        Key that signs CSRF tokens (keep it secret; rotate it to invalidate forms).
    session_ttl_s : float
        Lifetime of a login session in seconds (default 8 h, one clinic shift).
    cookie_secure : bool
        Send the session cookie only over HTTPS.
    login_max_failures : int
        Failed logins per username and client address before further tries are refused.
    login_window_s : float
        The window in which failures are counted, in seconds.
    """

    db_url: str
    secret_key: str
    session_ttl_s: float = 8 * 3600.0
    cookie_secure: bool = False
    login_max_failures: int = 5
    login_window_s: float = 300.0

    @classmethod
    def from_env(cls, db_url: str | None = None, **overrides: object) -> ClinicSettings:
        """Build settings from the environment (see the module documentation).

        Parameters
        ----------
        db_url : str, optional
            The store's URL; default ``$PHANTOMLAB_CLINIC_DB`` or :func:`default_db_url`.
        **overrides
            Other fields of :class:`ClinicSettings`.

        Returns
        -------
        ClinicSettings
            The settings.
        """
        url = db_url or os.environ.get(DB_ENV, "").strip() or default_db_url()
        secret = os.environ.get(SECRET_ENV, "").strip() or stored_secret(url)
        secure = os.environ.get(SECURE_ENV, "").strip().lower() in {"1", "true", "yes"}
        kwargs: dict[str, object] = {"cookie_secure": secure, **overrides}
        return cls(db_url=url, secret_key=secret, **kwargs)  # type: ignore[arg-type]
