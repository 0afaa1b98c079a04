"""cost: metered cost records; alerts of a team (budgets, cost anomalies)

Revision ID: 0009_cost
Revises: 0008_monitoring
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_cost"
down_revision = "0008_monitoring"
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cost_records",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("team", sa.String(128), nullable=False),
        sa.Column("site", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("resource", sa.String(16), nullable=False),
        sa.Column("units", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("unit_price", sa.Float(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("ref", sa.String(200), nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=True),
        sa.Column("model", sa.String(160), nullable=True),
        sa.Column("requested", sa.Float(), nullable=True),
        sa.Column("used", sa.Float(), nullable=True),
        sa.Column("hours", sa.Float(), nullable=True),
        sa.Column("dest", sa.String(128), nullable=True),
        sa.Column("dedupe", sa.String(200), nullable=True),
        sa.UniqueConstraint("dedupe", name="uq_cost_records_dedupe"),
    )
    op.create_index("ix_cost_records_team_day", "cost_records", ["team", "day"])
    op.create_index("ix_cost_records_day", "cost_records", ["day"])
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("team", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("team")
    op.drop_index("ix_cost_records_day", "cost_records")
    op.drop_index("ix_cost_records_team_day", "cost_records")
    op.drop_table("cost_records")
