"""the last sequence that changed each department's views

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 09:10:00

Adds `department_versions` and `sites.departments_upto` (store/tables.py). Only adds: the
previous release keeps working against it. While its workers still ingest, `departments_upto`
falls behind `last_sequence`, and department views are keyed by the site's last sequence as
before; the first batch a new worker stores after that marks every department changed and the
record is whole again. Nothing to backfill.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "department_versions",
        sa.Column("site_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("department_key", sa.String(length=36), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "department_key", name=op.f("pk_department_versions")),
    )
    with op.batch_alter_table("sites") as batch:
        batch.add_column(
            sa.Column("departments_upto", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("departments_upto")
    op.drop_table("department_versions")
