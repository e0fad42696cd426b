"""per-quarter sums of closed intervals' time, per-minute sums of ended waits, live totals

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:20:00

Adds three projections (store/tables.py: time_quarters, wait_minutes, live_totals); 0004 fills them
from the rows already stored. Old workers do not keep them: stop ingest and configuration writes
while this runs and until every worker runs the new release, or run `chatpulse rebuild` for every
site afterwards (docs/operations.md, Upgrades).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wait_minutes",
        sa.Column("site_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("minute", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("route_department_key", sa.String(length=36), nullable=False),
        sa.Column("route_agent_key", sa.String(length=36), nullable=False),
        sa.Column("waits", sa.BigInteger(), nullable=False),
        sa.Column("wait_total", sa.BigInteger(), nullable=False),
        sa.Column("abandoned", sa.BigInteger(), nullable=False),
        sa.Column("switched", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "site_id",
            "minute",
            "route_department_key",
            "route_agent_key",
            name=op.f("pk_wait_minutes"),
        ),
    )
    op.create_table(
        "time_quarters",
        sa.Column("site_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("status_key", sa.String(length=36), nullable=False),
        sa.Column("quarter", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("micros", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "site_id", "kind", "status_key", "quarter", name=op.f("pk_time_quarters")
        ),
    )
    op.create_table(
        "live_totals",
        sa.Column("site_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("department_key", sa.String(length=36), nullable=False),
        sa.Column("logged_in", sa.BigInteger(), nullable=False),
        sa.Column("in_chat", sa.BigInteger(), nullable=False),
        sa.Column("online_chats", sa.BigInteger(), nullable=False),
        sa.Column("online_capacity", sa.BigInteger(), nullable=False),
        sa.Column("bot_chats", sa.BigInteger(), nullable=False),
        sa.Column("waiting_chats", sa.BigInteger(), nullable=False),
        sa.Column("ongoing_chats", sa.BigInteger(), nullable=False),
        sa.Column("visitors_on_site", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "department_key", name=op.f("pk_live_totals")),
    )
    # An agent's intervals: covering indexes, so that SQLite sums a department's agents from
    # the index rather than scanning the day's intervals of every agent.
    op.drop_index("ix_status_intervals_site_id_agent_id_ended_at", table_name="status_intervals")
    op.create_index(
        "ix_status_intervals_by_agent",
        "status_intervals",
        ["site_id", "agent_id", "ended_at", "started_at", "status_id"],
    )
    op.drop_index("ix_busy_intervals_site_id_agent_id_ended_at", table_name="busy_intervals")
    op.create_index(
        "ix_busy_intervals_by_agent",
        "busy_intervals",
        ["site_id", "agent_id", "ended_at", "started_at"],
    )
    op.create_index(  # an agent's departments (live totals join them per agent)
        "ix_agent_departments_by_agent",
        "agent_departments",
        ["site_id", "agent_id", "department_id"],
    )
    # The sums of the sites already stored are computed by 0004, against the whole schema the
    # code that computes them writes (it computes every sum that 0004 adds too).


def downgrade() -> None:
    op.drop_index("ix_agent_departments_by_agent", "agent_departments")
    op.drop_index("ix_busy_intervals_by_agent", "busy_intervals")
    op.create_index(
        "ix_busy_intervals_site_id_agent_id_ended_at",
        "busy_intervals",
        ["site_id", "agent_id", "ended_at"],
    )
    op.drop_index(
        "ix_status_intervals_by_agent", "status_intervals"
    )
    op.create_index(
        "ix_status_intervals_site_id_agent_id_ended_at",
        "status_intervals",
        ["site_id", "agent_id", "ended_at"],
    )
    op.drop_table("live_totals")
    op.drop_table("time_quarters")
    op.drop_table("wait_minutes")
