"""The ``phantomlab`` command: a thin layer over the public API (one module per domain)."""

from phantomlab.cli.main import app, main

__all__ = ["app", "main"]
