"""Optional dependencies: one place that imports them and names the missing extra.

The core install (protocols, fields' analytic models, mechanisms, therapies, evidence,
cohorts, trials, optimize) needs none of the packages below. Each group is a
``pyproject.toml`` extra; code that needs one imports it through :func:`require`,
inside the function that uses it, so that a missing package surfaces as one clear
:class:`~phantomlab.exceptions.MissingExtraError` naming the extra to install::

    gmsh = require("gmsh", extra="fem")
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from phantomlab.exceptions import MissingExtraError

__all__ = ["EXTRAS", "require"]

#: Extra name -> top-level modules it provides (import names, not distribution names).
EXTRAS: dict[str, tuple[str, ...]] = {
    "fem": ("skfem", "gmsh", "pyamg"),
    # the realistic template head (phantomlab.fields.head): fem + MNE's fsaverage + export
    "head": ("skfem", "gmsh", "pyamg", "mne", "nilearn", "meshio", "nibabel"),
    "scale": ("dask", "distributed", "pyarrow"),
    "bci": ("mne", "pyriemann"),
    # SQLAlchemy imports the driver itself for postgresql+psycopg:// URLs
    "pg": ("psycopg",),
    "uq": ("pyabc", "SALib"),
    # the clinic service: phantomlab.web is the feature; phantomlab.cli.clinic calls
    # require("fastapi", extra="web") before it imports phantomlab.web
    "web": ("fastapi", "uvicorn", "argon2", "multipart", "alembic"),
}


def require(module: str, *, extra: str, feature: str | None = None) -> ModuleType:
    """Import ``module`` or raise an error naming the extra that provides it.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"gmsh"`` or ``"mne.decoding"``.
    extra : str
        The ``pyproject.toml`` extra that installs it (a key of :data:`EXTRAS`).
    feature : str, optional
        What needs it, for the message (default: the calling module's name).

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MissingExtraError
        If the module (or a package it needs) is not installed.
    ValueError
        If ``extra`` is not a known extra or does not provide ``module`` (a
        programming error, not a user one).
    """
    top = module.split(".")[0]
    if top not in EXTRAS.get(extra, ()):
        raise ValueError(f"extra {extra!r} does not provide {module!r}; see EXTRAS")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if feature is None:
            feature = str(sys._getframe(1).f_globals.get("__name__", "phantomlab"))
        raise MissingExtraError(feature, extra, exc.name or module) from exc
