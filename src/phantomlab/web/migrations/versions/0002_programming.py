"""Programming sessions: the optimizer's tables in the clinic store, and their centers.

The four ``optimize_*`` tables are those of :mod:`phantomlab.optimize.storage` (same
names, columns and constraints, so ``SessionStore`` works on this store's URL too);
``programming_sessions`` ties each optimizer session to a center and a patient code
unique at that center. Every table is append-only.

Revision ID: 0002_programming
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from phantomlab.web.migrations.append_only import append_only, drop_append_only

revision = "0002_programming"
down_revision = "0001_core"
branch_labels = None
depends_on = None

TABLES = (
    "optimize_sessions",
    "optimize_suggestions",
    "optimize_observations",
    "optimize_corrections",
    "programming_sessions",
)


def upgrade() -> None:
    """Create the optimizer tables and ``programming_sessions``, all append-only."""
    op.create_table(
        "optimize_sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("patient", sa.String(200), nullable=False, unique=True),
        sa.Column("modality", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
    )
    op.create_table(
        "optimize_suggestions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("optimize_sessions.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("info", sa.Text, nullable=False),
        sa.UniqueConstraint("session_id", "seq", name="uq_suggestion_seq"),
    )
    op.create_table(
        "optimize_observations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("optimize_sessions.id"), nullable=False),
        sa.Column(
            "suggestion_id",
            sa.Integer,
            sa.ForeignKey("optimize_suggestions.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("nrs", sa.Float, nullable=False),
        sa.Column("side_effect", sa.Float, nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("delivered", sa.Text, nullable=True),
    )
    op.create_table(
        "optimize_corrections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("optimize_sessions.id"), nullable=False),
        sa.Column(
            "observation_id",
            sa.Integer,
            sa.ForeignKey("optimize_observations.id"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column(
            "corrects_id", sa.Integer, sa.ForeignKey("optimize_corrections.id"), nullable=True
        ),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("nrs", sa.Float, nullable=False),
        sa.Column("side_effect", sa.Float, nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("delivered", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.UniqueConstraint("observation_id", "seq", name="uq_correction_seq"),
    )
    op.create_table(
        "programming_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "center_id",
            sa.Integer,
            sa.ForeignKey("centers.id", name="fk_programming_sessions_center_id_centers"),
            nullable=False,
        ),
        sa.Column("patient", sa.String(64), nullable=False),
        sa.Column(
            "optimize_session_id",
            sa.Integer,
            sa.ForeignKey(
                "optimize_sessions.id",
                name="fk_programming_sessions_optimize_session_id_optimize_sessions",
            ),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("center_id", "patient", name="uq_programming_sessions_center_id"),
        sa.UniqueConstraint(
            "optimize_session_id", name="uq_programming_sessions_optimize_session_id"
        ),
    )
    for table in TABLES:
        append_only(table)


def downgrade() -> None:
    """Drop the tables (and their triggers) in reverse order."""
    for table in reversed(TABLES):
        drop_append_only(table)
        op.drop_table(table)
