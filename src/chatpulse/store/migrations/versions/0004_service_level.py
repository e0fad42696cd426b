"""service level: thresholds, the first wait's department, the sums of METRICS.md §7, missed
offers

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 22:00:00

Adds the site's `service_level_seconds` (T, default 30) and `short_abandon_seconds` (S, default
0), the departments' overrides (null: the site's; also written into their documents as null),
`chats.first_wait_department_id` (the first wait's route department when it ended, backfilled
from its wait row), the service-level sums of `cohort_minutes` and `wait_minutes`,
`cohort_quarters` (the cohort sums per quarter hour, from the minutes) and `missed_offers`
(backfilled from the log's `chat.missed` events). Then every stored site's sums
are computed from its rows with the code that keeps them (rollups, live totals: the sums that
0002 added too). Only adds: the previous release keeps working against it, but the sums it
writes meanwhile lack the new columns' share (`chatpulse rebuild` makes them whole).
"""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# The summed columns of cohort_minutes at this revision (domain/cohort.COHORT_FIELDS).
SUMMED = (
    "total",
    "requests",
    "accepted",
    "abandoned",
    "switched",
    "missed",
    "unique",
    "waits",
    "wait_total",
    "ended",
    "chat_total",
    "rated",
    "score_total",
    "transferred",
    "department_transferred",
    "responses",
    "response_total",
    "in_time",
    "counted",
    "answer_total",
)


def _zero(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(
            sa.Column("service_level_seconds", sa.Integer(), nullable=False, server_default="30")
        )
        batch.add_column(
            sa.Column("short_abandon_seconds", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("departments") as batch:
        batch.add_column(sa.Column("service_level_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("short_abandon_seconds", sa.Integer(), nullable=True))
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("first_wait_department_id", sa.String(36), nullable=True))
    with op.batch_alter_table("cohort_minutes") as batch:
        for name in ("in_time", "counted", "answer_total", "longest_wait"):
            batch.add_column(_zero(name))
    with op.batch_alter_table("wait_minutes") as batch:
        for name in ("in_time", "counted"):
            batch.add_column(_zero(name))
    op.create_table(
        "missed_offers",
        sa.Column("site_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("agent_id", sa.String(36), nullable=False),
        sa.Column("chat_id", sa.String(36), nullable=False),
        sa.Column("missed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "event_id", name=op.f("pk_missed_offers")),
    )
    op.create_index(
        "ix_missed_offers_site_id_missed_at_agent_id",
        "missed_offers",
        ["site_id", "missed_at", "agent_id"],
    )
    op.create_index("ix_missed_offers_site_id_chat_id", "missed_offers", ["site_id", "chat_id"])
    op.create_table(
        "cohort_quarters",
        sa.Column("site_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("department_key", sa.String(36), nullable=False),
        sa.Column("quarter", sa.BigInteger(), autoincrement=False, nullable=False),
        *[sa.Column(name, sa.BigInteger(), nullable=False) for name in SUMMED],
        sa.Column("longest_wait", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "site_id", "department_key", "quarter", name=op.f("pk_cohort_quarters")
        ),
    )

    conn = op.get_bind()
    for site_id, department_id, doc in conn.execute(
        sa.text("SELECT site_id, id, doc FROM departments")
    ).all():
        fields = orjson.loads(doc)
        fields.setdefault("serviceLevelSeconds", None)
        fields.setdefault("shortAbandonSeconds", None)
        conn.execute(
            sa.text("UPDATE departments SET doc = :doc WHERE site_id = :site AND id = :id"),
            {"doc": orjson.dumps(fields).decode(), "site": site_id, "id": department_id},
        )
    conn.execute(
        sa.text(
            "UPDATE chats SET first_wait_department_id = (SELECT w.route_department_id"
            " FROM waits w WHERE w.site_id = chats.site_id AND w.chat_id = chats.chat_id"
            " AND w.wait_no = 1) WHERE first_wait_ended_at IS NOT NULL"
        )
    )
    missed = conn.execute(
        sa.text("SELECT site_id, id, occurred_at, data FROM events WHERE type = 'chat.missed'")
    ).all()
    if missed:
        rows = []
        for site_id, event_id, at, data in missed:
            fields = orjson.loads(data)
            rows.append(
                {
                    "site_id": site_id,
                    "event_id": event_id,
                    "agent_id": fields["agentId"],
                    "chat_id": fields["chatId"],
                    "missed_at": at,
                }
            )
        conn.execute(
            sa.text(
                "INSERT INTO missed_offers (site_id, event_id, agent_id, chat_id, missed_at)"
                " VALUES (:site_id, :event_id, :agent_id, :chat_id, :missed_at)"
            ),
            rows,
        )

    from chatpulse.store import config, live_totals, rollups

    for (site_id,) in conn.execute(sa.text("SELECT id FROM sites ORDER BY id")).all():
        thresholds = config.thresholds(conn, int(site_id))
        rollups.recompute(conn, int(site_id), thresholds)
        rollups.recompute_service_level(conn, int(site_id), thresholds)
        live_totals.recompute(conn, int(site_id))
    names = ", ".join(f'"{name}"' for name in SUMMED)  # quoted: "unique" is a keyword
    sums = ", ".join(f'SUM("{name}")' for name in SUMMED)
    conn.execute(
        sa.text(
            f"INSERT INTO cohort_quarters (site_id, department_key, quarter, {names},"
            f" longest_wait) SELECT site_id, department_key, minute / 15, {sums},"
            " MAX(longest_wait) FROM cohort_minutes GROUP BY site_id, department_key, minute / 15"
        )
    )


def downgrade() -> None:
    op.drop_table("cohort_quarters")
    op.drop_index("ix_missed_offers_site_id_chat_id", "missed_offers")
    op.drop_index("ix_missed_offers_site_id_missed_at_agent_id", "missed_offers")
    op.drop_table("missed_offers")
    with op.batch_alter_table("wait_minutes") as batch:
        for name in ("in_time", "counted"):
            batch.drop_column(name)
    with op.batch_alter_table("cohort_minutes") as batch:
        for name in ("in_time", "counted", "answer_total", "longest_wait"):
            batch.drop_column(name)
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("first_wait_department_id")
    with op.batch_alter_table("departments") as batch:
        batch.drop_column("short_abandon_seconds")
        batch.drop_column("service_level_seconds")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("short_abandon_seconds")
        batch.drop_column("service_level_seconds")
