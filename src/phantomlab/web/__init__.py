"""PhantomLab Clinic: the multi-center web service (``phantomlab serve``).

A leaf layer: it calls the public API of the science packages and adds users, centers,
roles, an audit trail and server-rendered pages. Needs the ``web`` extra.
"""

from __future__ import annotations

from phantomlab.web.app import create_app

__all__ = ["create_app"]
