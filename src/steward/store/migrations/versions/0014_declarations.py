"""registry: declarations awaiting a data steward's approval; audit: read marks

Revision ID: 0014_declarations
Revises: 0013_monitoring
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_declarations"
down_revision = "0013_monitoring"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_declarations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "model_version_id", sa.Integer(), sa.ForeignKey("model_versions.id"), nullable=False
        ),
        sa.Column("jurisdiction", sa.String(8), nullable=False),
        sa.Column("anonymised", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_index(
        "ix_model_declarations_model_version_id", "model_declarations", ["model_version_id"]
    )
    op.create_table(
        "audit_read_marks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(128), nullable=False),
        sa.Column("resource", sa.String(512), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("actor", "action", "resource", name="uq_audit_read_marks"),
    )


def downgrade() -> None:
    op.drop_table("audit_read_marks")
    op.drop_index("ix_model_declarations_model_version_id", "model_declarations")
    op.drop_table("model_declarations")
