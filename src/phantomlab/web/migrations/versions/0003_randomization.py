"""Trial randomization tables: trials, sites, allocation slots, participants, unblindings, visits.

Revision ID: 0003_randomization
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from phantomlab.web.migrations.append_only import append_only, drop_append_only

revision = "0003_randomization"
down_revision = "0001_core"
branch_labels = None
depends_on = None

#: Every table of the revision; all append-only (a correction is a newer row).
TABLES = (
    "rand_trials",
    "rand_sites",
    "rand_slots",
    "rand_participants",
    "rand_unblindings",
    "rand_visits",
)


def _fk(table: str, column: str, ref: str) -> sa.Column:
    return sa.Column(
        column,
        sa.Integer,
        sa.ForeignKey(f"{ref}.id", name=f"fk_{table}_{column}_{ref}"),
        nullable=False,
    )


def upgrade() -> None:
    """Create the tables and the triggers that refuse UPDATE and DELETE on them."""
    op.create_table(
        "rand_trials",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("design_json", sa.Text, nullable=False),
        sa.Column("design_sha256", sa.String(64), nullable=False),
        sa.Column("inclusion_json", sa.Text, nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("list_sha256", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "rand_sites",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("rand_sites", "trial_id", "rand_trials"),
        _fk("rand_sites", "center_id", "centers"),
        sa.Column("design_center", sa.String(40), nullable=False),
        sa.UniqueConstraint("trial_id", "center_id", name="uq_rand_sites_trial_id"),
        sa.UniqueConstraint("trial_id", "design_center", name="uq_rand_sites_design_center"),
    )
    op.create_index("ix_rand_sites_trial_id", "rand_sites", ["trial_id"])
    op.create_table(
        "rand_slots",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("rand_slots", "trial_id", "rand_trials"),
        sa.Column("stratum", sa.String(400), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("allocation", sa.String(200), nullable=False),
        sa.UniqueConstraint("trial_id", "stratum", "seq", name="uq_rand_slots_trial_id"),
    )
    op.create_index("ix_rand_slots_trial_id", "rand_slots", ["trial_id"])
    op.create_table(
        "rand_participants",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("rand_participants", "trial_id", "rand_trials"),
        _fk("rand_participants", "center_id", "centers"),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("stratum", sa.String(400), nullable=False),
        sa.Column("entered_json", sa.Text, nullable=False),
        sa.Column(
            "slot_id",
            sa.Integer,
            sa.ForeignKey("rand_slots.id", name="fk_rand_participants_slot_id_rand_slots"),
            nullable=True,
        ),
        sa.Column("allocation", sa.String(200), nullable=False),
        sa.Column("enrolled_by", sa.String(64), nullable=False),
        sa.Column("enrolled_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("trial_id", "seq", name="uq_rand_participants_trial_id"),
        sa.UniqueConstraint("slot_id", name="uq_rand_participants_slot_id"),
    )
    op.create_index("ix_rand_participants_trial_id", "rand_participants", ["trial_id"])
    op.create_index("ix_rand_participants_center_id", "rand_participants", ["center_id"])
    op.create_table(
        "rand_unblindings",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("rand_unblindings", "participant_id", "rand_participants"),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("ts", sa.DateTime, nullable=False),
    )
    op.create_index("ix_rand_unblindings_participant_id", "rand_unblindings", ["participant_id"])
    op.create_table(
        "rand_visits",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("rand_visits", "participant_id", "rand_participants"),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("entered_by", sa.String(64), nullable=False),
        sa.Column("entered_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_rand_visits_participant_id", "rand_visits", ["participant_id"])
    for table in TABLES:
        append_only(table)


def downgrade() -> None:
    """Drop the tables (newest first)."""
    for table in reversed(TABLES):
        drop_append_only(table)
        op.drop_table(table)
