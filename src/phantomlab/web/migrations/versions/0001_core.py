"""Core tables: centers, users, memberships, sessions, login failures, audit events.

Revision ID: 0001_core
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from phantomlab.web.migrations.append_only import append_only, drop_append_only

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

#: Tables whose rows are never changed or removed (corrections are new rows or events).
APPEND_ONLY = ("centers", "memberships", "audit_events")


def upgrade() -> None:
    """Create the core tables and the triggers that refuse UPDATE/DELETE on append-only ones."""
    op.create_table(
        "centers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.UniqueConstraint("code", name="uq_centers_code"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", name="fk_memberships_user_id_users"),
            nullable=False,
        ),
        sa.Column(
            "center_id",
            sa.Integer,
            sa.ForeignKey("centers.id", name="fk_memberships_center_id_centers"),
            nullable=True,
        ),
        sa.Column("role", sa.String(32), nullable=False),
        sa.UniqueConstraint("user_id", "center_id", "role", name="uq_memberships_user_id"),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", name="fk_sessions_user_id_users"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("token_hash", name="uq_sessions_token_hash"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("ts", sa.DateTime, nullable=False),
    )
    op.create_index("ix_login_failures_username", "login_failures", ["username"])
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column(
            "center_id",
            sa.Integer,
            sa.ForeignKey("centers.id", name="fk_audit_events_center_id_centers"),
            nullable=True,
        ),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("before", sa.Text, nullable=False),
        sa.Column("after", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("hash", name="uq_audit_events_hash"),
    )
    op.create_index("ix_audit_events_center_id", "audit_events", ["center_id"])
    for table in APPEND_ONLY:
        append_only(table)


def downgrade() -> None:
    """Drop the core tables."""
    for table in APPEND_ONLY:
        drop_append_only(table)
    for table in ("audit_events", "login_failures", "sessions", "memberships", "users", "centers"):
        op.drop_table(table)
