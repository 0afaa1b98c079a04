"""prediction log: scored rows and their ground-truth feedback

Revision ID: 0007_prediction_log
Revises: 0006_token_scope
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_prediction_log"
down_revision = "0006_token_scope"
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(160), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("outputs", sa.Text(), nullable=False),
        sa.UniqueConstraint("endpoint", "request_id", "row", "role", name="uq_predictions"),
    )
    op.create_index("ix_predictions_endpoint_at", "predictions", ["endpoint", "at"])
    op.create_table(
        "prediction_feedback",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        sa.UniqueConstraint("endpoint", "request_id", "row", name="uq_prediction_feedback"),
    )


def downgrade() -> None:
    op.drop_table("prediction_feedback")
    op.drop_index("ix_predictions_endpoint_at", table_name="predictions")
    op.drop_table("predictions")
