"""connectors: webhook endpoints of chat platforms, and what they dropped

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 01:00:00

Adds `connectors` and `connector_drops` (store/tables.py). Only adds: the previous release keeps
working against it (it serves no connector endpoint). Nothing to backfill.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connectors",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url_secret_hash", sa.String(length=64), nullable=False),
        sa.Column("signing_secret", sa.String(length=400), nullable=True),
        sa.Column("api_url", sa.String(length=400), nullable=True),
        sa.Column("api_token", sa.String(length=400), nullable=True),
        sa.Column("account_id", sa.String(length=100), nullable=True),
        sa.Column("poll_seconds", sa.Integer(), nullable=False),
        sa.Column("reorder_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", sa.BigInteger(), nullable=True),
        sa.Column("poll_lease_until", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("last_poll_at", sa.BigInteger(), nullable=True),
        sa.Column("last_poll_error", sa.String(length=400), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connectors")),
    )
    op.create_index(op.f("ix_connectors_site_id"), "connectors", ["site_id"])
    op.create_table(
        "connector_drops",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.String(length=36), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=True),
        sa.Column("delivery_id", sa.String(length=200), nullable=True),
        sa.Column("fact_key", sa.String(length=400), nullable=True),
        sa.Column("type", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_drops")),
    )
    op.create_index(
        op.f("ix_connector_drops_site_id_connector_id_id"),
        "connector_drops",
        ["site_id", "connector_id", "id"],
    )


def downgrade() -> None:
    op.drop_table("connector_drops")
    op.drop_table("connectors")
