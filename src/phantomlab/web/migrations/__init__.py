"""Alembic migrations of the clinic store (run by ``phantomlab.web.db.upgrade``)."""
