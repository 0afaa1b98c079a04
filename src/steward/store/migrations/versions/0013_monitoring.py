"""monitoring: alert occurrences with their evidence; rollback flap guard

Revision ID: 0013_monitoring
Revises: 0012_datasets
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_monitoring"
down_revision = "0012_datasets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_occurrences",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("alert_id", "number", name="uq_alert_occurrences"),
    )
    # an alert from before keeps the one evidence it has: its last occurrence's
    op.execute(
        "INSERT INTO alert_occurrences (alert_id, number, message, evidence, actions, "
        "observed_at) SELECT id, count, message, evidence, '[]', updated_at FROM alerts"
    )
    op.create_table(
        "endpoint_rollbacks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("endpoint_id", sa.Integer(), sa.ForeignKey("endpoints.id"), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_endpoint_rollbacks_endpoint", "endpoint_rollbacks", ["endpoint_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_endpoint_rollbacks_endpoint", table_name="endpoint_rollbacks")
    op.drop_table("endpoint_rollbacks")
    op.drop_table("alert_occurrences")
